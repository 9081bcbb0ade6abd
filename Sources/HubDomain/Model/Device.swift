/// The role of a device, which fixes the sign of its power and the counters it has.
///
/// Sign convention (docs/energy-model.md): grid power + = import from the grid, − = export;
/// PV power ≥ 0 (production); battery power + = discharge, − = charge; sub-meter power ≥ 0.
public enum DeviceKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// The meter at a participant's grid connection. Counters: import Wh, export Wh.
    case gridMeter
    /// A PV inverter or PV production meter. Counter: production Wh.
    case pvInverter
    /// A battery (storage system). Counters: charge Wh, discharge Wh.
    case battery
    /// A sub-meter of a load inside a site. Informational only in balance model /1.
    case subMeter

    /// The energy quantities (counters) this kind of device has, in a fixed order.
    public var quantities: [EnergyQuantity] {
        switch self {
        case .gridMeter: return [.gridImport, .gridExport]
        case .pvInverter: return [.pvProduction]
        case .battery: return [.batteryCharge, .batteryDischarge]
        case .subMeter: return [.subMeteredConsumption]
        }
    }
}

/// One device of a participant or of a shared asset.
public struct Device: Sendable, Hashable, Codable {
    /// Unique id within the hub.
    public var id: DeviceID
    /// The role of the device.
    public var kind: DeviceKind
    /// The modulus of the device's energy counters in Wh, if they roll over
    /// (e.g. `4_294_967_296 × 10` for an acc32 register counting in units of 10 Wh).
    /// `nil` means the counter is not expected to roll over: every drop is a meter reset.
    public var counterModulusWh: Double?
    /// The largest power the device can plausibly carry, in W. A counter step that implies more
    /// is treated like a meter reset (re-baselined and flagged). `nil` disables the check.
    public var maxPlausiblePowerW: Double?
    /// For batteries: the usable capacity in Wh. The origin book never holds more than this,
    /// so conversion losses cannot accumulate in it. `nil` means unknown (no cap).
    public var usableCapacityWh: Double?

    public init(
        id: DeviceID,
        kind: DeviceKind,
        counterModulusWh: Double? = nil,
        maxPlausiblePowerW: Double? = nil,
        usableCapacityWh: Double? = nil
    ) {
        self.id = id
        self.kind = kind
        self.counterModulusWh = counterModulusWh
        self.maxPlausiblePowerW = maxPlausiblePowerW
        self.usableCapacityWh = usableCapacityWh
    }
}
