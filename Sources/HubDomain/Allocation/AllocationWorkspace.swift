/// Preallocated buffers for one allocation run; allocating reuses them and never touches the heap.
///
/// Fill ``demand`` (import per slot, ≥ 0; zero for non-members), call
/// ``allocate(plan:pool:)``, read ``result``. Guarantees, whatever the key:
/// `0 ≤ result[i] ≤ demand[i]` and `Σ result ≤ pool` (up to rounding of one ulp per term).
struct AllocationWorkspace: Sendable {
    var demand: [Double]
    var result: [Double]
    private var order: [Int]
    private var ratio: [Double]

    init(count: Int) {
        demand = Array(repeating: 0, count: count)
        result = Array(repeating: 0, count: count)
        order = Array(repeating: 0, count: count)
        ratio = Array(repeating: 0, count: count)
    }

    var count: Int { demand.count }

    mutating func allocate(plan: AllocationPlan, pool: Double) {
        for index in 0..<count { result[index] = 0 }
        guard pool > 0 else { return }
        switch plan.method {
        case .proRata:
            proRata(pool: pool, include: nil)
        case .cappedShares:
            for index in 0..<count where demand[index] > 0 {
                result[index] = min(demand[index], plan.weights[index] * pool)
            }
        case .waterFilling:
            waterFill(pool: pool, weights: plan.weights)
        case .priority:
            var remaining = pool
            for slot in plan.order where remaining > 0 && demand[slot] > 0 {
                let granted = min(demand[slot], remaining)
                result[slot] = granted
                remaining -= granted
            }
            if remaining > 0 { proRata(pool: remaining, include: plan.listed) }
        }
    }

    /// `A_i = P·I_i/ΣI` when `P < ΣI`, else `A_i = I_i`. With `include`, only slots where
    /// `include[i]` is false take part (the unlisted members of a priority key).
    private mutating func proRata(pool: Double, include listed: [Bool]?) {
        var total = 0.0
        for index in 0..<count where demand[index] > 0 && !(listed?[index] ?? false) {
            total += demand[index]
        }
        guard total > 0 else { return }
        if pool >= total {
            for index in 0..<count where demand[index] > 0 && !(listed?[index] ?? false) {
                result[index] = demand[index]
            }
            return
        }
        for index in 0..<count where demand[index] > 0 && !(listed?[index] ?? false) {
            result[index] = min(demand[index], pool * demand[index] / total)
        }
    }

    /// Weighted water-filling, solved exactly: `A_i = min(I_i, λ·k_i)` with λ chosen so that
    /// `Σ A_i = min(P, Σ_{k_i>0} I_i)`. This is the fixed point of the iterative loop in
    /// docs/energy-model.md, reached in one sort instead of up to n rounds.
    private mutating func waterFill(pool: Double, weights: [Double]) {
        var active = 0
        var totalDemand = 0.0
        var totalWeight = 0.0
        for index in 0..<count where demand[index] > 0 && weights[index] > 0 {
            order[active] = index
            ratio[index] = demand[index] / weights[index]
            totalDemand += demand[index]
            totalWeight += weights[index]
            active += 1
        }
        guard active > 0 else { return }
        if pool >= totalDemand {
            for k in 0..<active { result[order[k]] = demand[order[k]] }
            return
        }
        heapSortActive(active)
        var remainingPool = pool
        var remainingWeight = totalWeight
        var k = 0
        while k < active {
            let index = order[k]
            guard ratio[index] * remainingWeight <= remainingPool else { break }
            result[index] = demand[index]
            remainingPool -= demand[index]
            remainingWeight -= weights[index]
            k += 1
        }
        // The rest share what is left in proportion to their weights; none of them is capped.
        var restWeight = 0.0
        for rest in k..<active { restWeight += weights[order[rest]] }
        guard restWeight > 0, remainingPool > 0 else { return }
        let level = remainingPool / restWeight
        while k < active {
            let index = order[k]
            result[index] = min(demand[index], weights[index] * level)
            k += 1
        }
    }

    /// In-place heap sort of `order[0..<n]` by `ratio` ascending (no temporary buffers).
    private mutating func heapSortActive(_ n: Int) {
        guard n > 1 else { return }
        var start = n / 2 - 1
        while start >= 0 {
            siftDown(start, n)
            start -= 1
        }
        var end = n - 1
        while end > 0 {
            order.swapAt(0, end)
            siftDown(0, end)
            end -= 1
        }
    }

    private mutating func siftDown(_ start: Int, _ end: Int) {
        var root = start
        while true {
            var child = 2 * root + 1
            guard child < end else { return }
            if child + 1 < end, key(child + 1) > key(child) { child += 1 }
            guard key(child) > key(root) else { return }
            order.swapAt(root, child)
            root = child
        }
    }

    /// Sort key with a deterministic tie-break on the slot index.
    @inline(__always)
    private func key(_ position: Int) -> (Double, Int) {
        (ratio[order[position]], order[position])
    }
}
