/// How the pool of local energy is split between participants in each interval.
///
/// "Consumption" in key names follows the EU schemes: the metered offtake at the connection
/// point (grid import `I_i`), which caps every allocation. Formulas and sources are in
/// docs/energy-model.md ("Allocation keys").
public enum AllocationKey: Sendable, Hashable, Codable {
    /// Dynamic key, the default in FR/AT/BE/DE: `A_i = P·I_i/ΣI` when `P < ΣI`, else `A_i = I_i`.
    case proRataConsumption
    /// Fixed shares `k_i` (`Σk ≤ 1`), each capped by the participant's import. With
    /// ``Remainder/exported`` the unused part is exported (Austrian legal default); with
    /// ``Remainder/redistributed`` it is water-filled to the others in proportion to `k_i`.
    /// Participants without a share receive nothing.
    case staticShares(shares: [ParticipantID: Double], remainder: Remainder)
    /// Equal weights with redistribution: water-filling, so `A_i = min(I_i, λ)` for one level λ.
    case equalShares
    /// Participants are served in this order, each up to its import. Members not listed are
    /// served after all listed ones, pro rata to their import.
    case priority(order: [ParticipantID])

    /// What happens to the part of a static share that its holder does not consume.
    public enum Remainder: String, Sendable, Hashable, Codable {
        /// Booked as surplus and exported; no re-allocation.
        case exported
        /// Re-allocated by iterative water-filling until nothing is left or everyone is served.
        case redistributed
    }

    /// The default key.
    public static let `default` = AllocationKey.proRataConsumption

    /// Versioned name of the key's rules, written into every record.
    public var version: String {
        switch self {
        case .proRataConsumption: return "pro-rata-consumption/1"
        case .staticShares(_, .exported): return "static-shares-exported/1"
        case .staticShares(_, .redistributed): return "static-shares-redistributed/1"
        case .equalShares: return "equal-shares/1"
        case .priority: return "priority/1"
        }
    }

    /// Checks the key against the model's participants.
    public func validate(participants: Set<ParticipantID>) throws(HubModelError) {
        switch self {
        case .proRataConsumption, .equalShares:
            return
        case .staticShares(let shares, _):
            var sum = 0.0
            for (participant, share) in shares.sorted(by: { $0.key < $1.key }) {
                guard participants.contains(participant) else {
                    throw HubModelError(.unknownParticipant, "static share for \(participant)")
                }
                guard share.isFinite, share >= 0, share <= 1 else {
                    throw HubModelError(.invalidStaticShare, "static share \(share) for \(participant)")
                }
                sum += share
            }
            guard sum <= 1 + HubModel.shareTolerance else {
                throw HubModelError(.staticSharesExceedOne, "static shares sum to \(sum)")
            }
        case .priority(let order):
            var seen = Set<ParticipantID>()
            for participant in order {
                guard participants.contains(participant) else {
                    throw HubModelError(.unknownParticipant, "priority entry \(participant)")
                }
                guard seen.insert(participant).inserted else {
                    throw HubModelError(.duplicatePriorityEntry, "priority entry \(participant)")
                }
            }
        }
    }

    /// Splits `pool` (W or Wh) among `demands` (each participant's import, same unit).
    ///
    /// A convenience for reports and tests; the real-time path uses a preallocated workspace.
    /// Participants absent from `demands` are treated as absent from the interval.
    public func allocate(pool: Double, demands: [ParticipantID: Double]) -> [ParticipantID: Double] {
        let ids = demands.keys.sorted()
        var slots: [ParticipantID: Int] = [:]
        for (slot, id) in ids.enumerated() { slots[id] = slot }
        let plan = AllocationPlan(key: self, slotByID: slots, count: ids.count)
        var workspace = AllocationWorkspace(count: ids.count)
        for (slot, id) in ids.enumerated() { workspace.demand[slot] = max(0, demands[id] ?? 0) }
        workspace.allocate(plan: plan, pool: max(0, pool))
        var result: [ParticipantID: Double] = [:]
        for (slot, id) in ids.enumerated() { result[id] = workspace.result[slot] }
        return result
    }
}
