import HubDomain

/// Real interval records, produced by the domain's settlement ledger from consistent samples.
enum RecordFixtures {
    static let hub = HubID("test-hub")
    static let start = UTCMilliseconds(epochSeconds: 1_772_323_200) // 2026-03-01T00:00:00Z

    static var model: HubModel {
        HubModel(hubID: hub, participants: [
            Participant(id: "alpha", devices: [Device(id: "alpha-grid", kind: .gridMeter)]),
            Participant(id: "beta", devices: [Device(id: "beta-grid", kind: .gridMeter), Device(id: "beta-pv", kind: .pvInverter)]),
        ])
    }

    /// `count` consecutive records: alpha imports 2 kW, beta exports 3 kW (PV 5 kW, load 2 kW).
    static func records(count: Int) throws -> [IntervalRecord] {
        var ledger = try SettlementLedger(model: model, startingAt: start)
        var counters: [String: Double] = ["alpha-grid-import": 1000, "beta-grid-export": 5000, "beta-pv": 200]
        var records: [IntervalRecord] = []
        var now = start
        let end = start.adding(milliseconds: Int64(count) * UTCMilliseconds.quarterHourMs + 60_000)
        while now <= end {
            _ = ledger.ingest(DeviceSample(device: "alpha-grid", at: now, powerW: 2000,
                                           counters: CounterValues(gridImportWh: counters["alpha-grid-import"], gridExportWh: 0)))
            _ = ledger.ingest(DeviceSample(device: "beta-grid", at: now, powerW: -3000,
                                           counters: CounterValues(gridImportWh: 0, gridExportWh: counters["beta-grid-export"])))
            _ = ledger.ingest(DeviceSample(device: "beta-pv", at: now, powerW: 5000, counters: CounterValues(pvProductionWh: counters["beta-pv"])))
            records += ledger.advance(to: now)
            now = now.adding(milliseconds: 10_000)
            counters["alpha-grid-import"]! += 2000.0 * 10 / 3600
            counters["beta-grid-export"]! += 3000.0 * 10 / 3600
            counters["beta-pv"]! += 5000.0 * 10 / 3600
        }
        return Array(records.prefix(count))
    }
}
