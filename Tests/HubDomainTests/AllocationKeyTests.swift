import HubDomain
import Testing

/// Golden allocations, computed by hand (arithmetic in the comments).
@Suite struct AllocationKeyTests {
    @Test func austrianDynamicExample() {
        // e-gemeinschaft.at/verteilung.php: generation 4241 Wh, community consumption 4917 Wh,
        // member Brecht 572 Wh → 572 × 4241 / 4917 = 493.36 Wh ≈ 493 Wh.
        // The other members together consume 4917 − 572 = 4345 Wh → 4345 × 4241 / 4917 = 3747.64 Wh.
        let result = AllocationKey.proRataConsumption.allocate(pool: 4241, demands: ["Brecht": 572, "others": 4345])
        #expect(approx(result["Brecht"], 572 * 4241 / 4917))
        #expect(result["Brecht"].map { $0.rounded() } == 493)
        #expect(approx(result["others"], 3747.639, tolerance: 0.001))
        #expect(approx(result.values.reduce(0, +), 4241))
    }

    @Test func proRataServesEveryoneWhenThePoolSuffices() {
        // P = 1000 ≥ ΣI = 700 → A_i = I_i, surplus 300.
        let result = AllocationKey.proRataConsumption.allocate(pool: 1000, demands: ["a": 300, "b": 400, "c": 0])
        #expect(result == ["a": 300, "b": 400, "c": 0])
    }

    @Test func staticSharesExported() {
        // P = 900, k = (a .5, b .3, c .2), I = (300, 600, 100):
        // a = min(300, 450) = 300; b = min(600, 270) = 270; c = min(100, 180) = 100; Σ = 670, 230 exported.
        let key = AllocationKey.staticShares(shares: ["a": 0.5, "b": 0.3, "c": 0.2], remainder: .exported)
        let result = key.allocate(pool: 900, demands: ["a": 300, "b": 600, "c": 100])
        #expect(approx(result["a"], 300))
        #expect(approx(result["b"], 270))
        #expect(approx(result["c"], 100))
        #expect(key.version == "static-shares-exported/1")
    }

    @Test func staticSharesRedistributed() {
        // Same inputs, water-filling. Round 1: a 450→300 (capped), b 270, c 180→100 (capped);
        // left 900 − 670 = 230; only b is still active: b = 270 + 230 = 500. Σ = 900.
        let key = AllocationKey.staticShares(shares: ["a": 0.5, "b": 0.3, "c": 0.2], remainder: .redistributed)
        let result = key.allocate(pool: 900, demands: ["a": 300, "b": 600, "c": 100])
        #expect(approx(result["a"], 300))
        #expect(approx(result["b"], 500))
        #expect(approx(result["c"], 100))
        #expect(key.version == "static-shares-redistributed/1")
    }

    @Test func staticSharesLeaveParticipantsWithoutShareEmpty() {
        // d has no share: it receives nothing even with redistribution; a is capped at 100,
        // the rest (1000 − 100 = 900) goes to b, capped at 300; 600 remain unallocated.
        let key = AllocationKey.staticShares(shares: ["a": 0.5, "b": 0.5], remainder: .redistributed)
        let result = key.allocate(pool: 1000, demands: ["a": 100, "b": 300, "d": 500])
        #expect(result == ["a": 100, "b": 300, "d": 0])
    }

    @Test func equalSharesWaterFill() {
        // P = 900, I = (a 400, b 600, c 100): c is served (100), 800 left for two → 400 each;
        // a is served exactly (400), b gets 400.
        let result = AllocationKey.equalShares.allocate(pool: 900, demands: ["a": 400, "b": 600, "c": 100])
        #expect(approx(result["a"], 400))
        #expect(approx(result["b"], 400))
        #expect(approx(result["c"], 100))
        #expect(AllocationKey.equalShares.version == "equal-shares/1")
    }

    @Test func priorityOrderThenUnlistedProRata() {
        // Order b, a; c and d unlisted. P = 1000, I = (a 300, b 600, c 100, d 300):
        // b 600 (400 left), a 300 (100 left), c and d pro rata: c = 100·100/400 = 25, d = 100·300/400 = 75.
        let key = AllocationKey.priority(order: ["b", "a"])
        let result = key.allocate(pool: 1000, demands: ["a": 300, "b": 600, "c": 100, "d": 300])
        #expect(approx(result["b"], 600))
        #expect(approx(result["a"], 300))
        #expect(approx(result["c"], 25))
        #expect(approx(result["d"], 75))
        #expect(key.version == "priority/1")
    }

    @Test func emptyPoolAndNoDemand() {
        for key in [
            AllocationKey.proRataConsumption, .equalShares, .priority(order: ["a"]),
            .staticShares(shares: ["a": 1], remainder: .redistributed),
        ] {
            #expect(key.allocate(pool: 0, demands: ["a": 10]) == ["a": 0])
            #expect(key.allocate(pool: 10, demands: ["a": 0]) == ["a": 0])
        }
    }
}
