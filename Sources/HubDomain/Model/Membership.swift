/// When a participant belongs to the hub. Companies join a hub one by one and may leave.
///
/// Membership changes take effect at UTC quarter-hour boundaries, so that every settlement
/// interval has one fixed set of members: the effective start is the first boundary at or
/// after `joinedAt`, the effective end the first boundary at or after `leftAt`. The real-time
/// balance uses the same effective times, so live figures and records agree.
public struct Membership: Sendable, Hashable, Codable {
    /// When the participant joined (contract start).
    public var joinedAt: UTCMilliseconds
    /// When the participant left, or `nil` while it is a member.
    public var leftAt: UTCMilliseconds?

    public init(joinedAt: UTCMilliseconds, leftAt: UTCMilliseconds? = nil) {
        self.joinedAt = joinedAt
        self.leftAt = leftAt
    }

    /// A membership that started at the epoch and has not ended.
    public static let always = Membership(joinedAt: UTCMilliseconds(0))

    /// First quarter-hour boundary at or after ``joinedAt``.
    @inlinable
    public var effectiveStart: UTCMilliseconds { joinedAt.quarterHourCeiling }

    /// First quarter-hour boundary at or after ``leftAt``, or `nil`.
    @inlinable
    public var effectiveEnd: UTCMilliseconds? { leftAt?.quarterHourCeiling }

    /// `true` when the participant is a member at `time` (effective start ≤ time < effective end).
    @inlinable
    public func isMember(at time: UTCMilliseconds) -> Bool {
        guard effectiveStart <= time else { return false }
        if let end = effectiveEnd { return time < end }
        return true
    }
}
