/// A broken invariant found by ``IntervalRecord/validate()``.
public struct InvariantViolation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The invariant that does not hold.
    public enum Rule: String, Sendable, Hashable, Codable, CaseIterable {
        /// `A_i ≥ 0`.
        case allocationNonNegative
        /// `A_i ≤ I_i`.
        case allocationWithinImport
        /// `Σ A_i ≤ P`.
        case allocationsWithinPool
        /// `R_i = I_i − A_i`.
        case residualImport
        /// `0 ≤ RX_i ≤ X_i`.
        case residualExport
        /// `C_i = I_i + V_i + D_i − X_i − Ch_i`.
        case consumptionIdentity
        /// Hub sums equal the sums of participants' figures; `P = Σ X_i + PV_coll + D_coll`.
        case hubSums
        /// `Σ A_i + charge from pool + S_exp = P`.
        case poolBalance
        /// `Σ R_i + charge from grid − S_exp = net exchange` (energy conservation).
        case energyConservation
        /// `I_hub − X_hub = net`, both ≥ 0, at most one positive.
        case netting
        /// `Σ RX_i + Σ RX_asset = S_exp`.
        case residualExportSum
        /// A value is NaN or infinite.
        case finite
    }

    public var rule: Rule
    /// The participant concerned, if any.
    public var participant: ParticipantID?
    /// The numbers that disagree.
    public var detail: String

    public init(_ rule: Rule, participant: ParticipantID? = nil, _ detail: String) {
        self.rule = rule
        self.participant = participant
        self.detail = detail
    }

    public var description: String {
        "\(rule.rawValue)\(participant.map { " [\($0)]" } ?? ""): \(detail)"
    }
}
