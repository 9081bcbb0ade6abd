import HubDomain
import Testing

/// A full day of a small business park, driven through the injected clock: 8640 cycles of 10 s,
/// the real-time balance every minute, the ledger every cycle, KPIs at the end.
@Suite struct SimulatedDayTests {
    static let model = HubModel(
        hubID: "lage-weide",
        participants: [
            // The bakery's meter counts in a small register that rolls over (twice a day).
            participant("bakery", modulus: 40_000),
            participant("printshop", pv: true),
            participant("warehouse", pv: true, battery: true, capacityWh: 10_000),
            participant("office", battery: true, capacityWh: 5000),
            participant("workshop"),
            participant("newcomer", pv: true, membership: Membership(joinedAt: dayStart.plus(h: 12, m: 7))),
        ],
        sharedAssets: [
            SharedAsset(
                id: "field", device: Device(id: "field-pv", kind: .pvInverter),
                ownership: [
                    .init(participant: "bakery", share: 0.5), .init(participant: "office", share: 0.3),
                    .init(participant: "workshop", share: 0.2),
                ]),
            SharedAsset(
                id: "hubbat", device: Device(id: "hub-bat", kind: .battery, usableCapacityWh: 30_000),
                ownership: [.init(participant: "warehouse", share: 0.5), .init(participant: "printshop", share: 0.5)]),
        ])

    static func solar(_ hour: Double, peak: Double) -> Double {
        guard hour > 6, hour < 18 else { return 0 }
        return peak * sin(Double.pi * (hour - 6) / 12)
    }

    static func sin(_ x: Double) -> Double {
        // Taylor series around the nearest multiple of π is plenty for a test profile (no Foundation needed).
        var y = x.truncatingRemainder(dividingBy: 2 * Double.pi)
        if y > Double.pi { y -= 2 * Double.pi }
        var term = y, sum = y
        for n in 1..<12 {
            term *= -y * y / Double((2 * n) * (2 * n + 1))
            sum += term
        }
        return sum
    }

    @Test func aFullDay() throws {
        var clock = SimulatedClock(now: dayStart)
        var ledger = try SettlementLedger(model: Self.model, startingAt: clock.now)
        var balancer = try RealTimeBalancer(model: Self.model)
        var readings = balancer.makeReadings()
        var meter = MeterSimulator(model: Self.model)
        var records: [IntervalRecord] = []
        var warehouseSoC = 2000.0, officeSoC = 0.0, hubSoC = 5000.0
        var lastNet = 0.0
        // True energies per participant, integrated like the meters (left hold).
        var trueImport: [String: Double] = [:]
        var trueExport: [String: Double] = [:]
        var previousGrid: [String: Double] = [:]
        let step: Int64 = 10_000
        let dt = Double(step) / 3_600_000
        let devices = meter.devices.keys.sorted()

        while clock.now < dayStart.plus(h: 24, m: 1) {
            let hour = Double(clock.now.milliseconds(since: dayStart)) / 3_600_000
            // Integrate the true grid energies of the step that just ended.
            for (name, grid) in previousGrid {
                trueImport[name, default: 0] += max(0, grid) * dt
                trueExport[name, default: 0] += max(0, -grid) * dt
            }
            let working = hour >= 8 && hour < 18
            // Loads.
            let bakery = 3000 + (hour >= 4 && hour < 10 ? 4000 : 0)
            let printshop = working ? 5000.0 : 500
            let warehouse = 2000.0
            let office = working ? 4000.0 : 300
            let workshop = hour >= 7 && hour < 16 ? 6000.0 : 400
            let newcomer = 1500.0
            // Warehouse battery follows its own surplus.
            let warehousePV = Self.solar(hour, peak: 20_000)
            var warehouseBattery = 0.0
            let surplus = warehousePV - warehouse
            if surplus > 0 {
                warehouseBattery = -min(surplus, 5000, (10_000 - warehouseSoC) / dt)
            } else {
                warehouseBattery = min(-surplus, 5000, warehouseSoC / dt)
            }
            warehouseSoC -= warehouseBattery * dt
            // Office battery: grid-charged 1:00–2:00 (arbitrage), discharged in office hours.
            var officeBattery = 0.0
            if hour >= 1 && hour < 2 { officeBattery = -min(2500, (5000 - officeSoC) / dt) }
            if working { officeBattery = min(2000, officeSoC / dt) }
            officeSoC -= officeBattery * dt
            // Hub battery: charges when the hub exported in the last cycle, discharges in the evening.
            var hubBattery = 0.0
            if lastNet < -6000 { hubBattery = -min(6000, (30_000 - hubSoC) / dt) }
            if hour >= 17 && hour < 23 { hubBattery = min(6000, hubSoC / dt) }
            hubSoC -= hubBattery * dt
            let fieldPV = Self.solar(hour, peak: 15_000)
            let printshopPV = Self.solar(hour, peak: 8000)
            let newcomerPV = Self.solar(hour, peak: 3000)

            let grid: [String: Double] = [
                "bakery": Double(bakery), "printshop": printshop - printshopPV,
                "warehouse": warehouse - warehousePV - warehouseBattery, "office": office - officeBattery,
                "workshop": workshop, "newcomer": newcomer - newcomerPV,
            ]
            previousGrid = grid
            for (name, watts) in grid { meter.setPower(DeviceID(name + "-grid"), watts) }
            meter.setPower("printshop-pv", printshopPV)
            meter.setPower("warehouse-pv", warehousePV)
            meter.setPower("warehouse-bat", warehouseBattery)
            meter.setPower("office-bat", officeBattery)
            meter.setPower("newcomer-pv", newcomerPV)
            meter.setPower("field-pv", fieldPV)
            meter.setPower("hub-bat", hubBattery)
            lastNet = grid.values.reduce(0, +) - fieldPV - hubBattery
            // The workshop's meter is replaced at 14:00.
            if clock.now == dayStart.plus(h: 14) { meter.resetMeter("workshop-grid") }

            for device in devices {
                // The printshop's inverter has no energy counter: power only.
                let sample = meter.sample(device, at: clock.now, counters: device != "printshop-pv")
                ledger.ingest(sample)
                readings.set(Reading(value: sample.powerW!, acquiredAt: clock.now), for: device)
            }
            if clock.now.milliseconds(since: dayStart) % 60_000 == 0 {
                balancer.compute(readings, now: clock.now)
                #expect(balancer.hub.isComplete)
                // The newcomer is not a member before 12:15: the hub's net excludes it.
                let member = clock.now >= dayStart.plus(h: 12, m: 15)
                let expectedNet = lastNet - (member ? 0 : grid["newcomer"]!)
                #expect(abs(balancer.hub.netGridW.value! - expectedNet) < 1e-6)
                #expect(balancer.hub.allocatedW.value! <= balancer.hub.poolW.value! + 1e-9)
            }
            records += ledger.advance(to: clock.now)
            clock.advance(ms: step)
        }

        let day = records.filter { $0.interval.start < dayStart.plus(h: 24) }
        #expect(day.count == 96)
        #expect(Set(day.map(\.id)).count == 96)
        for record in day {
            #expect(record.violations.isEmpty, "\(record.id): \(record.violations)")
            #expect(record.isComplete, "\(record.id)")
        }
        // Membership: the newcomer appears from 12:15 on.
        #expect(day.filter { $0.participant("newcomer") != nil }.count == 47)
        // Counter events are flagged where they happened.
        #expect(day.contains { $0.flags.contains(.counterRollover(device: "bakery-grid", quantity: .gridImport)) })
        let replaced = try #require(day.first { $0.interval.start == dayStart.plus(h: 14) })
        #expect(replaced.flags.contains(.counterReset(device: "workshop-grid", quantity: .gridImport)))
        // Power-only PV is estimated, and says so.
        let noon = try #require(day.first { $0.interval.start == dayStart.plus(h: 12) })
        #expect(noon.participant("printshop")?.pvWh.quality == .estimated(share: 1))
        #expect(noon.hub.exportedSurplusWh != nil)

        // Energy totals: Σ of the records equals the true metered energy of the day.
        for name in ["bakery", "printshop", "warehouse", "office", "workshop"] {
            let imported = day.compactMap { $0.participant(ParticipantID(name))?.importWh.value }.reduce(0, +)
            let exported = day.compactMap { $0.participant(ParticipantID(name))?.exportWh.value }.reduce(0, +)
            // The true sums ran to the last cycle at 24:00:50; subtract those 50 s (constant night load).
            let tail = (previousGrid[name] ?? 0) * 50 / 3600
            #expect(abs(imported - (trueImport[name]! - max(0, tail))) < 1e-6 * trueImport[name]!, "\(name)")
            #expect(abs(exported - (trueExport[name]! - max(0, -tail))) < 1e-6 * max(1, trueExport[name]!), "\(name)")
        }

        // KPIs: sums, then ratios; recomputed by hand from the records.
        let kpis = KPIAggregator(records: day)
        let gridImport = day.map { $0.hub.gridImportWh! }.reduce(0, +)
        let consumption = day.map { $0.hub.consumptionWh! }.reduce(0, +)
        #expect(approx(kpis.hub.selfSufficiency.value, 1 - gridImport / consumption, tolerance: 1e-12))
        let hubSS = try #require(kpis.hub.selfSufficiency.value)
        let hubSC = try #require(kpis.hub.selfConsumption.value)
        #expect(hubSS > 0.2 && hubSS < 0.9)
        #expect(hubSC > 0.5 && hubSC <= 1)
        for participant in kpis.participants {
            // Sharing never lowers a participant's self-sufficiency.
            let site = try #require(participant.selfSufficiencySite.value)
            let shared = try #require(participant.selfSufficiencyAfterSharing.value)
            #expect(shared >= site - 1e-12, "\(participant.participant)")
        }
        // The office charged its battery from the grid at night: counting that energy as grid
        // energy when discharged gives a lower figure than after-sharing SS.
        let office = try #require(kpis.participant("office"))
        #expect(office.selfSufficiencyExcludingGridCharge.value! < office.selfSufficiencyAfterSharing.value!)
        #expect(ledger.statistics.late == 0)
        #expect(ledger.statistics.unknownDevice == 0)
    }
}
