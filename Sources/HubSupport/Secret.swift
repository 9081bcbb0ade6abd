/// A secret value (password, token) that never shows up in logs, descriptions or dumps.
///
/// The only way to get at the value is `withRevealedValue`, so a call site that
/// exposes it is easy to find in review.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String
    /// Where the secret came from (a file path or an environment variable name), safe to log.
    public let origin: String

    public init(_ value: String, origin: String) {
        self.value = value
        self.origin = origin
    }

    public func withRevealedValue<Result>(_ body: (String) throws -> Result) rethrows -> Result {
        try body(value)
    }

    public var description: String { "<secret from \(origin)>" }
    public var debugDescription: String { description }
}
