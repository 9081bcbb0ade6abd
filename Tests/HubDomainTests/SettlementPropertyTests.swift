import HubDomain
import PropertyBased
import Testing

/// Conservation, caps and key invariants over random hubs.
@Suite struct SettlementPropertyTests {
    static let keys: [AllocationKey] = [
        .proRataConsumption, .equalShares,
        .staticShares(shares: ["p0": 0.3, "p1": 0.2, "p2": 0.1, "p3": 0.25], remainder: .exported),
        .staticShares(shares: ["p0": 0.3, "p1": 0.2, "p2": 0.1, "p3": 0.25], remainder: .redistributed),
        .priority(order: ["p3", "p1"]),
    ]

    /// A random hub interval: participants with random energies (consistent, C ≥ 0), random
    /// collective PV and hub battery.
    static func randomInterval(_ rng: inout SplitMix64) -> ([ParticipantEnergyInput], [SharedAssetEnergyInput]) {
        let count = Int.random(in: 1...12, using: &rng)
        var participants: [ParticipantEnergyInput] = []
        for index in 0..<count {
            let load = Double.random(in: 0...2000, using: &rng).rounded()
            let pv = Bool.random(using: &rng) ? Double.random(in: 0...3000, using: &rng).rounded() : 0
            let charge = Bool.random(using: &rng) ? Double.random(in: 0...800, using: &rng).rounded() : 0
            let discharge = Bool.random(using: &rng) ? Double.random(in: 0...800, using: &rng).rounded() : 0
            // Within 15 minutes both import and export can happen, but export needs a source
            // (PV or discharge): add the same amount to both sides, within what the sources allow.
            let net = load + charge - pv - discharge
            let room = max(0, pv + discharge - max(0, -net))
            let both = Double.random(in: 0...min(300, room), using: &rng).rounded(.down)
            let importWh = max(0, net) + both
            let exportWh = max(0, -net) + both
            participants.append(
                .measured(ParticipantID("p\(index)"), importWh: importWh, exportWh: exportWh, pvWh: pv,
                          chargeWh: charge, dischargeWh: discharge))
        }
        var assets: [SharedAssetEnergyInput] = []
        let owners = [OwnershipShare(participant: "p0", share: 0.5), OwnershipShare(participant: ParticipantID("p\(count - 1)"), share: 0.5)]
        let ownership = count == 1 ? [OwnershipShare(participant: "p0", share: 1)] : owners
        if Bool.random(using: &rng) {
            assets.append(
                SharedAssetEnergyInput(
                    asset: "field", kind: .pvInverter, productionWh: .measured(Double.random(in: 0...5000, using: &rng).rounded()),
                    ownership: ownership))
        }
        if Bool.random(using: &rng) {
            let charging = Bool.random(using: &rng)
            let energy = Double.random(in: 0...2000, using: &rng).rounded()
            assets.append(
                SharedAssetEnergyInput(
                    asset: "hubbat", kind: .battery, chargeWh: .measured(charging ? energy : 0),
                    dischargeWh: .measured(charging ? 0 : energy), ownership: ownership, capacityWh: 20_000))
        }
        return (participants, assets)
    }

    @Test func everyRecordOfARandomHubSatisfiesTheInvariants() async {
        await propertyCheck(count: 200, input: Gen.uint64(in: 0...UInt64.max), Gen.int(in: 0...4)) { seed, keyIndex in
            var rng = SplitMix64(seed: seed)
            var book = BatteryOriginBook()
            var interval = SettlementInterval(containing: dayStart)
            for _ in 0..<8 {  // a sequence, so battery origin state carries over
                let (participants, assets) = Self.randomInterval(&rng)
                let key = Self.keys[keyIndex]
                let record = IntervalSettlement.settle(
                    hubID: "h", interval: interval, key: key, participants: participants, sharedAssets: assets,
                    originBook: &book)
                interval = interval.next
                #expect(record.violations.isEmpty, "\(record.violations)")
                #expect(record.isComplete)
                let h = record.hub
                let pool = h.poolWh!, sumImport = h.importWh!
                let allocated = record.participants.map { $0.allocatedWh! }.reduce(0, +)
                #expect(allocated <= pool + 1e-6)
                for row in record.participants {
                    #expect(row.allocatedWh! >= 0)
                    #expect(row.allocatedWh! <= row.importWh.value! + 1e-9)
                    #expect(row.gridOriginToLoadWh! >= -1e-9)
                    #expect(row.gridOriginToLoadWh! <= max(0, row.consumptionWh.value!) + 1e-6)
                }
                // Conservation computed independently of the record's own checks.
                let net = sumImport - h.exportWh! + h.collectiveChargeWh! - h.collectivePVWh! - h.collectiveDischargeWh!
                let residual = record.participants.map { $0.residualImportWh! }.reduce(0, +)
                #expect(abs(residual + h.collectiveChargeFromGridWh! - h.exportedSurplusWh! - net) <= 1e-6 * max(1, pool))
                if [0, 1, 4].contains(keyIndex) {
                    // Pro rata, equal shares and priority waste nothing: Σ A = min(P, Σ I).
                    // (Static shares may leave energy unallocated: exported remainder, or no share.)
                    #expect(abs(allocated - min(pool, sumImport)) <= 1e-6 * max(1, pool))
                }
                // Battery content never goes negative.
                for state in book.participants.values { #expect(state.localWh >= 0 && state.gridWh >= 0) }
                for state in book.sharedAssets.values {
                    #expect(state.localWh >= 0 && state.gridWh >= 0)
                    #expect(state.storedWh <= 20_000 + 1e-6)
                }
                #expect(h.poolLocalFraction! >= 0 && h.poolLocalFraction! <= 1)
            }
        }
    }

    @Test func aCorruptedAllocationIsAlwaysCaught() async {
        await propertyCheck(count: 100, input: Gen.uint64(in: 0...UInt64.max), Gen.double(in: 1...500)) { seed, excess in
            var rng = SplitMix64(seed: seed)
            var book = BatteryOriginBook()
            let (participants, assets) = Self.randomInterval(&rng)
            var record = IntervalSettlement.settle(
                hubID: "h", interval: SettlementInterval(containing: dayStart), key: .proRataConsumption,
                participants: participants, sharedAssets: assets, originBook: &book)
            let index = Int.random(in: 0..<record.participants.count, using: &rng)
            record.participants[index].allocatedWh = record.participants[index].importWh.value! + excess
            #expect(record.validate().contains { $0.rule == .allocationWithinImport })
        }
    }

    @Test func ledgerRunsOfRandomHubsSplitAnywhereGiveIdenticalRecords() async {
        await propertyCheck(count: 25, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            var rng = SplitMix64(seed: seed)
            let count = Int.random(in: 1...4, using: &rng)
            let model = HubModel(
                hubID: "h",
                participants: (0..<count).map { participant("p\($0)", pv: Bool.random(using: &rng), battery: Bool.random(using: &rng)) },
                allocationKey: Self.keys[Int.random(in: 0..<Self.keys.count, using: &rng)].restricted(to: count))
            var meter = MeterSimulator(model: model)
            var steps: [(UTCMilliseconds, [DeviceSample])] = []
            let start = dayStart.plus(h: 9, m: Int64.random(in: 0...14, using: &rng))
            let devices = meter.devices.keys.sorted()
            for k in Int64(0)..<240 {
                let at = start.plus(s: 10 * k)
                var samples: [DeviceSample] = []
                for device in devices {
                    meter.setPower(device, Double.random(in: -4000...4000, using: &rng).rounded())
                    if Int.random(in: 0..<40, using: &rng) == 0 { continue }  // a missed poll
                    if Int.random(in: 0..<200, using: &rng) == 0 { meter.resetMeter(device) }
                    samples.append(meter.sample(device, at: at, counters: Int.random(in: 0..<10, using: &rng) > 0))
                }
                steps.append((at, samples))
            }
            let split = Int.random(in: 0..<steps.count, using: &rng)
            func run(split: Int?) throws -> [IntervalRecord] {
                var ledger = try SettlementLedger(model: model, startingAt: start)
                var records: [IntervalRecord] = []
                for (index, step) in steps.enumerated() {
                    for sample in step.1 { ledger.ingest(sample) }
                    records += ledger.advance(to: step.0)
                    if index == split { ledger = try SettlementLedger(model: model, restoringFrom: ledger.snapshot()) }
                }
                return records + ledger.advance(to: steps.last!.0.plus(m: 20))
            }
            do {
                let reference = try run(split: nil)
                #expect(try run(split: split) == reference)
                for record in reference { #expect(record.violations.isEmpty, "\(record.violations)") }
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}

extension AllocationKey {
    /// Drops shares and priorities of participants that do not exist in a hub of `count`.
    func restricted(to count: Int) -> AllocationKey {
        let valid = Set((0..<count).map { ParticipantID("p\($0)") })
        switch self {
        case .staticShares(let shares, let remainder):
            return .staticShares(shares: shares.filter { valid.contains($0.key) }, remainder: remainder)
        case .priority(let order):
            return .priority(order: order.filter(valid.contains))
        default:
            return self
        }
    }
}
