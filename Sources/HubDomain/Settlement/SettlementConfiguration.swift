/// Settings of the settlement ledger. Documented in docs/energy-model.md ("Settlement").
public struct SettlementConfiguration: Sendable, Hashable, Codable {
    /// How long after an interval's end the ledger waits for late samples before closing it, in
    /// ms. Must be shorter than a quarter hour. Samples after the boundary during this time
    /// already count for the next interval.
    public var closeDelayMs: Int64
    /// How long a power value is held for integration after it was acquired, in ms. A longer
    /// gap without a sample is not bridged by power.
    public var maxPowerHoldMs: Int64
    /// A counter step spanning at most this many ms is "measured" even when it crosses an
    /// interval boundary (split linearly in time); a longer step is split as "estimated".
    public var maxMeasuredSpanMs: Int64
    /// Uncovered time an energy figure may have and still be given, in ms. Default 0: any
    /// uncovered time makes the figure missing (never zero-filled).
    public var coverageToleranceMs: Int64
    /// Absolute tolerance of the invariant checks in Wh (metering resolution); a relative
    /// 1e-9 of the magnitude is added.
    public var toleranceWh: Double

    public init(
        closeDelayMs: Int64 = 30_000,
        maxPowerHoldMs: Int64 = 15_000,
        maxMeasuredSpanMs: Int64 = 60_000,
        coverageToleranceMs: Int64 = 0,
        toleranceWh: Double = 0.01
    ) {
        self.closeDelayMs = closeDelayMs
        self.maxPowerHoldMs = maxPowerHoldMs
        self.maxMeasuredSpanMs = maxMeasuredSpanMs
        self.coverageToleranceMs = coverageToleranceMs
        self.toleranceWh = toleranceWh
    }
}
