import HubDomain

/// Simulated time that runs `speed` times faster than the wall clock from a fixed origin:
///
///     simNow = origin + (realNow − origin) × speed      (UTC milliseconds)
///
/// The simulator and the agent each build one from the same `--time-origin` and `--speed`
/// options, so both agree on simulated time without talking to each other. With speed 1 it is
/// the wall clock itself.
public struct ScaledWallClock: UTCClock {
    /// The instant at which simulated and real time coincide.
    public let origin: UTCMilliseconds
    /// Simulated milliseconds per real millisecond (> 0).
    public let speed: Double
    private let base: any UTCClock

    /// `origin` defaults to the base clock's current time (the process start).
    public init(origin: UTCMilliseconds? = nil, speed: Double = 1, base: any UTCClock = SystemWallClock()) {
        precondition(speed > 0 && speed.isFinite, "speed must be positive and finite")
        self.origin = origin ?? base.now
        self.speed = speed
        self.base = base
    }

    public var now: UTCMilliseconds { simulated(base.now) }

    /// The simulated time at a real instant.
    public func simulated(_ real: UTCMilliseconds) -> UTCMilliseconds {
        let elapsed = real.rawValue - origin.rawValue
        if speed == 1 { return real }
        if speed == speed.rounded(), let factor = Int64(exactly: speed) {
            let (product, overflow) = elapsed.multipliedReportingOverflow(by: factor)
            if !overflow { return UTCMilliseconds(origin.rawValue + product) }
        }
        return UTCMilliseconds(origin.rawValue + Int64((Double(elapsed) * speed).rounded(.down)))
    }

    /// How long to wait in real time for `simulated` simulated milliseconds to pass.
    public func realDuration(ofSimulated milliseconds: Int64) -> Duration {
        .nanoseconds(Int64((Double(milliseconds) * 1_000_000 / speed).rounded(.up)))
    }
}

/// How long to sleep in real time until `milliseconds` of `clock` time have passed: the same for
/// the system clock, shorter for a clock that runs faster (tests and demos).
public func realSleepDuration(_ clock: any UTCClock, milliseconds: Int64) -> Duration {
    if let scaled = clock as? ScaledWallClock { return scaled.realDuration(ofSimulated: milliseconds) }
    return .milliseconds(milliseconds)
}
