import HubDomain
import Testing

@Suite struct RealTimeBalancerTests {
    let now = dayStart.plus(h: 12)

    func model(key: AllocationKey = .proRataConsumption) -> HubModel {
        HubModel(
            hubID: "park",
            participants: [
                participant("a", pv: true, battery: true), participant("b"),
                participant("late", membership: Membership(joinedAt: dayStart.plus(h: 13))),
            ],
            sharedAssets: [
                SharedAsset(
                    id: "field", device: Device(id: "field-pv", kind: .pvInverter),
                    ownership: [.init(participant: "a", share: 0.5), .init(participant: "b", share: 0.5)]),
                SharedAsset(
                    id: "hubbat", device: Device(id: "hub-bat", kind: .battery),
                    ownership: [.init(participant: "a", share: 1)]),
            ],
            allocationKey: key)
    }

    func reading(_ watts: Double, age: Int64 = 1000) -> Reading {
        Reading(value: watts, acquiredAt: now.adding(milliseconds: -age))
    }

    @Test func balancesAndAllocates() throws {
        var balancer = try RealTimeBalancer(model: model())
        var readings = balancer.makeReadings()
        // a: PV 5000 W, battery charging 1000 W (−1000), grid −3000 W (export) → C = −3000 + 5000 − 1000 = 1000 W.
        readings.set(reading(-3000), for: "a-grid")
        readings.set(reading(5000), for: "a-pv")
        readings.set(reading(-1000), for: "a-bat")
        // b imports 4000 W. Field produces 500 W; hub battery charges 200 W.
        readings.set(reading(4000), for: "b-grid")
        readings.set(reading(500), for: "field-pv")
        readings.set(reading(-200), for: "hub-bat")
        readings.set(reading(99), for: "late-grid")
        balancer.compute(readings, now: now)

        let a = try #require(balancer.balance(of: "a"))
        #expect(a.consumptionW.value == 1000)
        #expect(a.exportW.value == 3000)
        #expect(a.importW.value == 0)
        #expect(a.allocationW.value == 0)
        let b = try #require(balancer.balance(of: "b"))
        // Pool = 3000 + 500 + 0 = 3500 < ΣI = 4000 → b gets all 3500, residual 500.
        #expect(b.allocationW.value == 3500)
        #expect(b.residualImportW.value == 500)
        #expect(balancer.balance(of: "late")?.isMember == false)
        let hub = balancer.hub
        #expect(hub.memberCount == 2)
        #expect(hub.poolW.value == 3500)
        #expect(hub.allocatedW.value == 3500)
        // Nothing left for the hub battery: it charges from the grid.
        #expect(hub.collectiveChargeFromPoolW.value == 0)
        #expect(hub.exportedSurplusW.value == 0)
        // Net: −3000 + 4000 − 500 − (−200) = 700 W import.
        #expect(hub.netGridW.value == 700)
        #expect(hub.consumptionW.value == 5000)
        #expect(hub.productionW.value == 5500)
        #expect(hub.isComplete)
        #expect(hub.keyVersion == "pro-rata-consumption/1")
    }

    @Test func staleReadingMakesFiguresIncompleteNotWrong() throws {
        var balancer = try RealTimeBalancer(model: model(), configuration: BalanceConfiguration(staleAfterMs: 5000))
        var readings = balancer.makeReadings()
        readings.set(reading(-3000), for: "a-grid")
        readings.set(reading(5000, age: 60_000), for: "a-pv")  // a minute old: stale
        readings.set(reading(-1000), for: "a-bat")
        readings.set(reading(4000), for: "b-grid")
        readings.set(reading(500), for: "field-pv")
        readings.set(reading(0), for: "hub-bat")
        balancer.compute(readings, now: now)
        let a = try #require(balancer.balance(of: "a"))
        #expect(a.productionW.value == nil)
        #expect(a.productionW.quality == .stale(ageMs: 60_000))
        #expect(a.consumptionW.value == nil)
        #expect(a.consumptionW.quality == .stale(ageMs: 60_000))
        // The grid figure and the allocation do not depend on PV: still exact.
        #expect(a.gridW.value == -3000)
        #expect(balancer.balance(of: "b")?.allocationW.value == 3500)
        #expect(balancer.hub.consumptionW.value == nil)
        #expect(!balancer.hub.isComplete)
        #expect(balancer.hub.incompleteParticipantCount == 1)
    }

    @Test func missingGridMeterMakesAllocationIncomplete() throws {
        var balancer = try RealTimeBalancer(model: model())
        var readings = balancer.makeReadings()
        readings.set(reading(4000), for: "b-grid")
        readings.set(reading(500), for: "field-pv")
        readings.set(reading(0), for: "hub-bat")
        readings.set(reading(0), for: "a-pv")
        readings.set(reading(0), for: "a-bat")
        readings.set(Reading(value: .nan, acquiredAt: now), for: "a-grid")
        balancer.compute(readings, now: now)
        #expect(balancer.hub.poolW.value == nil)
        #expect(balancer.hub.netGridW.value == nil)
        #expect(balancer.balance(of: "b")?.allocationW.value == nil)
        #expect(balancer.balance(of: "b")?.allocationW.quality == .missing)
        #expect(!balancer.hub.isComplete)
    }

    @Test func estimatedQualityPropagatesWithShare() throws {
        var balancer = try RealTimeBalancer(model: HubModel(hubID: "h", participants: [participant("a", pv: true)]))
        var readings = balancer.makeReadings()
        readings.set(Reading(value: 1000, quality: .measured, acquiredAt: now), for: "a-grid")
        readings.set(Reading(value: 3000, quality: .estimated(share: 1), acquiredAt: now), for: "a-pv")
        balancer.compute(readings, now: now)
        // C = 1000 + 3000; magnitude-weighted estimated share = 3000 / 4000 = 0.75.
        let a = try #require(balancer.balance(of: "a"))
        #expect(a.consumptionW.value == 4000)
        #expect(a.consumptionW.quality == .estimated(share: 0.75))
    }

    @Test func membersJoinAtQuarterHours() throws {
        var balancer = try RealTimeBalancer(model: model())
        var readings = balancer.makeReadings()
        for device in ["a-grid", "a-pv", "a-bat", "b-grid", "field-pv", "hub-bat", "late-grid"] {
            readings.set(Reading(value: 100, acquiredAt: dayStart.plus(h: 13)), for: DeviceID(device))
        }
        balancer.compute(readings, now: dayStart.plus(h: 13))
        #expect(balancer.balance(of: "late")?.isMember == true)
        #expect(balancer.hub.memberCount == 3)
    }
}
