import HubDomain

/// The additive columns that both stores keep per interval and per rollup row, in one order,
/// with the conversions between them and the domain's sums. Counts are kept as REAL/double
/// like the energies, so that a rollup row is one vector added to another.
enum StoreColumns {
    static let hub = ["h_intervals", "h_excluded", "h_negative", "h_estimated", "h_import", "h_export",
                      "h_consumption", "h_production", "h_grid_origin"]
    static let participant = ["p_site_intervals", "p_site_import", "p_site_export", "p_site_production", "p_site_consumption",
                              "p_shared_intervals", "p_shared_consumption", "p_residual_import", "p_residual_export",
                              "p_shared_production", "p_grid_origin", "p_excluded", "p_negative", "p_estimated"]
    static let energy = ["e_import", "e_export", "e_production", "e_charge", "e_discharge", "e_shared", "e_missing"]

    static let hubAndEnergy = hub + energy
    static let participantAndEnergy = participant + energy

    // One definition of each column order: `values` (PostgreSQL binds, tests), the SQLite binds and
    // the rollup sums all go through `forEach`, so the orders cannot drift apart. The ingest path
    // uses `forEach` directly: `values` allocates an array, and that was several arrays per record.

    /// `body` with each value of `k`, in the order of ``hub``.
    @inline(__always)
    static func forEach(_ k: HubKPIs, _ body: (Double) -> Void) {
        body(Double(k.intervals)); body(Double(k.excludedIntervals)); body(Double(k.negativeConsumptionIntervals))
        body(Double(k.estimatedIntervals)); body(k.gridImportWh); body(k.gridExportWh); body(k.consumptionWh)
        body(k.productionWh); body(k.gridOriginToLoadWh)
    }

    /// `body` with each value of `k`, in the order of ``participant``.
    @inline(__always)
    static func forEach(_ k: ParticipantKPIs, _ body: (Double) -> Void) {
        body(Double(k.siteIntervals)); body(k.siteImportWh); body(k.siteExportWh); body(k.siteProductionWh)
        body(k.siteConsumptionWh); body(Double(k.sharedIntervals)); body(k.sharedConsumptionWh); body(k.residualImportWh)
        body(k.residualExportWh); body(k.sharedProductionWh); body(k.gridOriginToLoadWh); body(Double(k.excludedIntervals))
        body(Double(k.negativeConsumptionIntervals)); body(Double(k.estimatedIntervals))
    }

    /// `body` with each value of `e`, in the order of ``energy``.
    @inline(__always)
    static func forEach(_ e: EnergyTotals, _ body: (Double) -> Void) {
        body(e.importWh); body(e.exportWh); body(e.productionWh); body(e.batteryChargeWh); body(e.batteryDischargeWh)
        body(e.sharedWh); body(Double(e.missingFigures))
    }

    static func values(_ k: HubKPIs) -> [Double] {
        var values: [Double] = []
        values.reserveCapacity(16) // the largest group has 14
        forEach(k) { values.append($0) }
        return values
    }

    static func values(_ k: ParticipantKPIs) -> [Double] {
        var values: [Double] = []
        values.reserveCapacity(16) // the largest group has 14
        forEach(k) { values.append($0) }
        return values
    }

    static func values(_ e: EnergyTotals) -> [Double] {
        var values: [Double] = []
        values.reserveCapacity(16) // the largest group has 14
        forEach(e) { values.append($0) }
        return values
    }

    /// Adds `k` and `e` to `sum`, a vector in the order of ``hubAndEnergy``, in place.
    static func add(_ k: HubKPIs, _ e: EnergyTotals, to sum: inout [Double]) {
        sum.withUnsafeMutableBufferPointer { sum in
            var index = 0
            forEach(k) { sum[index] += $0; index += 1 }
            forEach(e) { sum[index] += $0; index += 1 }
        }
    }

    /// Adds `k` and `e` to `sum`, a vector in the order of ``participantAndEnergy``, in place.
    static func add(_ k: ParticipantKPIs, _ e: EnergyTotals, to sum: inout [Double]) {
        sum.withUnsafeMutableBufferPointer { sum in
            var index = 0
            forEach(k) { sum[index] += $0; index += 1 }
            forEach(e) { sum[index] += $0; index += 1 }
        }
    }

    /// `v` in the order of ``hubAndEnergy``.
    static func addHub(_ v: [Double], to k: inout HubKPIs, energy e: inout EnergyTotals) {
        k.intervals += Int(v[0])
        k.excludedIntervals += Int(v[1])
        k.negativeConsumptionIntervals += Int(v[2])
        k.estimatedIntervals += Int(v[3])
        k.gridImportWh += v[4]
        k.gridExportWh += v[5]
        k.consumptionWh += v[6]
        k.productionWh += v[7]
        k.gridOriginToLoadWh += v[8]
        e.merge(energy(Array(v[9...])))
    }

    /// `v` in the order of ``participantAndEnergy``.
    static func addParticipant(_ v: [Double], to k: inout ParticipantKPIs, energy e: inout EnergyTotals) {
        k.siteIntervals += Int(v[0])
        k.siteImportWh += v[1]
        k.siteExportWh += v[2]
        k.siteProductionWh += v[3]
        k.siteConsumptionWh += v[4]
        k.sharedIntervals += Int(v[5])
        k.sharedConsumptionWh += v[6]
        k.residualImportWh += v[7]
        k.residualExportWh += v[8]
        k.sharedProductionWh += v[9]
        k.gridOriginToLoadWh += v[10]
        k.excludedIntervals += Int(v[11])
        k.negativeConsumptionIntervals += Int(v[12])
        k.estimatedIntervals += Int(v[13])
        e.merge(energy(Array(v[14...])))
    }

    static func energy(_ v: [Double]) -> EnergyTotals {
        var e = EnergyTotals()
        e.importWh = v[0]
        e.exportWh = v[1]
        e.productionWh = v[2]
        e.batteryChargeWh = v[3]
        e.batteryDischargeWh = v[4]
        e.sharedWh = v[5]
        e.missingFigures = Int(v[6])
        return e
    }
}

/// The rollup increments of one store transaction: records are added as they are stored, and the
/// daily and monthly rows are upserted once per key at the end of the same transaction, so that a
/// batch of a hub's consecutive records touches a handful of rollup rows instead of four per record.
struct RollupBatch {
    enum Grain: CaseIterable { case day, month }

    struct HubKey: Hashable { var hub: String; var bucket: Int64 }
    struct ParticipantKey: Hashable { var hub: String; var bucket: Int64; var participant: String }
    struct HubIncrement { var received = 0; var estimated = 0; var values: [Double] }

    private(set) var hub: [Grain: [HubKey: HubIncrement]] = [.day: [:], .month: [:]]
    private(set) var participant: [Grain: [ParticipantKey: [Double]]] = [.day: [:], .month: [:]]

    var isEmpty: Bool { hub[.day]!.isEmpty }

    mutating func add(hub id: String, start: Int64, sums: IntervalSums) {
        let estimated = sums.estimatedShare > 0 ? 1 : 0
        for grain in Grain.allCases {
            let bucket = grain == .day ? UTCCalendar.floorDay(start) : UTCCalendar.floorMonth(start)
            // Summed in place through the `default:` subscripts: reading an increment out, adding to it
            // and writing it back copied its array (copy on write) for every record and key.
            let hubKey = HubKey(hub: id, bucket: bucket)
            hub[grain, default: [:]][hubKey, default: HubIncrement(values: Self.zeros(StoreColumns.hubAndEnergy.count))]
                .add(sums.hub, sums.energy, estimated: estimated)
            for (kpis, energy) in zip(sums.participants, sums.participantEnergy) {
                let key = ParticipantKey(hub: id, bucket: bucket, participant: kpis.participant.rawValue)
                StoreColumns.add(kpis, energy,
                                 to: &participant[grain, default: [:]][key, default: Self.zeros(StoreColumns.participantAndEnergy.count)])
            }
        }
    }

    private static func zeros(_ count: Int) -> [Double] { Array(repeating: 0, count: count) }
}

extension RollupBatch.HubIncrement {
    mutating func add(_ kpis: HubKPIs, _ energy: EnergyTotals, estimated: Int) {
        received += 1
        self.estimated += estimated
        StoreColumns.add(kpis, energy, to: &values)
    }
}
