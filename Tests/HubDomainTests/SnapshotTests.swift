import Foundation
import HubDomain
import Testing

/// A restart in the middle of an interval neither loses nor double-counts energy: splitting a
/// run at any sample with snapshot → JSON → restore gives records identical to an uninterrupted run.
@Suite struct SnapshotTests {
    static let model = HubModel(
        hubID: "park",
        participants: [participant("a", pv: true, battery: true, capacityWh: 5000), participant("b"), participant("c", pv: true)],
        sharedAssets: [
            SharedAsset(
                id: "hubbat", device: Device(id: "hub-bat", kind: .battery, usableCapacityWh: 20_000),
                ownership: [.init(participant: "a", share: 0.5), .init(participant: "b", share: 0.5)])
        ])

    /// The input stream: one step = samples of every device at one time, then `advance`.
    static func steps() -> [(at: UTCMilliseconds, samples: [DeviceSample])] {
        var meter = MeterSimulator(model: model)
        var result: [(UTCMilliseconds, [DeviceSample])] = []
        let devices: [DeviceID] = ["a-grid", "a-pv", "a-bat", "b-grid", "c-grid", "c-pv", "hub-bat"]
        for k in Int64(0)..<200 {  // 33 minutes in 10 s steps, starting 5 minutes into an interval
            let at = dayStart.plus(h: 11, m: 5, s: 10 * k)
            let x = Double(k)
            meter.setPower("a-pv", 4000 + 100 * (x.truncatingRemainder(dividingBy: 7)))
            meter.setPower("a-bat", k % 20 < 10 ? -1500 : 800)
            meter.setPower("a-grid", 1200 - meter.devices["a-pv"]!.power - meter.devices["a-bat"]!.power)
            meter.setPower("b-grid", 2500 + 30 * x)
            meter.setPower("c-pv", 1500)
            meter.setPower("c-grid", 700 - 1500)
            meter.setPower("hub-bat", k < 100 ? -1000 : 2000)
            if k == 80 { meter.resetMeter("b-grid") }
            var samples: [DeviceSample] = []
            for device in devices {
                let counters = !(device == "c-grid" && (40...60).contains(k))  // register read failures
                samples.append(meter.sample(device, at: at, counters: counters))
            }
            result.append((at, samples))
        }
        return result
    }

    static func run(
        _ steps: [(at: UTCMilliseconds, samples: [DeviceSample])], splitAfter split: Int?
    ) throws -> [IntervalRecord] {
        var ledger = try SettlementLedger(model: model, startingAt: steps[0].at)
        var records: [IntervalRecord] = []
        for (index, step) in steps.enumerated() {
            for sample in step.samples { ledger.ingest(sample) }
            records += ledger.advance(to: step.at)
            if index == split {
                let data = try JSONEncoder().encode(ledger.snapshot())
                let snapshot = try JSONDecoder().decode(LedgerSnapshot.self, from: data)
                ledger = try SettlementLedger(model: model, restoringFrom: snapshot)
            }
        }
        records += ledger.advance(to: steps.last!.at.plus(m: 20))
        return records
    }

    @Test func restoringAtAnySampleGivesIdenticalRecords() throws {
        let steps = Self.steps()
        let reference = try Self.run(steps, splitAfter: nil)
        #expect(reference.count == 3)
        #expect(reference[1].isComplete)
        #expect(reference[1].violations.isEmpty)
        #expect(reference[1].flags.contains(.counterReset(device: "b-grid", quantity: .gridImport)))
        for split in steps.indices {
            let restored = try Self.run(steps, splitAfter: split)
            #expect(restored == reference, "split after step \(split)")
        }
    }

    @Test func snapshotKeepsUndrainedRecordsAndOriginBook() throws {
        let steps = Self.steps()
        var ledger = try SettlementLedger(model: Self.model, startingAt: steps[0].at)
        // Up to 11:31:30: the sample at 11:30 lies beyond the next interval, so ingest itself
        // closes 11:00–11:15; its record waits in the ledger until the next advance.
        for step in steps.prefix(160) { for sample in step.samples { ledger.ingest(sample) } }
        let data = try JSONEncoder().encode(ledger.snapshot())
        var restored = try SettlementLedger(
            model: Self.model, restoringFrom: JSONDecoder().decode(LedgerSnapshot.self, from: data))
        #expect(restored.originBook == ledger.originBook)
        let fromRestored = restored.advance(to: steps[159].at)
        #expect(fromRestored.count == 2)
        #expect(fromRestored == ledger.advance(to: steps[159].at))
    }

    /// The agent saves the snapshot every 5 s device by device (less peak memory): the bytes are
    /// those of encoding it whole, with sorted keys as the agent's encoder writes them.
    @Test func deviceByDeviceEncodingGivesTheSameBytes() throws {
        let steps = Self.steps()
        var ledger = try SettlementLedger(model: Self.model, startingAt: steps[0].at)
        for step in steps.prefix(160) { for sample in step.samples { ledger.ingest(sample) } }
        let snapshot = ledger.snapshot()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func encode(_ value: any Encodable) throws -> [UInt8] { Array(try encoder.encode(value)) }
        let whole = try encode(snapshot)
        let pieces = try snapshot.encodedDeviceByDevice(encode)
        #expect(whole.count > 2000)
        #expect(pieces == whole)
        #expect(try JSONDecoder().decode(LedgerSnapshot.self, from: Data(pieces)) == snapshot)
        // Another layout (keys unsorted: `devices` is not first): encoded whole, still the same value.
        let unsorted = JSONEncoder()
        let fallback = try snapshot.encodedDeviceByDevice { Array(try unsorted.encode($0)) }
        #expect(try JSONDecoder().decode(LedgerSnapshot.self, from: Data(fallback)) == snapshot)
    }

    @Test func restoresIntoAModelWithANewParticipant() throws {
        let steps = Self.steps()
        var ledger = try SettlementLedger(model: Self.model, startingAt: steps[0].at)
        for step in steps.prefix(60) { for sample in step.samples { ledger.ingest(sample) } }
        var grown = Self.model
        grown.participants.append(participant("d", membership: Membership(joinedAt: dayStart.plus(h: 11, m: 30))))
        var restored = try SettlementLedger(model: grown, restoringFrom: ledger.snapshot())
        for step in steps.dropFirst(60) { for sample in step.samples { restored.ingest(sample) } }
        let records = restored.advance(to: dayStart.plus(h: 12))
        // d's meter sends nothing: from 11:30 its figures are missing, so the hub is incomplete.
        #expect(records.first { $0.interval.start == dayStart.plus(h: 11, m: 15) }?.isComplete == true)
        let withD = try #require(records.first { $0.interval.start == dayStart.plus(h: 11, m: 30) })
        #expect(withD.participant("d")?.importWh == .missing)
        #expect(!withD.isComplete)
    }
}

@Suite struct RecordCodingTests {
    @Test func recordsRoundTripThroughJSON() throws {
        var book = BatteryOriginBook()
        let record = IntervalSettlement.settle(
            hubID: "park", interval: SettlementInterval(containing: dayStart),
            key: .staticShares(shares: ["a": 0.6, "b": 0.4], remainder: .redistributed),
            participants: [.measured("a", importWh: 300, exportWh: 0), .measured("b", importWh: 0, exportWh: 200, pvWh: 400)],
            originBook: &book)
        let data = try JSONEncoder().encode(record)
        let text = try #require(String(data: data, encoding: .utf8))
        #expect(text.contains("\"id\":\"park:2026-03-01T00:00:00.000Z\""))
        #expect(text.contains("static-shares-redistributed\\/1") || text.contains("static-shares-redistributed/1"))
        #expect(try JSONDecoder().decode(IntervalRecord.self, from: data) == record)
    }
}
