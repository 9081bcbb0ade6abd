/// A directional energy quantity; counters are cumulative Wh per direction, never signed.
public enum EnergyQuantity: String, Sendable, Hashable, Codable, CaseIterable, CodingKeyRepresentable {
    /// Energy drawn from the grid at a connection.
    case gridImport
    /// Energy fed into the grid at a connection.
    case gridExport
    /// PV energy produced.
    case pvProduction
    /// Energy put into a battery.
    case batteryCharge
    /// Energy taken out of a battery.
    case batteryDischarge
    /// Energy through a sub-meter (informational).
    case subMeteredConsumption

    /// The power that flows in this quantity's direction, from the device's signed power
    /// (sign convention of ``DeviceKind``). Used to integrate power where counters are missing.
    @inlinable
    public func directionalPower(fromSigned watts: Double) -> Double {
        switch self {
        case .gridImport, .pvProduction, .batteryDischarge, .subMeteredConsumption: return max(0, watts)
        case .gridExport, .batteryCharge: return max(0, -watts)
        }
    }
}
