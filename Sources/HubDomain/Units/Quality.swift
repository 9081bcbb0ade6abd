/// How trustworthy a value is. Every input value and every output figure carries one.
///
/// A value that cannot be computed is never replaced by zero: it is `nil` with quality
/// ``missing`` (or ``stale(ageMs:)`` when the last reading is too old).
public enum Quality: Sendable, Hashable, Codable {
    /// Read from a meter or computed only from measured values.
    case measured
    /// Partly or wholly estimated (power integration, interpolation over a long gap).
    /// `share` is the fraction of the figure (by energy, or by time when the energy is zero)
    /// that is estimated, in `0...1`.
    case estimated(share: Double)
    /// The latest reading is older than the configured limit; `ageMs` is its age.
    case stale(ageMs: Int64)
    /// No value at all.
    case missing

    /// `true` for ``measured`` and ``estimated(share:)``: the value may be used in sums.
    @inlinable
    public var isUsable: Bool {
        switch self {
        case .measured, .estimated: return true
        case .stale, .missing: return false
        }
    }

    /// The estimated share: 0 for measured, 1 for unusable qualities.
    @inlinable
    public var estimatedShare: Double {
        switch self {
        case .measured: return 0
        case .estimated(let share): return share
        case .stale, .missing: return 1
        }
    }
}

/// Folds the qualities of the terms of a sum into the quality of the sum, without allocating.
///
/// Rules: any ``Quality/missing`` term makes the sum missing; otherwise any stale term makes
/// it stale (with the oldest age); otherwise the estimated share is the magnitude-weighted
/// share of the terms (or the largest share when all magnitudes are zero).
@usableFromInline
struct QualityAccumulator: Sendable {
    @usableFromInline var missing = false
    @usableFromInline var staleAge: Int64 = -1
    @usableFromInline var magnitude = 0.0
    @usableFromInline var estimatedMagnitude = 0.0
    @usableFromInline var maxShare = 0.0

    @inlinable init() {}

    @inlinable
    mutating func add(_ quality: Quality, magnitude value: Double) {
        switch quality {
        case .missing:
            missing = true
        case .stale(let age):
            staleAge = max(staleAge, age)
        case .measured:
            magnitude += abs(value)
        case .estimated(let share):
            magnitude += abs(value)
            estimatedMagnitude += abs(value) * share
            maxShare = max(maxShare, share)
        }
    }

    @inlinable
    var quality: Quality {
        if missing { return .missing }
        if staleAge >= 0 { return .stale(ageMs: staleAge) }
        if maxShare == 0 { return .measured }
        let share = magnitude > 0 ? estimatedMagnitude / magnitude : maxShare
        return .estimated(share: min(1, max(0, share)))
    }
}
