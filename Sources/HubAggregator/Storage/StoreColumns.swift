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

    static func values(_ k: HubKPIs) -> [Double] {
        [Double(k.intervals), Double(k.excludedIntervals), Double(k.negativeConsumptionIntervals), Double(k.estimatedIntervals),
         k.gridImportWh, k.gridExportWh, k.consumptionWh, k.productionWh, k.gridOriginToLoadWh]
    }

    static func values(_ k: ParticipantKPIs) -> [Double] {
        [Double(k.siteIntervals), k.siteImportWh, k.siteExportWh, k.siteProductionWh, k.siteConsumptionWh,
         Double(k.sharedIntervals), k.sharedConsumptionWh, k.residualImportWh, k.residualExportWh, k.sharedProductionWh,
         k.gridOriginToLoadWh, Double(k.excludedIntervals), Double(k.negativeConsumptionIntervals), Double(k.estimatedIntervals)]
    }

    static func values(_ e: EnergyTotals) -> [Double] {
        [e.importWh, e.exportWh, e.productionWh, e.batteryChargeWh, e.batteryDischargeWh, e.sharedWh, Double(e.missingFigures)]
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
        let hubValues = StoreColumns.values(sums.hub) + StoreColumns.values(sums.energy)
        let participantValues = zip(sums.participants, sums.participantEnergy).map {
            ($0.participant.rawValue, StoreColumns.values($0) + StoreColumns.values($1))
        }
        for grain in Grain.allCases {
            let bucket = grain == .day ? UTCCalendar.floorDay(start) : UTCCalendar.floorMonth(start)
            let key = HubKey(hub: id, bucket: bucket)
            var increment = hub[grain]![key] ?? HubIncrement(values: Array(repeating: 0, count: hubValues.count))
            increment.received += 1
            increment.estimated += sums.estimatedShare > 0 ? 1 : 0
            Self.add(hubValues, to: &increment.values)
            hub[grain]![key] = increment
            for (participantID, values) in participantValues {
                let key = ParticipantKey(hub: id, bucket: bucket, participant: participantID)
                var sum = participant[grain]![key] ?? Array(repeating: 0, count: values.count)
                Self.add(values, to: &sum)
                participant[grain]![key] = sum
            }
        }
    }

    private static func add(_ values: [Double], to sum: inout [Double]) {
        for index in values.indices { sum[index] += values[index] }
    }
}
