import HubDomain
import Testing

@Suite struct SettlementLedgerTests {
    static let q: Int64 = 900_000

    static func singleMeterModel(modulus: Double? = nil, maxPower: Double? = nil) -> HubModel {
        HubModel(
            hubID: "h",
            participants: [
                Participant(
                    id: "a",
                    devices: [Device(id: "m", kind: .gridMeter, counterModulusWh: modulus, maxPlausiblePowerW: maxPower)])
            ])
    }

    static func sample(_ at: UTCMilliseconds, power: Double?, importWh: Double?, exportWh: Double? = 0) -> DeviceSample {
        DeviceSample(
            device: "m", at: at, powerW: power, counters: CounterValues(gridImportWh: importWh, gridExportWh: exportWh))
    }

    @Test func measuredIntervalFromCounters() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(), startingAt: dayStart)
        // 3600 W for 15 min = 900 Wh; readings every 60 s, counters exact, one reading after the boundary.
        for k in 0...16 {
            let outcome = ledger.ingest(Self.sample(dayStart.plus(m: Int64(k)), power: 3600, importWh: 1000 + 60 * Double(k)))
            #expect(outcome == .accepted)
        }
        #expect(ledger.advance(to: dayStart.plus(m: 15, s: 10)).isEmpty)  // close delay not yet over
        let records = ledger.advance(to: dayStart.plus(m: 15, s: 30))
        #expect(records.count == 1)
        let a = try #require(records.first?.participant("a"))
        #expect(a.importWh == .measured(900))
        #expect(a.exportWh == .measured(0))
        #expect(records[0].isComplete)
        #expect(records[0].violations.isEmpty)
    }

    @Test func stepAcrossTheBoundaryIsSplitLinearly() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(), startingAt: dayStart)
        ledger.ingest(Self.sample(dayStart, power: 0, importWh: 0))
        ledger.ingest(Self.sample(dayStart.plus(m: 14, s: 50), power: 0, importWh: 100))
        // 20 Wh between 14:50 and 15:10: half before the boundary.
        ledger.ingest(Self.sample(dayStart.plus(m: 15, s: 10), power: 0, importWh: 120))
        let record = try #require(ledger.advance(to: dayStart.plus(m: 16)).first)
        #expect(record.participant("a")?.importWh == .measured(110))
    }

    @Test func rolloverIsMeasuredAndFlagged() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(modulus: 1000), startingAt: dayStart)
        ledger.ingest(Self.sample(dayStart, power: 0, importWh: 900))
        ledger.ingest(Self.sample(dayStart.plus(m: 5), power: 0, importWh: 990))
        ledger.ingest(Self.sample(dayStart.plus(m: 10), power: 0, importWh: 10))  // wrapped: +20
        ledger.ingest(Self.sample(dayStart.plus(m: 15), power: 0, importWh: 40))
        let record = try #require(ledger.advance(to: dayStart.plus(m: 16)).first)
        // 90 + 20 + 30 = 140 Wh.
        #expect(record.participant("a")?.importWh == .measured(140))
        #expect(record.flags.contains(.counterRollover(device: "m", quantity: .gridImport)))
    }

    @Test func resetIsIntegratedFromPowerAndFlagged() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(), startingAt: dayStart)
        ledger.ingest(Self.sample(dayStart, power: 1200, importWh: 5000))
        ledger.ingest(Self.sample(dayStart.plus(m: 5), power: 1200, importWh: 5100))
        // The meter was replaced between 5:00 and 5:10: counter restarts at 3. 10 s at 1200 W = 3.333 Wh from power.
        ledger.ingest(Self.sample(dayStart.plus(m: 5, s: 10), power: 1200, importWh: 3))
        ledger.ingest(Self.sample(dayStart.plus(m: 15), power: 1200, importWh: 200))
        let record = try #require(ledger.advance(to: dayStart.plus(m: 16)).first)
        let figure = try #require(record.participant("a")?.importWh)
        // 100 (counter) + 1200 W × 10 s / 3600 = 3.333 (power) + 197 (counter) = 300.333 Wh.
        #expect(approx(figure.value, 297 + 1200.0 * 10 / 3600))
        guard case .estimated(let share) = figure.quality else {
            Issue.record("expected estimated, got \(figure.quality)")
            return
        }
        #expect(approx(share, (1200.0 * 10 / 3600) / (297 + 1200.0 * 10 / 3600)))
        #expect(record.flags.contains(.counterReset(device: "m", quantity: .gridImport)))
        #expect(record.violations.isEmpty)
    }

    @Test func implausibleJumpIsTreatedLikeAReset() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(maxPower: 10_000), startingAt: dayStart)
        // 3600 W, a reading every 10 s (10 Wh each); at 2:00 one garbage read of 9 000 000 Wh.
        for k in Int64(0)...90 {
            let counter = k == 12 ? 9_000_000 : 10 * Double(k)
            ledger.ingest(Self.sample(dayStart.plus(s: 10 * k), power: 3600, importWh: counter))
        }
        let record = try #require(ledger.advance(to: dayStart.plus(m: 16)).first)
        // The jump up is implausible, the drop back is a reset: both 10 s spans come from power
        // (10 Wh each), so the total is still 900 Wh, 20 Wh of it estimated.
        let figure = try #require(record.participant("a")?.importWh)
        #expect(approx(figure.value, 900))
        #expect(figure.quality == .estimated(share: 20.0 / 900))
        #expect(record.flags.contains(.counterImplausible(device: "m", quantity: .gridImport)))
        #expect(record.flags.contains(.counterReset(device: "m", quantity: .gridImport)))
    }

    @Test func deviceWithoutCountersIsFullyEstimated() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(), startingAt: dayStart)
        for k in Int64(0)...90 { ledger.ingest(Self.sample(dayStart.plus(s: 10 * k), power: -1800, importWh: nil, exportWh: nil)) }
        let record = try #require(ledger.advance(to: dayStart.plus(m: 16)).first)
        // 1800 W export for 15 min = 450 Wh, all from power.
        #expect(record.participant("a")?.exportWh == Figure(value: 450, quality: .estimated(share: 1)))
        #expect(record.participant("a")?.importWh == Figure(value: 0, quality: .estimated(share: 1)))
    }

    @Test func counterGapIsBridgedByPowerThenReplacedWithoutDoubleCounting() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(), startingAt: dayStart)
        var meter = MeterSimulator(model: Self.singleMeterModel())
        var counterTotal = 0.0
        for k in Int64(0)...95 {  // 16 minutes, 10 s steps
            meter.setPower("m", k < 40 ? 2000 : 5000)
            // Counters are missing from 3:00 to 9:00 (the register read fails), power keeps coming.
            let hasCounter = !(18...54).contains(k)
            let sample = meter.sample("m", at: dayStart.plus(s: 10 * k), counters: hasCounter)
            ledger.ingest(sample)
            if k == 90 { counterTotal = meter.counter("m", .gridImport) - 1000 }
        }
        let record = try #require(ledger.advance(to: dayStart.plus(m: 16)).first)
        let figure = try #require(record.participant("a")?.importWh)
        // The counter came back before the boundary: its step replaced the power estimates, so the
        // figure equals the counter total exactly, and it is measured (the steps are ≤ 60 s…
        // except the gap step of 6 min that lies inside one interval: still exact).
        #expect(approx(figure.value, counterTotal))
        #expect(figure.quality == .measured)
    }

    @Test func counterMissingAtTheBoundaryIsEstimatedAndCorrectedLater() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(), startingAt: dayStart)
        var meter = MeterSimulator(model: Self.singleMeterModel())
        var records: [IntervalRecord] = []
        for k in Int64(0)...180 {  // 30 minutes, 10 s steps
            meter.setPower("m", 3600)
            let hasCounter = !(84...100).contains(k)  // counter missing 14:00–16:40
            ledger.ingest(meter.sample("m", at: dayStart.plus(s: 10 * k), counters: hasCounter))
            records += ledger.advance(to: dayStart.plus(s: 10 * k))
        }
        records += ledger.advance(to: dayStart.plus(m: 31))
        #expect(records.count == 2)
        // Power and counters agree here, so the first interval still gets 900 Wh, partly estimated,
        // and the correction reported later is zero (nothing learned).
        let first = try #require(records[0].participant("a")?.importWh)
        #expect(approx(first.value, 900))
        #expect(first.quality != .measured)
        #expect(records[1].gapCorrections.isEmpty)
        #expect(approx(records[1].participant("a")?.importWh.value, 900))
    }

    @Test func outageIntervalsAreMissingAndTheEnergyIsReportedAsCorrection() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(), startingAt: dayStart)
        var meter = MeterSimulator(model: Self.singleMeterModel())
        meter.setPower("m", 3600)
        var records: [IntervalRecord] = []
        var clock = SimulatedClock(now: dayStart)
        // 0:00–0:20 normal, then no data until 1:05 (device offline), then normal until 1:31.
        while clock.now < dayStart.plus(h: 1, m: 31) {
            let offline = clock.now > dayStart.plus(m: 20) && clock.now < dayStart.plus(h: 1, m: 5)
            if !offline { ledger.ingest(meter.sample("m", at: clock.now)) }
            records += ledger.advance(to: clock.now)
            clock.advance(ms: 10_000)
        }
        records += ledger.advance(to: dayStart.plus(h: 1, m: 31))
        #expect(records.map(\.interval.start) == (0..<6).map { dayStart.plus(m: 15 * $0) })
        #expect(records[0].isComplete)
        // 0:15–0:30 (partly covered), 0:30–0:45, 0:45–1:00: missing, never zero.
        for record in records[1...3] {
            #expect(record.participant("a")?.importWh == .missing)
            #expect(!record.isComplete)
            #expect(record.participant("a")?.allocatedWh == nil)
            #expect(record.flags.contains(.energyMissing(device: "m", quantity: .gridImport)))
        }
        // 1:00–1:15: the step over the outage covers it (estimated); the part of the step that
        // belongs to the closed intervals is reported as a correction, not booked here.
        let recovered = try #require(records[4].participant("a")?.importWh)
        #expect(approx(recovered.value, 900, tolerance: 1e-6))
        #expect(records[4].flags.contains(.gapCorrection))
        // The covered part of 0:15–0:30 (0:15–0:20:15, held power included) is in that record's corrections.
        #expect(
            records[1].gapCorrections.contains {
                $0.reason == .incompleteInterval && $0.quantity == .gridImport && abs($0.energyWh - 315) < 1e-9
            })
        // 0:20–1:00 came with the step at 1:05: 2400 Wh, minus the 15 Wh already held: 2385 Wh.
        #expect(
            records[4].gapCorrections.contains {
                $0.reason == .learnedLate && $0.quantity == .gridImport && abs($0.energyWh - 2385) < 1e-6
            })
        // Nothing lost, nothing double-counted: records + corrections = counter total.
        let booked = records.compactMap { $0.participant("a")?.importWh.value }.reduce(0, +)
        let corrected = records.flatMap(\.gapCorrections).filter { $0.quantity == .gridImport }.map(\.energyWh).reduce(0, +)
        let counted = meter.counter("m", .gridImport) - 1000
        // The ledger has booked up to the last sample (1:30:50); the meter counted to the same point.
        let openPart = 3600.0 * 50 / 3600  // 1:30:00–1:30:50 is in the still-open interval
        #expect(approx(booked + corrected + openPart, counted, tolerance: 1e-6))
    }

    @Test func lateAndUnknownSamplesAreIgnored() throws {
        var ledger = try SettlementLedger(model: Self.singleMeterModel(), startingAt: dayStart)
        #expect(ledger.ingest(Self.sample(dayStart.plus(s: 10), power: 0, importWh: 0)) == .accepted)
        #expect(ledger.ingest(Self.sample(dayStart.plus(s: 5), power: 0, importWh: 0)) == .late)
        #expect(ledger.ingest(Self.sample(dayStart.plus(s: 10), power: 0, importWh: 0)) == .late)
        #expect(ledger.ingest(DeviceSample(device: "nope", at: dayStart.plus(s: 20))) == .unknownDevice)
        #expect(ledger.ingest(Self.sample(dayStart.plus(s: -20), power: 0, importWh: 0)) == .late)
        #expect(ledger.statistics.accepted == 1)
        #expect(ledger.statistics.late == 3)
        #expect(ledger.statistics.unknownDevice == 1)
    }

    @Test func participantJoiningMidwayCountsFromTheNextQuarterHour() throws {
        let model = HubModel(
            hubID: "h",
            participants: [participant("a"), participant("b", membership: Membership(joinedAt: dayStart.plus(m: 7)))])
        var ledger = try SettlementLedger(model: model, startingAt: dayStart)
        var meter = MeterSimulator(model: model)
        meter.setPower("a-grid", 1000)
        meter.setPower("b-grid", -400)
        var records: [IntervalRecord] = []
        for k in Int64(0)...185 {
            let at = dayStart.plus(s: 10 * k)
            ledger.ingest(meter.sample("a-grid", at: at))
            ledger.ingest(meter.sample("b-grid", at: at))
            records += ledger.advance(to: at)
        }
        #expect(records.count == 2)
        #expect(records[0].participants.map(\.participant) == ["a"])
        #expect(records[0].participant("a")?.allocatedWh == 0)
        #expect(records[1].participants.map(\.participant) == ["a", "b"])
        // 400 W × 15 min = 100 Wh from b to a.
        #expect(approx(records[1].participant("a")?.allocatedWh, 100))
    }

    @Test func invalidConfigurationAndSnapshotMismatchAreRejected() throws {
        #expect(throws: SettlementError.self) {
            _ = try SettlementLedger(
                model: Self.singleMeterModel(), configuration: SettlementConfiguration(closeDelayMs: 900_000),
                startingAt: dayStart)
        }
        let ledger = try SettlementLedger(model: Self.singleMeterModel(), startingAt: dayStart)
        var other = Self.singleMeterModel()
        other.hubID = "other"
        do {
            _ = try SettlementLedger(model: other, restoringFrom: ledger.snapshot())
            Issue.record("restored a snapshot of another hub")
        } catch {
            #expect(error.code == .snapshotHubMismatch)
        }
    }
}
