import HubDomain
import Testing

/// Hand-computed golden records, one per key, plus battery origin accounting.
@Suite struct IntervalSettlementGoldenTests {
    let interval = SettlementInterval(containing: dayStart.plus(h: 10))

    func settle(
        _ participants: [ParticipantEnergyInput], assets: [SharedAssetEnergyInput] = [],
        key: AllocationKey = .proRataConsumption, book: inout BatteryOriginBook
    ) -> IntervalRecord {
        IntervalSettlement.settle(
            hubID: "park", interval: interval, key: key, participants: participants, sharedAssets: assets,
            originBook: &book)
    }

    @Test func proRataWithCollectivePV() throws {
        // a imports 300; b has PV 500 and exports 200 (C_b = 500 − 200 = 300); c imports 100.
        // Collective field 100 Wh, owned a 50 %, c 50 %.
        // P = ΣX + PV_coll = 200 + 100 = 300 < ΣI = 400 → A_a = 300·300/400 = 225, A_c = 300·100/400 = 75.
        // Residual import: a 75, c 25. Surplus 0. net = 400 − 200 − 100 = 100 → I_hub 100.
        var book = BatteryOriginBook()
        let record = settle(
            [
                .measured("a", importWh: 300, exportWh: 0), .measured("b", importWh: 0, exportWh: 200, pvWh: 500),
                .measured("c", importWh: 100, exportWh: 0),
            ],
            assets: [
                SharedAssetEnergyInput(
                    asset: "field", kind: .pvInverter, productionWh: .measured(100),
                    ownership: [.init(participant: "a", share: 0.5), .init(participant: "c", share: 0.5)])
            ], book: &book)
        #expect(record.id == "park:2026-03-01T10:00:00.000Z")
        #expect(record.keyVersion == "pro-rata-consumption/1")
        #expect(record.violations.isEmpty)
        #expect(record.isComplete)
        #expect(record.quality == .measured)
        let a = try #require(record.participant("a"))
        let b = try #require(record.participant("b"))
        let c = try #require(record.participant("c"))
        #expect(approx(a.allocatedWh, 225))
        #expect(approx(c.allocatedWh, 75))
        #expect(approx(b.allocatedWh, 0))
        #expect(approx(a.residualImportWh, 75))
        #expect(approx(c.residualImportWh, 25))
        #expect(b.consumptionWh.value == 300)
        #expect(approx(a.collectiveProductionShareWh, 50))
        #expect(approx(record.hub.poolWh, 300))
        #expect(approx(record.hub.netExchangeWh, 100))
        #expect(approx(record.hub.gridImportWh, 100))
        #expect(approx(record.hub.gridExportWh, 0))
        #expect(approx(record.hub.exportedSurplusWh, 0))
        // All pool energy is PV → f_pool = 1. Grid-origin to load: a 300·(1 − 225/300) = 75, c 25.
        #expect(approx(record.hub.poolLocalFraction, 1))
        #expect(approx(a.gridOriginToLoadWh, 75))
        #expect(approx(record.hub.gridOriginToLoadWh, 100))
        // b's flows: 200 PV to grid, 300 PV to load.
        #expect(b.flows?.pvToGridWh == 200)
        #expect(b.flows?.pvToLoadWh == 300)
    }

    static let producerAndConsumers: [ParticipantEnergyInput] = [
        .measured("p", importWh: 0, exportWh: 900, pvWh: 900),
        .measured("a", importWh: 300, exportWh: 0), .measured("b", importWh: 600, exportWh: 0),
        .measured("c", importWh: 100, exportWh: 0),
    ]

    @Test func staticSharesExportedRecord() throws {
        // P = 900; k = a .5, b .3, c .2: A = (300, 270, 100), Σ 670, S_exp = 230.
        // Residual import: a 0, b 330, c 0. Residual export of p: 900 · 230 / 900 = 230.
        // net = ΣI − ΣX = 1000 − 900 = 100; check: ΣR − S = 330 − 230 = 100.
        var book = BatteryOriginBook()
        let key = AllocationKey.staticShares(shares: ["a": 0.5, "b": 0.3, "c": 0.2], remainder: .exported)
        let record = settle(Self.producerAndConsumers, key: key, book: &book)
        #expect(record.violations.isEmpty)
        #expect(approx(record.participant("b")?.allocatedWh, 270))
        #expect(approx(record.participant("b")?.residualImportWh, 330))
        #expect(approx(record.participant("p")?.residualExportWh, 230))
        #expect(approx(record.hub.exportedSurplusWh, 230))
        #expect(approx(record.hub.netExchangeWh, 100))
        // Netted per interval the hub imported 100 and exported nothing, although 230 left the pool.
        #expect(approx(record.hub.gridImportWh, 100))
        #expect(approx(record.hub.gridExportWh, 0))
        #expect(record.keyVersion == "static-shares-exported/1")
    }

    @Test func staticSharesRedistributedRecord() throws {
        // Water-filling: A = (300, 500, 100), Σ 900 = P; S_exp = 0. Residual: b 100. net = 100 = ΣR.
        var book = BatteryOriginBook()
        let key = AllocationKey.staticShares(shares: ["a": 0.5, "b": 0.3, "c": 0.2], remainder: .redistributed)
        let record = settle(Self.producerAndConsumers, key: key, book: &book)
        #expect(record.violations.isEmpty)
        #expect(approx(record.participant("b")?.allocatedWh, 500))
        #expect(approx(record.participant("b")?.residualImportWh, 100))
        #expect(approx(record.participant("p")?.residualExportWh, 0))
        #expect(approx(record.hub.exportedSurplusWh, 0))
    }

    @Test func equalSharesRecord() throws {
        // P = 900, I = (300, 600, 100); p has no demand. c 100, then 800/2 = 400 each: a 300 (capped),
        // 500 left for b → b 500. Σ 900.
        var book = BatteryOriginBook()
        let record = settle(Self.producerAndConsumers, key: .equalShares, book: &book)
        #expect(record.violations.isEmpty)
        #expect(approx(record.participant("a")?.allocatedWh, 300))
        #expect(approx(record.participant("b")?.allocatedWh, 500))
        #expect(approx(record.participant("c")?.allocatedWh, 100))
        #expect(approx(record.participant("p")?.allocatedWh, 0))
    }

    @Test func priorityRecord() throws {
        // Order c, b: c 100, b min(600, 800) = 600, 200 left for unlisted a (and p, no demand): a 200.
        var book = BatteryOriginBook()
        let record = settle(Self.producerAndConsumers, key: .priority(order: ["c", "b"]), book: &book)
        #expect(record.violations.isEmpty)
        #expect(approx(record.participant("c")?.allocatedWh, 100))
        #expect(approx(record.participant("b")?.allocatedWh, 600))
        #expect(approx(record.participant("a")?.allocatedWh, 200))
        #expect(approx(record.participant("a")?.residualImportWh, 100))
    }

    @Test func hubBatteryStoresPoolSurplusAndReturnsItAsLocal() throws {
        let battery = { (charge: Double, discharge: Double) in
            SharedAssetEnergyInput(
                asset: "hubbat", kind: .battery, chargeWh: .measured(charge), dischargeWh: .measured(discharge),
                ownership: [.init(participant: "a", share: 0.6), .init(participant: "p", share: 0.4)])
        }
        var book = BatteryOriginBook()
        // Interval 1: p exports 1000 PV, a imports 400, hub battery charges 500.
        // P = 1000, A_a = 400, left 600 → battery takes 500 from the pool, S_exp = 100.
        // net = 400 − 1000 + 500 = −100 → X_hub = 100. Battery content: local 500.
        let first = settle(
            [.measured("p", importWh: 0, exportWh: 1000, pvWh: 1000), .measured("a", importWh: 400, exportWh: 0)],
            assets: [battery(500, 0)], book: &book)
        #expect(first.violations.isEmpty)
        #expect(approx(first.hub.collectiveChargeFromPoolWh, 500))
        #expect(approx(first.hub.exportedSurplusWh, 100))
        #expect(approx(first.hub.gridExportWh, 100))
        #expect(approx(first.participant("p")?.residualExportWh, 100))
        #expect(book.sharedAssets["hubbat"] == BatteryOriginState(localWh: 500, gridWh: 0))
        // Owners' shares of the content: a 60 % of 500 = 300.
        #expect(approx(first.participant("a")?.sharedBatteryContent?.localWh, 300))

        // Interval 2 (night): p imports 200, a imports 500, battery discharges 300 (all local).
        // P = 300 < ΣI = 700 → A_p = 300·200/700 = 85.714, A_a = 300·500/700 = 214.286.
        // net = 700 − 300 = 400 = ΣR. Battery content: local 200.
        let second = settle(
            [.measured("p", importWh: 200, exportWh: 0), .measured("a", importWh: 500, exportWh: 0)],
            assets: [battery(0, 300)], book: &book)
        #expect(second.violations.isEmpty)
        #expect(approx(second.participant("p")?.allocatedWh, 300.0 * 200 / 700))
        #expect(approx(second.participant("a")?.allocatedWh, 300.0 * 500 / 700))
        #expect(approx(second.hub.gridImportWh, 400))
        #expect(approx(second.hub.poolLocalFraction, 1))
        #expect(book.sharedAssets["hubbat"] == BatteryOriginState(localWh: 200, gridWh: 0))

        // Hub KPIs over both intervals, sums then ratio: Σ I_hub = 0 + 400, Σ C = 400 + 700 = 1100
        // → SS_hub = 1 − 400/1100 = 0.6364 (the mean of the interval ratios, (1 + 3/7)/2 = 0.714, is wrong).
        let kpis = KPIAggregator(records: [first, second])
        #expect(approx(kpis.hub.selfSufficiency.value, 1 - 400.0 / 1100))
        // SC_hub = 1 − Σ X_hub / Σ PV = 1 − 100/1000 = 0.9.
        #expect(approx(kpis.hub.selfConsumption.value, 0.9))
    }

    @Test func gridChargedHubBatteryIsNotLocalInTheVariant() throws {
        let battery = { (charge: Double, discharge: Double) in
            SharedAssetEnergyInput(
                asset: "hubbat", kind: .battery, chargeWh: .measured(charge), dischargeWh: .measured(discharge),
                ownership: [.init(participant: "a", share: 1)])
        }
        var book = BatteryOriginBook()
        // Interval 1: no PV; a imports 100; the hub battery charges 500 from the grid.
        let first = settle([.measured("a", importWh: 100, exportWh: 0)], assets: [battery(500, 0)], book: &book)
        #expect(approx(first.hub.collectiveChargeFromGridWh, 500))
        #expect(book.sharedAssets["hubbat"] == BatteryOriginState(localWh: 0, gridWh: 500))
        // Interval 2: battery discharges 300, a imports 300: P = 300 = ΣI → A_a = 300, residual 0,
        // but the pool is grid energy (f_pool = 0), so gridOriginToLoad_a = 300.
        let second = settle([.measured("a", importWh: 300, exportWh: 0)], assets: [battery(0, 300)], book: &book)
        #expect(approx(second.participant("a")?.allocatedWh, 300))
        #expect(approx(second.hub.poolLocalFraction, 0))
        #expect(approx(second.participant("a")?.gridOriginToLoadWh, 300))
        let kpis = KPIAggregator(records: [first, second])
        let a = try #require(kpis.participant("a"))
        // After sharing: 1 − (100 + 0)/(100 + 300) = 0.75; excluding grid charge: 1 − 400/400 = 0.
        #expect(approx(a.selfSufficiencyAfterSharing.value, 0.75))
        #expect(approx(a.selfSufficiencyExcludingGridCharge.value, 0))
        // Hub: Σ I_hub = 600 (100 + 500 charging) + 0, Σ C = 400 → 1 − 600/400 = −0.5, raw and flagged.
        #expect(approx(kpis.hub.selfSufficiency.value, -0.5))
        #expect(kpis.hub.selfSufficiency.flags.contains(.outsideUnitRange))
        #expect(kpis.hub.selfSufficiency.displayValue == 0)
    }

    @Test func participantBatteryOriginProportionalMixing() throws {
        var book = BatteryOriginBook()
        func run(_ i: Double, _ x: Double, _ v: Double, _ ch: Double, _ d: Double) -> ParticipantSettlement {
            let record = settle(
                [.measured("a", importWh: i, exportWh: x, pvWh: v, chargeWh: ch, dischargeWh: d)], book: &book)
            #expect(record.violations.isEmpty)
            return record.participant("a")!
        }
        // 1: PV 1000 → battery 600, grid 100, load 300 (C = 1000 − 100 − 600 = 300). Content: local 600.
        let one = run(0, 100, 1000, 600, 0)
        #expect(one.flows?.pvToBatteryWh == 600)
        #expect(one.battery?.end == BatteryOriginState(localWh: 600, gridWh: 0))
        // 2: discharge 400 (local) + import 100 → C = 500, grid origin to load = 100.
        let two = run(100, 0, 0, 0, 400)
        #expect(approx(two.gridOriginToLoadWh, 100))
        #expect(two.battery?.end == BatteryOriginState(localWh: 200, gridWh: 0))
        // 3: import 500 straight into the battery (C = 0). Content: local 200, grid 500.
        let three = run(500, 0, 0, 500, 0)
        #expect(three.flows?.gridToBatteryWh == 500)
        #expect(three.battery?.end == BatteryOriginState(localWh: 200, gridWh: 500))
        // 4: discharge 350 at the mix 200/700: local 100, grid 250 → grid origin to load 250.
        let four = run(0, 0, 0, 0, 350)
        #expect(approx(four.battery?.dischargedLocalWh, 100))
        #expect(approx(four.battery?.dischargedGridWh, 250))
        #expect(approx(four.gridOriginToLoadWh, 250))
        // 5: discharge 500 with 350 tracked: 150 has unknown origin and counts as grid (flagged).
        let fiveRecord = settle([.measured("a", importWh: 0, exportWh: 0, dischargeWh: 500)], book: &book)
        let five = try #require(fiveRecord.participant("a"))
        #expect(approx(five.battery?.unknownOriginWh, 150))
        #expect(approx(five.battery?.dischargedLocalWh, 100))
        #expect(approx(five.gridOriginToLoadWh, 400))
        #expect(fiveRecord.flags.contains(.unknownOriginDischarge(owner: "participant:a", energyWh: 150)))
    }

    @Test func missingFigureMakesTheHubIncompleteNotZero() throws {
        var book = BatteryOriginBook()
        let record = settle(
            [
                .measured("a", importWh: 300, exportWh: 0),
                ParticipantEnergyInput(participant: "b", importWh: .missing, exportWh: .measured(200)),
            ], book: &book)
        #expect(!record.isComplete)
        #expect(record.quality == .missing)
        #expect(record.participant("a")?.importWh.value == 300)
        #expect(record.participant("a")?.allocatedWh == nil)
        #expect(record.participant("b")?.consumptionWh.value == nil)
        #expect(record.hub.poolWh == nil)
        #expect(record.hub.importWh == nil)
        #expect(record.hub.exportWh == 200)
        #expect(record.violations.isEmpty)
    }

    @Test func negativeConsumptionIsFlaggedNotClamped() throws {
        var book = BatteryOriginBook()
        // Export 600 with PV 500: C = 0 + 500 − 600 = −100 (a CT or metering error).
        let record = settle([.measured("a", importWh: 0, exportWh: 600, pvWh: 500)], book: &book)
        let a = try #require(record.participant("a"))
        #expect(a.consumptionWh.value == -100)
        #expect(a.negativeConsumption)
        #expect(record.flags.contains(.negativeConsumption(participant: "a", consumptionWh: -100)))
        #expect(a.flows?.unexplainedExportWh == 100)
        let kpis = KPIAggregator(records: [record])
        #expect(kpis.participant("a")?.selfSufficiencySite == .undefined(.negativeConsumption, flags: [.negativeConsumptionInterval]))
    }

    @Test func validateCatchesCorruptedRecords() throws {
        var book = BatteryOriginBook()
        let good = settle(Self.producerAndConsumers, key: .equalShares, book: &book)
        #expect(good.validate().isEmpty)

        var overAllocated = good
        overAllocated.participants[0].allocatedWh = 350  // a imports 300
        overAllocated.participants[0].residualImportWh = -50
        let rules = Set(overAllocated.validate().map(\.rule))
        #expect(rules.contains(.allocationWithinImport))
        #expect(rules.contains(.residualImport))
        #expect(rules.contains(.hubSums))

        var negative = good
        negative.participants[1].allocatedWh = -1
        #expect(negative.validate().contains { $0.rule == .allocationNonNegative && $0.participant == "b" })

        var leaky = good
        leaky.hub.netExchangeWh = (good.hub.netExchangeWh ?? 0) + 5
        let leakRules = Set(leaky.validate().map(\.rule))
        #expect(leakRules.contains(.energyConservation))
        #expect(leakRules.contains(.netting))

        var poolGrown = good
        poolGrown.hub.poolWh = 100
        #expect(poolGrown.validate().contains { $0.rule == .allocationsWithinPool })

        var badIdentity = good
        badIdentity.participants[2].consumptionWh = .measured(1)
        #expect(badIdentity.validate().contains { $0.rule == .consumptionIdentity })

        var nan = good
        nan.participants[0].importWh = .measured(.nan)
        #expect(nan.validate().contains { $0.rule == .finite })
    }
}
