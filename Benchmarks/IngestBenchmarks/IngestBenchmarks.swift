import Benchmark
import Foundation
import HubContract
import HubDomain

/// Real settlement records of a park with `count` companies (grid meter each, PV every second,
/// battery every third, a collective PV field and a hub battery), as the agent publishes them.
/// Mirrors `AggregatorFixtures.parkRecords` in the tests, which the benchmarks cannot import.
func parkMessage(participants count: Int) throws -> IntervalMessage {
    struct Site {
        var devices: [(id: DeviceID, kind: DeviceKind)]
        var loadW: Double
        var pvW: Double
        var batteryW: Double
    }
    var participants: [Participant] = []
    var sites: [Site] = []
    for index in 0..<count {
        let id = "company-\(index)"
        var devices: [(id: DeviceID, kind: DeviceKind)] = [(DeviceID(id + "-grid"), .gridMeter)]
        if index % 2 == 0 { devices.append((DeviceID(id + "-pv"), .pvInverter)) }
        if index % 3 == 0 { devices.append((DeviceID(id + "-bat"), .battery)) }
        participants.append(Participant(id: ParticipantID(id), devices: devices.map { Device(id: $0.id, kind: $0.kind) }))
        sites.append(Site(devices: devices, loadW: 1500 + 350 * Double(index % 7), pvW: index % 2 == 0 ? 4000 + 700 * Double(index % 5) : 0,
                          batteryW: index % 3 == 0 ? (index % 2 == 0 ? -600 : 400) : 0))
    }
    let owners = (0..<min(4, count)).map { OwnershipShare(participant: ParticipantID("company-\($0)"), share: 1 / Double(min(4, count))) }
    let model = HubModel(hubID: "park-b", participants: participants, sharedAssets: [
        SharedAsset(id: "field", device: Device(id: "field-pv", kind: .pvInverter), ownership: owners),
        SharedAsset(id: "hubbat", device: Device(id: "hub-bat", kind: .battery), ownership: owners),
    ])
    let start = UTCMilliseconds(epochSeconds: 1_772_323_200)
    var ledger = try SettlementLedger(model: model, startingAt: start)
    var counters: [DeviceID: [Double]] = [:]
    var now = start
    let step = 10.0
    while true {
        func sample(_ device: DeviceID, _ kind: DeviceKind, powerW: Double) {
            var values = counters[device] ?? [1000, 2000]
            let counterValues: CounterValues = switch kind {
            case .gridMeter: CounterValues(gridImportWh: values[0], gridExportWh: values[1])
            case .pvInverter: CounterValues(pvProductionWh: values[0])
            case .battery: CounterValues(batteryChargeWh: values[0], batteryDischargeWh: values[1])
            case .subMeter: CounterValues(subMeteredWh: values[0])
            }
            _ = ledger.ingest(DeviceSample(device: device, at: now, powerW: powerW, counters: counterValues))
            switch kind {
            case .gridMeter: values[0] += max(powerW, 0) * step / 3600; values[1] += max(-powerW, 0) * step / 3600
            case .pvInverter, .subMeter: values[0] += powerW * step / 3600
            case .battery: values[0] += max(-powerW, 0) * step / 3600; values[1] += max(powerW, 0) * step / 3600
            }
            counters[device] = values
        }
        let sun = 0.6 + 0.4 * sin(Double(now.milliseconds(since: start)) / 3_600_000)
        for site in sites {
            for device in site.devices {
                switch device.kind {
                case .gridMeter: sample(device.id, .gridMeter, powerW: site.loadW - site.pvW * sun - site.batteryW)
                case .pvInverter: sample(device.id, .pvInverter, powerW: site.pvW * sun)
                default: sample(device.id, device.kind, powerW: site.batteryW)
                }
            }
        }
        sample("field-pv", .pvInverter, powerW: 9000 * sun)
        sample("hub-bat", .battery, powerW: -1500)
        if let record = ledger.advance(to: now).first {
            return try IntervalMessage.make(record: record, sequence: 1, previousHash: IntervalMessage.genesisHash,
                                            kpiDefinitions: KPIDefinitions.version, agentVersion: "bench")
        }
        now = now.adding(milliseconds: Int64(step * 1000))
    }
}

/// The test fixture's record (`AggregatorFixtures.records`: two companies, no PV at alpha, no
/// batteries, no shared assets; 2.9 kB), the record docs/aggregator.md's first timings used.
func fixtureMessage() throws -> IntervalMessage {
    let start = UTCMilliseconds(epochSeconds: 1_772_323_200)
    let model = HubModel(hubID: "park-a", participants: [
        Participant(id: "alpha", devices: [Device(id: "alpha-grid", kind: .gridMeter)]),
        Participant(id: "beta", devices: [Device(id: "beta-grid", kind: .gridMeter), Device(id: "beta-pv", kind: .pvInverter)]),
    ])
    var ledger = try SettlementLedger(model: model, startingAt: start)
    var counters = (alphaImport: 1000.0, betaExport: 5000.0, betaPV: 200.0)
    var now = start
    while true {
        _ = ledger.ingest(DeviceSample(device: "alpha-grid", at: now, powerW: 2000,
                                       counters: CounterValues(gridImportWh: counters.alphaImport, gridExportWh: 0)))
        _ = ledger.ingest(DeviceSample(device: "beta-grid", at: now, powerW: -1000,
                                       counters: CounterValues(gridImportWh: 0, gridExportWh: counters.betaExport)))
        _ = ledger.ingest(DeviceSample(device: "beta-pv", at: now, powerW: 3000, counters: CounterValues(pvProductionWh: counters.betaPV)))
        if let record = ledger.advance(to: now).first {
            return try IntervalMessage.make(record: record, sequence: 1, previousHash: IntervalMessage.genesisHash,
                                            kpiDefinitions: KPIDefinitions.version, agentVersion: "test")
        }
        now = now.adding(milliseconds: 10_000)
        counters.alphaImport += 2000.0 * 10 / 3600
        counters.betaExport += 1000.0 * 10 / 3600
        counters.betaPV += 3000.0 * 10 / 3600
    }
}

/// The repository's v1 schemas, as the aggregator loads them.
let schemas = try! MessageSchemas.load(directory: URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/Config/schemas/v1")

/// What `IntervalIngest.classify` does with an interval payload after the topic checks: one
/// parse, schema validation, decoding from the same tape, hash over the record's bytes.
@inline(never)
func parseAndCheck(_ payload: [UInt8]) -> IntervalRecord {
    guard case .valid(let tape) = schemas.interval.validate(payload) else { fatalError("the benchmark message is invalid") }
    return try! IntervalMessage.parse(tape).1
}

/// The path this replaced, for comparison: `JSONDecoder` on the payload, canonical re-encode, hash.
struct FoundationEnvelope: Decodable {
    var schema: String, hub: String, sequence: Int64, previousHash: String, hash: String
    var kpiDefinitions: String, agentVersion: String, recordID: String
    var record: IntervalRecord
}

@inline(never)
func foundationParseAndCheck(_ payload: [UInt8]) -> IntervalRecord {
    let envelope = try! MessageEncoding.decoder().decode(FoundationEnvelope.self, from: Data(payload))
    let recordJSON = try! MessageEncoding.encode(envelope.record)
    let hash = IntervalMessage.chainHash(hub: envelope.hub, sequence: envelope.sequence, previousHash: envelope.previousHash, recordJSON: recordJSON)
    precondition(hash == envelope.hash)
    return envelope.record
}

let messages: [(name: String, payload: [UInt8])] = [2, 5, 20].map { count in
    let message = try! parkMessage(participants: count)
    return ("\(count) participants, \(message.payload.count) bytes", message.payload)
} + [("test fixture, \(try! fixtureMessage().payload.count) bytes", try! fixtureMessage().payload)]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(3)
    Benchmark.defaultConfiguration.maxIterations = 100_000
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, .cpuTotal]

    // The harness's own mallocs per sample with the same metrics, to subtract from the counts below.
    Benchmark("harness baseline (empty)", configuration: .init(metrics: metrics)) { _ in
        blackHole(0)
    }

    for (name, payload) in messages {
        Benchmark("parse and check one interval message (\(name))", configuration: .init(metrics: metrics)) { benchmark in
            blackHole(parseAndCheck(payload))
        }
        // Stages, to see where the time goes.
        Benchmark("stage: JSON tape (\(name))", configuration: .init(metrics: metrics)) { benchmark in
            blackHole(try! JSONTape(parsing: payload))
        }
        let tape = try! JSONTape(parsing: payload)
        Benchmark("stage: schema validation of the tape (\(name))", configuration: .init(metrics: metrics)) { benchmark in
            blackHole(schemas.interval.validate(tape))
        }
        Benchmark("stage: decode and hash from the tape (\(name))", configuration: .init(metrics: metrics)) { benchmark in
            blackHole(try! IntervalMessage.parse(tape))
        }
        // Not parsing, but also in `classify` (IntervalSums, built with every AcceptedInterval).
        let record = parseAndCheck(payload)
        Benchmark("stage: KPI sums of the record (\(name))", configuration: .init(metrics: metrics)) { benchmark in
            blackHole(KPIAggregator(records: CollectionOfOne(record)))
        }
        Benchmark("before: JSONDecoder, re-encode, hash (\(name))", configuration: .init(metrics: metrics, maxIterations: 10_000)) { benchmark in
            blackHole(foundationParseAndCheck(payload))
        }
    }
}
