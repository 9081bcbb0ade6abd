/// Sums interval records into period KPIs: sums first, ratio last.
///
/// Feed it the records of a period (a day, a month) in any order; each KPI uses only the
/// intervals that have all of its inputs, in numerator and denominator alike, and says how
/// many it left out.
public struct KPIAggregator: Sendable {
    /// ``KPIDefinitions/version``.
    public let definitionsVersion = KPIDefinitions.version
    /// Hub sums and KPIs.
    public private(set) var hub = HubKPIs()
    private var byParticipant: [ParticipantID: ParticipantKPIs] = [:]

    public init() {}

    /// Adds records.
    public init(records: some Sequence<IntervalRecord>) {
        for record in records { add(record) }
    }

    /// The sums and KPIs of a participant, if it appeared in any record.
    public func participant(_ id: ParticipantID) -> ParticipantKPIs? { byParticipant[id] }

    /// All participants that appeared, sorted by id.
    public var participants: [ParticipantKPIs] { byParticipant.values.sorted { $0.participant < $1.participant } }

    /// Adds one record.
    public mutating func add(_ record: IntervalRecord) {
        let estimated = record.quality.estimatedShare > 0 && record.quality.isUsable
        for row in record.participants {
            var kpis = byParticipant[row.participant] ?? ParticipantKPIs(participant: row.participant)
            if let i = row.importWh.value, let x = row.exportWh.value, let v = row.pvWh.value,
                let c = row.consumptionWh.value
            {
                kpis.siteIntervals += 1
                kpis.siteImportWh += i
                kpis.siteExportWh += x
                kpis.siteProductionWh += v
                kpis.siteConsumptionWh += c
                if row.negativeConsumption { kpis.negativeConsumptionIntervals += 1 }
                if row.consumptionWh.quality.estimatedShare > 0 { kpis.estimatedIntervals += 1 }
            }
            if record.isComplete, let c = row.consumptionWh.value, let r = row.residualImportWh,
                let rx = row.residualExportWh, let v = row.pvWh.value, let grid = row.gridOriginToLoadWh
            {
                kpis.sharedIntervals += 1
                kpis.sharedConsumptionWh += c
                kpis.residualImportWh += r
                kpis.residualExportWh += rx + (row.collectiveResidualExportShareWh ?? 0)
                kpis.sharedProductionWh += v + (row.collectiveProductionShareWh ?? 0)
                kpis.gridOriginToLoadWh += grid
            } else {
                kpis.excludedIntervals += 1
            }
            byParticipant[row.participant] = kpis
        }
        let h = record.hub
        if record.isComplete, let gi = h.gridImportWh, let ge = h.gridExportWh, let c = h.consumptionWh,
            let pv = h.participantPVWh, let collective = h.collectivePVWh, let grid = h.gridOriginToLoadWh
        {
            hub.intervals += 1
            hub.gridImportWh += gi
            hub.gridExportWh += ge
            hub.consumptionWh += c
            hub.productionWh += pv + collective
            hub.gridOriginToLoadWh += grid
            if record.participants.contains(where: \.negativeConsumption) { hub.negativeConsumptionIntervals += 1 }
            if estimated { hub.estimatedIntervals += 1 }
        } else {
            hub.excludedIntervals += 1
        }
    }
}
