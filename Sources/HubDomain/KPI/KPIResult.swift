/// Notes attached to a KPI value.
public struct KPIFlags: OptionSet, Sendable, Hashable, Codable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// The flags a period earns from how many of its intervals were unusual.
    init(negativeConsumptionIntervals: Int, estimatedIntervals: Int, excludedIntervals: Int) {
        self = []
        if negativeConsumptionIntervals > 0 { insert(.negativeConsumptionInterval) }
        if estimatedIntervals > 0 { insert(.estimatedInputs) }
        if excludedIntervals > 0 { insert(.incompleteIntervalsExcluded) }
    }

    /// At least one interval in the period had negative derived consumption (metering error).
    /// The interval is included as metered, not clamped.
    public static let negativeConsumptionInterval = KPIFlags(rawValue: 1 << 0)
    /// The ratio is outside `0...1` (e.g. more import than consumption because a battery was
    /// charged from the grid and still holds the energy). Kept raw; clamp only for display.
    public static let outsideUnitRange = KPIFlags(rawValue: 1 << 1)
    /// Some inputs were estimated.
    public static let estimatedInputs = KPIFlags(rawValue: 1 << 2)
    /// Intervals without the needed figures were left out (numerator and denominator alike).
    public static let incompleteIntervalsExcluded = KPIFlags(rawValue: 1 << 3)
}

/// Why a KPI has no value.
public enum KPIUndefinedReason: String, Sendable, Hashable, Codable {
    /// `Σ C = 0`: nothing was consumed, so no share of it can be local.
    case noConsumption
    /// `Σ C < 0`: the metered energies contradict each other (metering error).
    case negativeConsumption
    /// `Σ V = 0`: nothing was produced, so no share of it can be consumed.
    case noProduction
    /// No interval of the period had the needed figures.
    case noCompleteIntervals
}

/// A KPI value, or the reason why there is none.
public enum KPIResult: Sendable, Hashable, Codable {
    /// The raw ratio (not clamped) and its notes.
    case value(Double, flags: KPIFlags)
    /// No value, with the reason and notes.
    case undefined(KPIUndefinedReason, flags: KPIFlags)

    /// The raw ratio, or `nil`.
    public var value: Double? {
        if case .value(let value, _) = self { return value }
        return nil
    }

    /// The ratio clamped to `0...1` for display, or `nil`. Records and exports keep the raw value.
    public var displayValue: Double? { value.map { min(1, max(0, $0)) } }

    /// The notes.
    public var flags: KPIFlags {
        switch self {
        case .value(_, let flags), .undefined(_, let flags): return flags
        }
    }
}
