/// The KPI formulas, versioned. Written out with sources and edge cases in docs/kpis.md.
///
/// Every KPI is a ratio of sums over the period, never a mean of per-interval ratios.
public enum KPIDefinitions {
    /// Version of the definitions; exported with every KPI value.
    public static let version = "hubmeter-kpi/1"

    /// Below this magnitude (Wh) a sum counts as zero.
    public static let zeroThresholdWh = 1e-9

    /// Self-sufficiency `SS = 1 − E_import / E_consumption`.
    ///
    /// `E_consumption = 0` → undefined (no consumption); `< 0` → undefined (negative
    /// consumption, a metering error). A ratio outside `0...1` is returned raw and flagged.
    public static func selfSufficiency(importWh: Double, consumptionWh: Double, flags: KPIFlags = []) -> KPIResult {
        if consumptionWh < -zeroThresholdWh {
            return .undefined(.negativeConsumption, flags: flags.union(.negativeConsumptionInterval))
        }
        guard consumptionWh > zeroThresholdWh else { return .undefined(.noConsumption, flags: flags) }
        return ratio(1 - importWh / consumptionWh, flags)
    }

    /// Self-consumption `SC = 1 − E_export / E_production`.
    ///
    /// `E_production ≤ 0` → undefined (no production). A ratio outside `0...1` (more export
    /// than production, from battery discharge) is returned raw and flagged.
    public static func selfConsumption(exportWh: Double, productionWh: Double, flags: KPIFlags = []) -> KPIResult {
        guard productionWh > zeroThresholdWh else { return .undefined(.noProduction, flags: flags) }
        return ratio(1 - exportWh / productionWh, flags)
    }

    private static func ratio(_ value: Double, _ flags: KPIFlags) -> KPIResult {
        var flags = flags
        if value < 0 || value > 1 { flags.insert(.outsideUnitRange) }
        return .value(value, flags: flags)
    }
}
