/// An ``AllocationKey`` compiled to per-slot arrays, so that allocating does not hash ids.
struct AllocationPlan: Sendable {
    enum Method: Sendable {
        case proRata
        case cappedShares
        case waterFilling
        case priority
    }

    var method: Method
    /// Per slot: static share or equal weight (1); unused by pro rata and priority.
    var weights: [Double]
    /// Slots in priority order (priority key only).
    var order: [Int]
    /// Per slot: listed in the priority order.
    var listed: [Bool]

    init(key: AllocationKey, slotByID: [ParticipantID: Int], count: Int) {
        weights = Array(repeating: 0, count: count)
        order = []
        listed = Array(repeating: false, count: count)
        switch key {
        case .proRataConsumption:
            method = .proRata
        case .equalShares:
            method = .waterFilling
            weights = Array(repeating: 1, count: count)
        case .staticShares(let shares, let remainder):
            method = remainder == .exported ? .cappedShares : .waterFilling
            for (id, share) in shares {
                if let slot = slotByID[id] { weights[slot] = share }
            }
        case .priority(let ids):
            method = .priority
            for id in ids {
                if let slot = slotByID[id] {
                    order.append(slot)
                    listed[slot] = true
                }
            }
        }
    }
}
