/// Settings of the real-time balance.
public struct BalanceConfiguration: Sendable, Hashable, Codable {
    /// A reading older than this (now − acquiredAt) is stale and not used, in ms.
    public var staleAfterMs: Int64

    public init(staleAfterMs: Int64 = 10_000) {
        self.staleAfterMs = staleAfterMs
    }
}
