/// One output figure: a value (W or Wh, named by the property that holds it) and its quality.
///
/// `value` is `nil` exactly when the figure cannot be computed; the quality then says why
/// (``Quality/missing`` or ``Quality/stale(ageMs:)``).
public struct Figure: Sendable, Hashable, Codable {
    /// The value, or `nil` when it cannot be computed.
    public var value: Double?
    /// The quality of the value.
    public var quality: Quality

    @inlinable
    public init(value: Double?, quality: Quality) {
        self.value = value
        self.quality = quality
    }

    /// A measured value.
    @inlinable
    public static func measured(_ value: Double) -> Figure { Figure(value: value, quality: .measured) }

    /// A value of which `share` is estimated.
    @inlinable
    public static func estimated(_ value: Double, share: Double) -> Figure {
        Figure(value: value, quality: share > 0 ? .estimated(share: share) : .measured)
    }

    /// No value.
    public static let missing = Figure(value: nil, quality: .missing)

    /// A structural zero: the participant has no device of this kind, so the quantity is zero
    /// by construction (not a gap).
    public static let none = Figure(value: 0, quality: .measured)
}
