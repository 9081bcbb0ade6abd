/// A source of the current time, injected by the caller.
///
/// The domain itself never asks a clock; the agent asks its clock once per cycle and passes
/// the result (`now`) into ``RealTimeBalancer/compute(_:now:)`` and
/// ``SettlementLedger/advance(to:)``. Tests use a simulated clock that steps in
/// milliseconds, so a full day of 15-minute intervals runs in well under a second.
public protocol UTCClock: Sendable {
    /// The current time.
    var now: UTCMilliseconds { get }
}
