/// Why a record deserves attention. Flags never change figures; they explain them.
public enum RecordFlag: Sendable, Hashable, Codable {
    /// A counter dropped without rollover; the span was integrated from power.
    case counterReset(device: DeviceID, quantity: EnergyQuantity)
    /// A counter wrapped past its modulus (energy is correct; for audit).
    case counterRollover(device: DeviceID, quantity: EnergyQuantity)
    /// A counter rose faster than the device can deliver; treated like a reset.
    case counterImplausible(device: DeviceID, quantity: EnergyQuantity)
    /// A device's energy could not be determined for the whole interval.
    case energyMissing(device: DeviceID, quantity: EnergyQuantity)
    /// A device's energy is partly estimated (power integration or interpolation over a gap).
    case energyEstimated(device: DeviceID, quantity: EnergyQuantity, share: Double)
    /// A participant's derived consumption is negative: a metering error, kept unclamped.
    case negativeConsumption(participant: ParticipantID, consumptionWh: Double)
    /// A battery discharged more than its tracked content; the excess counts as grid origin.
    case unknownOriginDischarge(owner: String, energyWh: Double)
    /// The battery origin book was updated without allocation data (charge booked as grid).
    case batteryOriginDegraded
    /// A counter step revealed energy for closed intervals (see ``IntervalRecord/gapCorrections``).
    case gapCorrection
    /// ``IntervalRecord/validate()`` found violations (see ``IntervalRecord/violations``).
    case invariantViolated
}
