#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import HubDomain

/// The machine's real-time clock (CLOCK_REALTIME), for production; tests pass their own clock.
public struct SystemWallClock: UTCClock {
    public init() {}

    public var now: UTCMilliseconds {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UTCMilliseconds(Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000)
    }
}
