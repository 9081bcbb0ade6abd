import HubDomain
import Testing

@Suite struct KPITests {
    @Test func formulas() {
        // SS = 1 − 250/1000 = 0.75; SC = 1 − 100/400 = 0.75.
        #expect(KPIDefinitions.selfSufficiency(importWh: 250, consumptionWh: 1000) == .value(0.75, flags: []))
        #expect(KPIDefinitions.selfConsumption(exportWh: 100, productionWh: 400) == .value(0.75, flags: []))
        #expect(KPIDefinitions.version == "hubmeter-kpi/1")
    }

    @Test func edgeCases() {
        #expect(KPIDefinitions.selfSufficiency(importWh: 0, consumptionWh: 0) == .undefined(.noConsumption, flags: []))
        #expect(
            KPIDefinitions.selfSufficiency(importWh: 10, consumptionWh: -5)
                == .undefined(.negativeConsumption, flags: .negativeConsumptionInterval))
        #expect(KPIDefinitions.selfConsumption(exportWh: 0, productionWh: 0) == .undefined(.noProduction, flags: []))
        // Grid charging kept in the battery: import 1200 > consumption 1000 → −0.2, raw and flagged.
        let below = KPIDefinitions.selfSufficiency(importWh: 1200, consumptionWh: 1000)
        #expect(approx(below.value, -0.2))
        #expect(below.flags.contains(.outsideUnitRange))
        #expect(below.displayValue == 0)
        // Battery discharge exported: export 500 > production 400 → −0.25.
        #expect(approx(KPIDefinitions.selfConsumption(exportWh: 500, productionWh: 400).value, -0.25))
    }

    @Test func ratioOfSumsNotMeanOfRatios() throws {
        var book = BatteryOriginBook()
        let interval = SettlementInterval(containing: dayStart)
        // Interval 1: C = 100, I = 0 → SS 1. Interval 2: C = 900, I = 900 → SS 0.
        let first = IntervalSettlement.settle(
            hubID: "h", interval: interval, key: .proRataConsumption,
            participants: [.measured("a", importWh: 0, exportWh: 400, pvWh: 500)], originBook: &book)
        let second = IntervalSettlement.settle(
            hubID: "h", interval: interval.next, key: .proRataConsumption,
            participants: [.measured("a", importWh: 900, exportWh: 0)], originBook: &book)
        let kpis = KPIAggregator(records: [first, second])
        let a = try #require(kpis.participant("a"))
        // Sums: I = 900, C = 1000 → SS = 0.1 (the mean of ratios would be 0.5).
        #expect(approx(a.selfSufficiencySite.value, 0.1))
        #expect(approx(kpis.hub.selfSufficiency.value, 0.1))
        // SC = 1 − 400/500 = 0.2.
        #expect(approx(a.selfConsumptionSite.value, 0.2))
        #expect(kpis.hub.intervals == 2)
    }

    @Test func siteOnlyVersusAfterSharing() throws {
        var book = BatteryOriginBook()
        // a imports 600, b exports 400 (PV 500, own use 100). Pro rata: A_a = 400, residual 200.
        let record = IntervalSettlement.settle(
            hubID: "h", interval: SettlementInterval(containing: dayStart), key: .proRataConsumption,
            participants: [.measured("a", importWh: 600, exportWh: 0), .measured("b", importWh: 0, exportWh: 400, pvWh: 500)],
            originBook: &book)
        let kpis = KPIAggregator(records: [record])
        let a = try #require(kpis.participant("a"))
        let b = try #require(kpis.participant("b"))
        #expect(approx(a.selfSufficiencySite.value, 0))  // 1 − 600/600
        #expect(approx(a.selfSufficiencyAfterSharing.value, 1 - 200.0 / 600))
        #expect(approx(b.selfConsumptionSite.value, 1 - 400.0 / 500))
        #expect(approx(b.selfConsumptionAfterSharing.value, 1))  // all of b's export was shared
        #expect(b.selfSufficiencySite == .value(1, flags: []))
        // Hub netted: I_hub = 200, ΣC = 600 + 100 → 1 − 200/700.
        #expect(approx(kpis.hub.selfSufficiency.value, 1 - 200.0 / 700))
        #expect(approx(kpis.hub.selfConsumption.value, 1))
    }

    @Test func incompleteIntervalsAreExcludedFromBothSides() throws {
        var book = BatteryOriginBook()
        let interval = SettlementInterval(containing: dayStart)
        let complete = IntervalSettlement.settle(
            hubID: "h", interval: interval, key: .proRataConsumption,
            participants: [.measured("a", importWh: 100, exportWh: 0, pvWh: 300)], originBook: &book)
        let incomplete = IntervalSettlement.settle(
            hubID: "h", interval: interval.next, key: .proRataConsumption,
            participants: [ParticipantEnergyInput(participant: "a", importWh: .missing, exportWh: .measured(0))],
            originBook: &book)
        let kpis = KPIAggregator(records: [complete, incomplete])
        #expect(kpis.hub.intervals == 1)
        #expect(kpis.hub.excludedIntervals == 1)
        // 1 − 100/400 from the complete interval only, flagged.
        #expect(kpis.hub.selfSufficiency == .value(0.75, flags: .incompleteIntervalsExcluded))
        #expect(KPIAggregator().hub.selfSufficiency == .undefined(.noCompleteIntervals, flags: []))
    }
}
