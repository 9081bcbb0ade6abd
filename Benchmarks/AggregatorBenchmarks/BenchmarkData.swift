import Foundation
import HubAggregator
import HubContract
import HubDomain

/// Interval records of a hub with `companies` companies, as an agent publishes them: one day made by
/// the settlement ledger (every other company with 3 kW PV and a 2 kW load, the others drawing
/// 1.5 kW), moved to later intervals and other hubs, chained, serialized and checked by
/// ``IntervalIngest`` exactly as the aggregator receives them.
enum BenchmarkRecords {
    static let start = UTCMilliseconds(epochSeconds: 1_735_689_600) // 2025-01-01T00:00:00Z

    static func day(companies: Int) throws -> [IntervalRecord] {
        let participants = (0..<companies).map { index in
            var devices = [Device(id: DeviceID("c\(index)-grid"), kind: .gridMeter)]
            if index % 2 == 0 { devices.append(Device(id: DeviceID("c\(index)-pv"), kind: .pvInverter)) }
            return Participant(id: ParticipantID("company-\(index)"), devices: devices)
        }
        var ledger = try SettlementLedger(model: HubModel(hubID: "bench", participants: participants), startingAt: start)
        var importWh = [Double](repeating: 1000, count: companies), exportWh = importWh, pvWh = importWh
        var records: [IntervalRecord] = []
        var now = start
        let step: Int64 = 10_000
        while records.count < 96 {
            for index in 0..<companies {
                if index % 2 == 0 {
                    _ = ledger.ingest(DeviceSample(device: DeviceID("c\(index)-grid"), at: now, powerW: -1000,
                                                   counters: CounterValues(gridImportWh: importWh[index], gridExportWh: exportWh[index])))
                    _ = ledger.ingest(DeviceSample(device: DeviceID("c\(index)-pv"), at: now, powerW: 3000,
                                                   counters: CounterValues(pvProductionWh: pvWh[index])))
                    exportWh[index] += 1000.0 * Double(step) / 3_600_000
                    pvWh[index] += 3000.0 * Double(step) / 3_600_000
                } else {
                    _ = ledger.ingest(DeviceSample(device: DeviceID("c\(index)-grid"), at: now, powerW: 1500,
                                                   counters: CounterValues(gridImportWh: importWh[index], gridExportWh: exportWh[index])))
                    importWh[index] += 1500.0 * Double(step) / 3_600_000
                }
            }
            records += ledger.advance(to: now)
            now = now.adding(milliseconds: step)
        }
        return Array(records.prefix(96))
    }

    /// `count` accepted records of `hub` from `from`, chained from sequence 1.
    static func accepted(hub: String, count: Int, from: UTCMilliseconds, day: [IntervalRecord]) throws -> [AcceptedInterval] {
        let ingest = IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 256 << 10)
        var previous = IntervalMessage.genesisHash
        var result: [AcceptedInterval] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            var record = day[index % day.count]
            record.hubID = HubID(hub)
            record.interval = SettlementInterval(containing: from.adding(milliseconds: Int64(index) * UTCMilliseconds.quarterHourMs))
            record.id = record.interval.recordID(hub: record.hubID)
            let message = try IntervalMessage.make(record: record, sequence: Int64(index + 1), previousHash: previous,
                                                   kpiDefinitions: KPIDefinitions.version, agentVersion: "bench")
            previous = message.hash
            guard case .interval(let accepted) = ingest.classify(topic: "hubmeter/v1/\(hub)/interval", payload: message.payload,
                                                                 receivedAt: record.interval.end) else {
                throw BenchmarkFailure("record \(index) of \(hub) was not accepted")
            }
            result.append(accepted)
        }
        return result
    }
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Where datasets are kept between runs: `HUBMETER_BENCH_DATA`, or `.build/aggregator-bench` in
/// the directory the benchmarks run from (Benchmarks/, ignored by git).
enum BenchmarkPaths {
    static var directory: String {
        let path = ProcessInfo.processInfo.environment["HUBMETER_BENCH_DATA"]
            ?? FileManager.default.currentDirectoryPath + "/.build/aggregator-bench"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The repository's v1 schemas, as the aggregator loads them.
    static var schemas: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config/schemas/v1").path
    }
}
