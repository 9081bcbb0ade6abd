/// How a counter moved between two readings: advance, rollover, or meter reset.
public enum CounterStep: Sendable, Hashable {
    /// The counter rose by `deltaWh` (possibly 0).
    case advance(deltaWh: Double)
    /// The counter wrapped past its modulus; `deltaWh` is the energy including the wrap.
    case rollover(deltaWh: Double)
    /// The counter dropped in a way rollover does not explain: the meter was reset or replaced.
    /// The new value becomes the baseline and the span is integrated from power.
    case reset
    /// The counter rose by more than the device can deliver in the span (`deltaWh`): treated
    /// like a reset (re-baselined, flagged).
    case implausible(deltaWh: Double)

    /// Classifies the step from `previous` to `current` over `spanMs`.
    ///
    /// - A rise is an advance, unless `maxPlausiblePowerW` is set and the rise exceeds
    ///   1.5 × that power over the span (the span counted as at least 60 s, so that the counter's
    ///   own resolution never trips the check).
    /// - A drop is a rollover when `modulusWh` is set and the wrapped delta
    ///   `current + modulus − previous` is below half the modulus (and plausible); otherwise a reset.
    public static func classify(
        previous: Double, current: Double, spanMs: Int64, modulusWh: Double?, maxPlausiblePowerW: Double?
    ) -> CounterStep {
        func plausible(_ delta: Double) -> Bool {
            guard let maxPower = maxPlausiblePowerW else { return true }
            let hours = Double(max(spanMs, 60_000)) / 3_600_000
            return delta <= maxPower * hours * 1.5
        }
        if current >= previous {
            let delta = current - previous
            return plausible(delta) ? .advance(deltaWh: delta) : .implausible(deltaWh: delta)
        }
        if let modulus = modulusWh {
            let wrapped = current + modulus - previous
            if wrapped >= 0, wrapped < modulus / 2, plausible(wrapped) { return .rollover(deltaWh: wrapped) }
        }
        return .reset
    }
}
