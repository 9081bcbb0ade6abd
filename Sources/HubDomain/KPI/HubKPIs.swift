/// Sums and KPIs of the hub over a period (Wh), netted per 15-minute interval.
public struct HubKPIs: Sendable, Hashable, Codable {
    /// Complete intervals used.
    public var intervals = 0
    /// Intervals left out for missing figures.
    public var excludedIntervals = 0
    public var negativeConsumptionIntervals = 0
    public var estimatedIntervals = 0
    /// `Σ_t I_hub(t)`, `I_hub(t) = max(0, net(t))`.
    public var gridImportWh = 0.0
    /// `Σ_t X_hub(t)`, `X_hub(t) = max(0, −net(t))`.
    public var gridExportWh = 0.0
    /// `Σ_t Σ_i C_i(t)`.
    public var consumptionWh = 0.0
    /// `Σ_t (Σ_i V_i(t) + PV_coll(t))`.
    public var productionWh = 0.0
    /// `Σ_t Σ_i gridOriginToLoad_i(t)`.
    public var gridOriginToLoadWh = 0.0

    public init() {}

    private var flags: KPIFlags {
        KPIFlags(negativeConsumptionIntervals: negativeConsumptionIntervals, estimatedIntervals: estimatedIntervals,
                 excludedIntervals: excludedIntervals)
    }

    /// `SS_hub = 1 − Σ_t I_hub(t) / Σ_t Σ_i C_i(t)`.
    public var selfSufficiency: KPIResult {
        guard intervals > 0 else { return .undefined(.noCompleteIntervals, flags: flags) }
        return KPIDefinitions.selfSufficiency(importWh: gridImportWh, consumptionWh: consumptionWh, flags: flags)
    }

    /// `SC_hub = 1 − Σ_t X_hub(t) / Σ_t (Σ_i V_i(t) + PV_coll(t))`.
    public var selfConsumption: KPIResult {
        guard intervals > 0 else { return .undefined(.noCompleteIntervals, flags: flags) }
        return KPIDefinitions.selfConsumption(exportWh: gridExportWh, productionWh: productionWh, flags: flags)
    }

    /// `SS_hub,excl = 1 − Σ_t Σ_i gridOriginToLoad_i(t) / Σ_t Σ_i C_i(t)`.
    public var selfSufficiencyExcludingGridCharge: KPIResult {
        guard intervals > 0 else { return .undefined(.noCompleteIntervals, flags: flags) }
        return KPIDefinitions.selfSufficiency(importWh: gridOriginToLoadWh, consumptionWh: consumptionWh, flags: flags)
    }
}
