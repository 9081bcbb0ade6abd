/// One settlement interval: a UTC quarter hour `[start, end)`.
public struct SettlementInterval: Sendable, Hashable, Comparable, Codable {
    /// Start, on a quarter-hour boundary.
    public var start: UTCMilliseconds

    /// The interval that contains `time`.
    public init(containing time: UTCMilliseconds) {
        start = time.quarterHourFloor
    }

    /// End (exclusive).
    public var end: UTCMilliseconds { start.adding(milliseconds: UTCMilliseconds.quarterHourMs) }

    /// The following interval.
    public var next: SettlementInterval { SettlementInterval(containing: end) }

    /// The record id: `"{hubID}:{start as ISO-8601}"`, e.g. `"park-a:2026-03-01T10:15:00Z"`.
    /// Deterministic, so a record produced twice (after a restart) has the same id.
    public func recordID(hub: HubID) -> String { hub.rawValue + ":" + start.iso8601 }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.start < rhs.start }
}
