/// Sums and KPIs of one participant over a period (Wh).
public struct ParticipantKPIs: Sendable, Hashable, Codable {
    public var participant: ParticipantID

    // Site only: the participant's own connection, ignoring sharing.
    /// Intervals with the participant's own five figures.
    public var siteIntervals = 0
    public var siteImportWh = 0.0
    public var siteExportWh = 0.0
    public var siteProductionWh = 0.0
    public var siteConsumptionWh = 0.0

    // After sharing: only complete records.
    /// Complete intervals.
    public var sharedIntervals = 0
    public var sharedConsumptionWh = 0.0
    /// `Σ (I_i − A_i)`.
    public var residualImportWh = 0.0
    /// `Σ (RX_i + collective residual export share)`.
    public var residualExportWh = 0.0
    /// `Σ (V_i + collective production share)`.
    public var sharedProductionWh = 0.0
    /// `Σ gridOriginToLoad_i`.
    public var gridOriginToLoadWh = 0.0

    /// Intervals in which the participant was a member but figures were missing.
    public var excludedIntervals = 0
    public var negativeConsumptionIntervals = 0
    public var estimatedIntervals = 0

    public init(participant: ParticipantID) { self.participant = participant }

    private var flags: KPIFlags {
        KPIFlags(negativeConsumptionIntervals: negativeConsumptionIntervals, estimatedIntervals: estimatedIntervals,
                 excludedIntervals: excludedIntervals)
    }

    /// `SS_site = 1 − Σ I_i / Σ C_i`.
    public var selfSufficiencySite: KPIResult {
        guard siteIntervals > 0 else { return .undefined(.noCompleteIntervals, flags: flags) }
        return KPIDefinitions.selfSufficiency(importWh: siteImportWh, consumptionWh: siteConsumptionWh, flags: flags)
    }

    /// `SC_site = 1 − Σ X_i / Σ V_i`.
    public var selfConsumptionSite: KPIResult {
        guard siteIntervals > 0 else { return .undefined(.noCompleteIntervals, flags: flags) }
        return KPIDefinitions.selfConsumption(exportWh: siteExportWh, productionWh: siteProductionWh, flags: flags)
    }

    /// `SS_shared = 1 − Σ (I_i − A_i) / Σ C_i`.
    public var selfSufficiencyAfterSharing: KPIResult {
        guard sharedIntervals > 0 else { return .undefined(.noCompleteIntervals, flags: flags) }
        return KPIDefinitions.selfSufficiency(
            importWh: residualImportWh, consumptionWh: sharedConsumptionWh, flags: flags)
    }

    /// `SC_shared = 1 − Σ (RX_i + ΣRX_asset·share) / Σ (V_i + ΣPV_asset·share)`.
    public var selfConsumptionAfterSharing: KPIResult {
        guard sharedIntervals > 0 else { return .undefined(.noCompleteIntervals, flags: flags) }
        return KPIDefinitions.selfConsumption(
            exportWh: residualExportWh, productionWh: sharedProductionWh, flags: flags)
    }

    /// `SS_excl_gridcharge = 1 − Σ gridOriginToLoad_i / Σ C_i` (after sharing; grid-charged
    /// battery energy counts as grid energy when it reaches the load).
    public var selfSufficiencyExcludingGridCharge: KPIResult {
        guard sharedIntervals > 0 else { return .undefined(.noCompleteIntervals, flags: flags) }
        return KPIDefinitions.selfSufficiency(
            importWh: gridOriginToLoadWh, consumptionWh: sharedConsumptionWh, flags: flags)
    }
}
