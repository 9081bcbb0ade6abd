/// The energy flows inside one site during one interval, decomposed from its five metered
/// energies (docs/energy-model.md, "Flow decomposition").
///
/// Within 15 minutes the order of events is unknown, so a fixed order is assumed:
/// 1. import beyond what the load can take charged the battery;
/// 2. PV charges the battery, 3. then is exported, 4. the battery covers the rest of the export;
/// 5. import covers the rest of the charge, 6. battery-to-battery covers what is still left;
/// 7. whatever remains of PV, battery and import went to the load.
/// With consistent metering the flows reproduce all five energies and the consumption exactly;
/// with a metering error the unexplained remainder is reported, never hidden.
public struct SiteFlows: Sendable, Hashable, Codable {
    public var pvToLoadWh = 0.0
    public var pvToBatteryWh = 0.0
    public var pvToGridWh = 0.0
    public var batteryToLoadWh = 0.0
    public var batteryToGridWh = 0.0
    public var batteryToBatteryWh = 0.0
    public var gridToLoadWh = 0.0
    public var gridToBatteryWh = 0.0
    /// Export that PV and battery cannot explain (> 0 only with a metering error).
    public var unexplainedExportWh = 0.0
    /// Charge that PV, import and discharge cannot explain (> 0 only with a metering error).
    public var unexplainedChargeWh = 0.0

    public init() {}

    /// Decomposes the five energies of a site.
    public static func decompose(
        importWh i: Double, exportWh x: Double, pvWh v: Double, chargeWh ch: Double, dischargeWh d: Double
    ) -> SiteFlows {
        var flows = SiteFlows()
        let load = max(0, i + v + d - x - ch)
        var pv = v
        var battery = d
        var grid = i
        var charge = ch
        var export = x

        let excessImport = min(charge, max(0, grid - load))
        flows.gridToBatteryWh = excessImport
        grid -= excessImport
        charge -= excessImport

        flows.pvToBatteryWh = min(pv, charge)
        pv -= flows.pvToBatteryWh
        charge -= flows.pvToBatteryWh

        flows.pvToGridWh = min(pv, export)
        pv -= flows.pvToGridWh
        export -= flows.pvToGridWh

        flows.batteryToGridWh = min(battery, export)
        battery -= flows.batteryToGridWh
        export -= flows.batteryToGridWh

        let importToBattery = min(grid, charge)
        flows.gridToBatteryWh += importToBattery
        grid -= importToBattery
        charge -= importToBattery

        flows.batteryToBatteryWh = min(battery, charge)
        battery -= flows.batteryToBatteryWh
        charge -= flows.batteryToBatteryWh

        flows.pvToLoadWh = pv
        flows.batteryToLoadWh = battery
        flows.gridToLoadWh = grid
        flows.unexplainedExportWh = export
        flows.unexplainedChargeWh = charge
        return flows
    }
}
