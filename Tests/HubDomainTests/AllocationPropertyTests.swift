import HubDomain
import PropertyBased
import Testing

/// The iterative water-filling loop as written in docs/energy-model.md (reference for the
/// exact solver in the module).
func iterativeWaterFilling(pool: Double, demands: [Double], weights: [Double]) -> [Double] {
    var allocation = Array(repeating: 0.0, count: demands.count)
    var active = demands.indices.filter { demands[$0] > 0 && weights[$0] > 0 }
    for _ in 0...demands.count + 1 {
        let left = pool - allocation.reduce(0, +)
        guard left > 1e-9, !active.isEmpty else { break }
        let total = active.reduce(0) { $0 + weights[$1] }
        for index in active { allocation[index] = min(demands[index], allocation[index] + left * weights[index] / total) }
        active = active.filter { allocation[$0] < demands[$0] }
    }
    return allocation
}

@Suite struct AllocationPropertyTests {
    static let demands = Gen.int(in: 0...5000).array(of: 1...25)
    static let pool = Gen.int(in: 0...60000)

    private static func ids(_ count: Int) -> [ParticipantID] { (0..<count).map { ParticipantID("p\(100 + $0)") } }

    private static func check(_ key: AllocationKey, pool: Int, demands: [Int]) -> [Double] {
        let ids = ids(demands.count)
        var input: [ParticipantID: Double] = [:]
        for (id, demand) in zip(ids, demands) { input[id] = Double(demand) }
        let result = key.allocate(pool: Double(pool), demands: input)
        let values = ids.map { result[$0]! }
        let tolerance = 1e-6 * Double(max(pool, 1))
        for (value, demand) in zip(values, demands) {
            #expect(value >= 0)
            #expect(value <= Double(demand) + 1e-9)
        }
        #expect(values.reduce(0, +) <= Double(pool) + tolerance)
        return values
    }

    @Test func proRataInvariants() async {
        await propertyCheck(count: 300, input: Self.pool, Self.demands) { pool, demands in
            let values = Self.check(.proRataConsumption, pool: pool, demands: demands)
            let total = Double(demands.reduce(0, +))
            // Σ A = min(P, ΣI): the dynamic key wastes nothing.
            #expect(abs(values.reduce(0, +) - min(Double(pool), total)) <= 1e-6 * max(1, total))
            // Proportionality: A_i / I_i is the same for every i with I_i > 0.
            if total > 0 {
                let ratio = min(1, Double(pool) / total)
                for (value, demand) in zip(values, demands) { #expect(abs(value - ratio * Double(demand)) <= 1e-6) }
            }
        }
    }

    @Test func equalSharesMatchIterativeLoopAndAreMaxMinFair() async {
        await propertyCheck(count: 300, input: Self.pool, Self.demands) { pool, demands in
            let values = Self.check(.equalShares, pool: pool, demands: demands)
            let reference = iterativeWaterFilling(
                pool: Double(pool), demands: demands.map(Double.init), weights: demands.map { _ in 1 })
            for (value, expected) in zip(values, reference) { #expect(abs(value - expected) <= 1e-6 * max(1, Double(pool))) }
            let total = Double(demands.reduce(0, +))
            #expect(abs(values.reduce(0, +) - min(Double(pool), total)) <= 1e-6 * max(1, total))
            // Nobody who is not fully served receives less than anybody else.
            let unserved = zip(values, demands).filter { $0.0 < Double($0.1) - 1e-6 }.map(\.0)
            if let level = unserved.min() { for value in values { #expect(value <= level + 1e-6) } }
        }
    }

    @Test func staticSharesRedistributedMatchIterativeLoop() async {
        let shares = Gen.int(in: 0...100).array(of: 1...25)
        await propertyCheck(count: 300, input: Self.pool, Self.demands, shares) { pool, demands, rawShares in
            let count = min(demands.count, rawShares.count)
            let demands = Array(demands.prefix(count))
            let raw = rawShares.prefix(count).map(Double.init)
            let sum = max(1, raw.reduce(0, +))
            let weights = raw.map { $0 / sum }
            var shareMap: [ParticipantID: Double] = [:]
            for (id, weight) in zip(Self.ids(count), weights) { shareMap[id] = weight }
            let redistributed = Self.check(
                .staticShares(shares: shareMap, remainder: .redistributed), pool: pool, demands: demands)
            let reference = iterativeWaterFilling(pool: Double(pool), demands: demands.map(Double.init), weights: weights)
            for (value, expected) in zip(redistributed, reference) {
                #expect(abs(value - expected) <= 1e-6 * max(1, Double(pool)))
            }
            let exported = Self.check(.staticShares(shares: shareMap, remainder: .exported), pool: pool, demands: demands)
            for (index, value) in exported.enumerated() {
                #expect(abs(value - min(Double(demands[index]), weights[index] * Double(pool))) <= 1e-9)
                // Redistribution never gives anyone less than the plain share.
                #expect(redistributed[index] >= value - 1e-6)
            }
        }
    }

    @Test func priorityServesInOrder() async {
        await propertyCheck(count: 200, input: Self.pool, Self.demands) { pool, demands in
            let ids = Self.ids(demands.count)
            let order = Array(ids.reversed())
            let values = Self.check(.priority(order: order), pool: pool, demands: demands)
            var remaining = Double(pool)
            for index in values.indices.reversed() {
                let expected = min(Double(demands[index]), max(0, remaining))
                #expect(abs(values[index] - expected) <= 1e-6)
                remaining -= expected
            }
        }
    }
}
