import Foundation
import HubAggregator
import HubContract
import HubDomain
import TestSupport

/// Real interval records from the domain's settlement ledger, and their v1 messages.
///
/// Two companies, constant power: alpha imports 2 kW (no PV); beta has 3 kW PV and a 2 kW load,
/// so it exports 1 kW. Per 15-minute interval (× 0.25 h):
///   alpha: import 500 Wh, consumption 500 Wh
///   beta:  PV 750 Wh, export 250 Wh, consumption 500 Wh
///   hub:   net = 500 − 250 = 250 Wh import, 0 export; consumption 1000 Wh; production 750 Wh
enum AggregatorFixtures {
    static let hub = HubID("park-a")
    static let start = UTCMilliseconds(epochSeconds: 1_772_323_200) // 2026-03-01T00:00:00Z

    static var model: HubModel {
        HubModel(hubID: hub, participants: [
            Participant(id: "alpha", devices: [Device(id: "alpha-grid", kind: .gridMeter)]),
            Participant(id: "beta", devices: [Device(id: "beta-grid", kind: .gridMeter), Device(id: "beta-pv", kind: .pvInverter)]),
        ])
    }

    /// `count` consecutive records from `start`; `pvW` changes beta's PV power (and so its export) to make different records.
    /// `pvOutage`: beta's PV inverter sends nothing then (records get missing or estimated figures and gap corrections).
    static func records(count: Int, pvW: Double = 3000, from start: UTCMilliseconds = start,
                        pvOutage: Range<UTCMilliseconds>? = nil) throws -> [IntervalRecord] {
        var ledger = try SettlementLedger(model: model, startingAt: start)
        let exportW = pvW - 2000
        var counters: [String: Double] = ["alpha-import": 1000, "beta-export": 5000, "beta-pv": 200]
        var records: [IntervalRecord] = []
        var now = start
        let end = start.adding(milliseconds: Int64(count) * UTCMilliseconds.quarterHourMs + 60_000)
        while now <= end {
            _ = ledger.ingest(DeviceSample(device: "alpha-grid", at: now, powerW: 2000,
                                           counters: CounterValues(gridImportWh: counters["alpha-import"], gridExportWh: 0)))
            _ = ledger.ingest(DeviceSample(device: "beta-grid", at: now, powerW: -exportW,
                                           counters: CounterValues(gridImportWh: 0, gridExportWh: counters["beta-export"])))
            if !(pvOutage?.contains(now) ?? false) {
                _ = ledger.ingest(DeviceSample(device: "beta-pv", at: now, powerW: pvW, counters: CounterValues(pvProductionWh: counters["beta-pv"])))
            }
            records += ledger.advance(to: now)
            now = now.adding(milliseconds: 10_000)
            counters["alpha-import"]! += 2000.0 * 10 / 3600
            counters["beta-export"]! += exportW * 10 / 3600
            counters["beta-pv"]! += pvW * 10 / 3600
        }
        return Array(records.prefix(count))
    }

    /// Records of a bigger park, closer to what a real hub publishes: `participants` companies
    /// (each with a grid meter, every second with PV, every third with a battery), a collective PV
    /// field and a hub battery owned by the first four, PV varying per interval, and optionally an
    /// outage of the companies' PV inverters (missing and estimated figures, gap corrections).
    static func parkRecords(participants count: Int, records: Int, key: AllocationKey = .proRataConsumption,
                            from start: UTCMilliseconds = start, pvOutage: Range<UTCMilliseconds>? = nil) throws -> [IntervalRecord] {
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
        ], allocationKey: key)
        var ledger = try SettlementLedger(model: model, startingAt: start)
        var counters: [DeviceID: [Double]] = [:]
        var made: [IntervalRecord] = []
        var now = start
        let end = start.adding(milliseconds: Int64(records) * UTCMilliseconds.quarterHourMs + 60_000)
        let step = 10.0
        while now <= end && made.count < records {
            // PV follows a slow curve so that consecutive records differ.
            let sun = 0.6 + 0.4 * sin(Double(now.milliseconds(since: start)) / 3_600_000)
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
            for site in sites {
                let pvW = site.pvW * sun
                for device in site.devices {
                    switch device.kind {
                    case .gridMeter: sample(device.id, .gridMeter, powerW: site.loadW - pvW - site.batteryW)
                    case .pvInverter where pvOutage?.contains(now) ?? false: break
                    case .pvInverter: sample(device.id, .pvInverter, powerW: pvW)
                    default: sample(device.id, device.kind, powerW: site.batteryW)
                    }
                }
            }
            sample("field-pv", .pvInverter, powerW: 9000 * sun)
            sample("hub-bat", .battery, powerW: -1500)
            made += ledger.advance(to: now)
            now = now.adding(milliseconds: Int64(step * 1000))
        }
        return Array(made.prefix(records))
    }

    /// The chained messages of `records`, sequence 1… from the genesis hash.
    static func messages(_ records: [IntervalRecord]) throws -> [IntervalMessage] {
        var previous = IntervalMessage.genesisHash
        var messages: [IntervalMessage] = []
        for (index, record) in records.enumerated() {
            let message = try IntervalMessage.make(record: record, sequence: Int64(index + 1), previousHash: previous,
                                                   kpiDefinitions: KPIDefinitions.version, agentVersion: "test")
            previous = message.hash
            messages.append(message)
        }
        return messages
    }

    /// The repository's v1 message schemas, compiled.
    static func schemas() throws -> MessageSchemas {
        try MessageSchemas.load(directory: RepositoryPaths.path("Config/schemas/v1"))
    }

    /// `count` records from `start` (quarter-hour aligned) for `hub`, made by moving the records of
    /// `template` (cycled) to later intervals: quick for months of data, same figures every day.
    static func shifted(_ template: [IntervalRecord], count: Int, from start: UTCMilliseconds, hub: HubID = hub) -> [IntervalRecord] {
        (0..<count).map { index in
            var record = template[index % template.count]
            record.hubID = hub
            record.interval = SettlementInterval(containing: start.adding(milliseconds: Int64(index) * UTCMilliseconds.quarterHourMs))
            record.id = record.interval.recordID(hub: hub)
            return record
        }
    }

    static func topic(_ hub: String = "park-a") -> String { "hubmeter/v1/\(hub)/interval" }

    static func temporaryDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "aggregator-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }
}
