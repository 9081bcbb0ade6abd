import HubDomain

/// The additive contributions of one interval record to the period KPIs, exactly as HubDomain's
/// ``KPIAggregator`` adds them, so that sums over any range stored in a database give the same
/// figures as the agent's own aggregation (definitions `hubmeter-kpi/1`).
///
/// Energy totals that the KPI sums do not carry (battery, shared energy) are added beside them;
/// a figure that is missing in the record stays out of its sum and is counted in `missing…`.
public struct IntervalSums: Sendable, Equatable {
    public var hub: HubKPIs
    public var participants: [ParticipantKPIs]
    /// Energy totals of the hub in this interval.
    public var energy: EnergyTotals
    /// Energy totals per participant, in the order of ``participants``.
    public var participantEnergy: [EnergyTotals]
    public var isComplete: Bool
    public var estimatedShare: Double

    public init(record: IntervalRecord) {
        let aggregator = KPIAggregator(records: [record])
        hub = aggregator.hub
        participants = aggregator.participants
        isComplete = record.isComplete
        estimatedShare = record.quality.estimatedShare
        var byID: [ParticipantID: EnergyTotals] = [:]
        var total = EnergyTotals()
        for row in record.participants {
            var totals = EnergyTotals()
            totals.add(import: row.importWh.value, export: row.exportWh.value, production: row.pvWh.value,
                       charge: row.batteryChargeWh.value, discharge: row.batteryDischargeWh.value, shared: row.allocatedWh)
            byID[row.participant] = totals
            total.merge(totals)
        }
        total.add(import: nil, export: nil, production: record.hub.collectivePVWh, charge: record.hub.collectiveChargeWh,
                  discharge: record.hub.collectiveDischargeWh, shared: nil, countMissing: false)
        // The hub's grid exchange after netting replaces the members' sums for import and export.
        total.importWh = record.hub.gridImportWh ?? total.importWh
        total.exportWh = record.hub.gridExportWh ?? total.exportWh
        energy = total
        participantEnergy = participants.map { byID[$0.participant] ?? EnergyTotals() }
    }
}

/// Wh totals with a count of the figures that were missing (never filled with zero).
public struct EnergyTotals: Sendable, Equatable, Codable {
    public var importWh = 0.0
    public var exportWh = 0.0
    public var productionWh = 0.0
    public var batteryChargeWh = 0.0
    public var batteryDischargeWh = 0.0
    /// Pool energy allocated (shared) to the participants.
    public var sharedWh = 0.0
    /// Figures that were missing and left out of the sums above.
    public var missingFigures = 0

    public init() {}

    mutating func add(import i: Double?, export x: Double?, production v: Double?, charge: Double?, discharge: Double?,
                      shared: Double?, countMissing: Bool = true) {
        func add(_ value: Double?, to sum: inout Double) {
            if let value { sum += value } else if countMissing { missingFigures += 1 }
        }
        add(i, to: &importWh)
        add(x, to: &exportWh)
        add(v, to: &productionWh)
        add(charge, to: &batteryChargeWh)
        add(discharge, to: &batteryDischargeWh)
        add(shared, to: &sharedWh)
    }

    public mutating func merge(_ other: EnergyTotals) {
        importWh += other.importWh
        exportWh += other.exportWh
        productionWh += other.productionWh
        batteryChargeWh += other.batteryChargeWh
        batteryDischargeWh += other.batteryDischargeWh
        sharedWh += other.sharedWh
        missingFigures += other.missingFigures
    }
}
