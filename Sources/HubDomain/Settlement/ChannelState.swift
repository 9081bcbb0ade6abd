/// Energy booked for one channel (device × quantity) in one open interval.
struct SlotAccumulator: Sendable, Hashable, Codable {
    var measuredWh = 0.0
    var estimatedWh = 0.0
    var measuredMs: Int64 = 0
    var estimatedMs: Int64 = 0
    /// Power-integrated energy since the last counter reading (part of `estimatedWh`): replaced
    /// by the counter's step when the counter comes back.
    var provisionalWh = 0.0
    var provisionalMs: Int64 = 0
    var resets = 0
    var rollovers = 0
    var implausible = 0
}

/// The metering state of one channel (device × quantity) between samples.
struct ChannelState: Sendable, Hashable, Codable {
    /// Last accepted counter value and its time: the baseline of the next counter step.
    var anchorWh: Double?
    var anchorAt = UTCMilliseconds(0)
    /// Energy is booked up to this time.
    var accountedUntil: UTCMilliseconds?
    /// Last directional power and its time, held for at most `maxPowerHoldMs`.
    var lastPowerW: Double?
    var lastPowerAt = UTCMilliseconds(0)
    /// Provisional (power-integrated) energy since the anchor that is already in closed records.
    var provisionalClosedWh = 0.0
    /// `[open interval, next interval]`.
    var slots = [SlotAccumulator(), SlotAccumulator()]
}
