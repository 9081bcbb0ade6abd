/// The measurements the hub needs from its devices, in the hub's sign convention
/// (docs/energy-model.md §1):
///
/// - grid power: **+ = import** from the grid, − = export;
/// - PV power ≥ 0 is production;
/// - battery power: **+ = discharge**, − = charge;
/// - energies are non-negative counters per direction, in Wh.
///
/// A profile marks the point that delivers each quantity, with `invert: true` where the vendor
/// counts the other way (Huawei meter + = export, Victron battery + = charge).
public enum CanonicalQuantity: String, Sendable, Hashable, CaseIterable {
    case gridPower = "grid_power"
    case gridImportEnergy = "grid_import_energy"
    case gridExportEnergy = "grid_export_energy"
    case pvPower = "pv_power"
    case pvEnergy = "pv_energy"
    case batteryPower = "battery_power"
    case batterySoC = "battery_soc"
    case batteryChargeEnergy = "battery_charge_energy"
    case batteryDischargeEnergy = "battery_discharge_energy"

    /// The unit the point must deliver after scaling.
    public var unit: String {
        switch self {
        case .gridPower, .pvPower, .batteryPower: "W"
        case .gridImportEnergy, .gridExportEnergy, .pvEnergy, .batteryChargeEnergy, .batteryDischargeEnergy: "Wh"
        case .batterySoC: "%"
        }
    }

    /// Counters that only grow (and may roll over); deltas are computed modulo their range.
    public var isEnergyCounter: Bool { unit == "Wh" }
}

/// How often a point is read.
public enum PointCadence: String, Sendable, Hashable, CaseIterable {
    /// Every cycle (default 1 s, aligned to wall-clock seconds).
    case fast
    /// On the slow interval (default 60 s).
    case slow
    /// Once after each connect (nameplate, serial number, scale factors that never change).
    case `static`
}
