/// One input value as the agent last acquired it: `(value, quality, acquiredAt)`.
///
/// Powers are in watts with the sign convention of ``DeviceKind`` (see docs/energy-model.md).
/// A reading whose quality is ``Quality/missing`` or whose value is not finite is treated as
/// missing; one older than the configured staleness limit is treated as stale.
public struct Reading: Sendable, Hashable, Codable {
    /// The value, in the unit of the quantity (W for powers).
    public var value: Double
    /// The quality the adapter reported for this value.
    public var quality: Quality
    /// When the agent acquired the value.
    public var acquiredAt: UTCMilliseconds

    @inlinable
    public init(value: Double, quality: Quality = .measured, acquiredAt: UTCMilliseconds) {
        self.value = value
        self.quality = quality
        self.acquiredAt = acquiredAt
    }

    /// A reading that was never acquired.
    public static let missing = Reading(value: 0, quality: .missing, acquiredAt: UTCMilliseconds(Int64.min / 2))
}
