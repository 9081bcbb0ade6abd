/// Settles one interval from energies: allocation, residuals, flows, battery origin, hub totals.
///
/// A pure function (the ledger calls it when it closes an interval; tests call it directly
/// with hand-computed golden inputs). The only state it touches is the battery origin book,
/// passed `inout`. Formulas: docs/energy-model.md.
public enum IntervalSettlement {
    /// Settles `interval` for the given members and shared assets under `key`.
    ///
    /// - Parameters:
    ///   - participants: the members of the interval (non-members must not be passed).
    ///   - originBook: battery content by origin at the start; updated to the end of the interval.
    ///   - flags, gapCorrections: carried into the record (from metering).
    public static func settle(
        hubID: HubID,
        interval: SettlementInterval,
        key: AllocationKey,
        participants unsortedParticipants: [ParticipantEnergyInput],
        sharedAssets unsortedAssets: [SharedAssetEnergyInput] = [],
        originBook: inout BatteryOriginBook,
        flags metringFlags: [RecordFlag] = [],
        gapCorrections: [GapCorrection] = [],
        toleranceWh: Double = 0.01
    ) -> IntervalRecord {
        let inputs = unsortedParticipants.sorted { $0.participant < $1.participant }
        let assets = unsortedAssets.sorted { $0.asset < $1.asset }
        var flags = metringFlags
        let n = inputs.count

        // 1. Metered figures, derived consumption, overall quality.
        var overall = QualityAccumulator()
        var rows: [ParticipantSettlement] = []
        rows.reserveCapacity(n)
        var allocationReady = true
        var complete = true
        for input in inputs {
            let figures = [input.importWh, input.exportWh, input.pvWh, input.batteryChargeWh, input.batteryDischargeWh]
            var own = QualityAccumulator()
            for figure in figures {
                own.add(figure.quality, magnitude: figure.value ?? 0)
                overall.add(figure.quality, magnitude: figure.value ?? 0)
            }
            var consumption = Figure(value: nil, quality: own.quality)
            var negative = false
            if let i = input.importWh.value, let x = input.exportWh.value, let v = input.pvWh.value,
                let ch = input.batteryChargeWh.value, let d = input.batteryDischargeWh.value
            {
                let c = i + v + d - x - ch
                consumption.value = c
                if c < -toleranceWh {
                    negative = true
                    flags.append(.negativeConsumption(participant: input.participant, consumptionWh: c))
                }
            } else {
                complete = false
            }
            if input.importWh.value == nil || input.exportWh.value == nil { allocationReady = false }
            rows.append(
                ParticipantSettlement(
                    participant: input.participant, importWh: input.importWh, exportWh: input.exportWh,
                    pvWh: input.pvWh, batteryChargeWh: input.batteryChargeWh,
                    batteryDischargeWh: input.batteryDischargeWh, consumptionWh: consumption,
                    negativeConsumption: negative))
        }
        var assetRows: [AssetSettlement] = assets.map { asset in
            for figure in [asset.productionWh, asset.chargeWh, asset.dischargeWh] {
                overall.add(figure.quality, magnitude: figure.value ?? 0)
            }
            return AssetSettlement(
                asset: asset.asset, kind: asset.kind, productionWh: asset.productionWh, chargeWh: asset.chargeWh,
                dischargeWh: asset.dischargeWh, ownership: asset.ownership)
        }
        for asset in assets
        where asset.productionWh.value == nil || asset.chargeWh.value == nil || asset.dischargeWh.value == nil {
            allocationReady = false
        }
        complete = complete && allocationReady

        // 2. Hub sums (each only when all of its terms are known).
        var hub = HubTotals()
        hub.importWh = sum(inputs.map(\.importWh.value))
        hub.exportWh = sum(inputs.map(\.exportWh.value))
        hub.participantPVWh = sum(inputs.map(\.pvWh.value))
        hub.consumptionWh = sum(rows.map(\.consumptionWh.value))
        hub.collectivePVWh = sum(assets.map(\.productionWh.value))
        hub.collectiveChargeWh = sum(assets.map(\.chargeWh.value))
        hub.collectiveDischargeWh = sum(assets.map(\.dischargeWh.value))

        // 3. Pool, allocation, residuals.
        var pool = 0.0
        var exportedSurplus = 0.0
        var chargeFromPoolByAsset = Array(repeating: 0.0, count: assets.count)
        if allocationReady, let sumImport = hub.importWh, let sumExport = hub.exportWh,
            let collectivePV = hub.collectivePVWh, let collectiveCharge = hub.collectiveChargeWh,
            let collectiveDischarge = hub.collectiveDischargeWh
        {
            pool = sumExport + collectivePV + collectiveDischarge
            var slots: [ParticipantID: Int] = [:]
            for (slot, input) in inputs.enumerated() { slots[input.participant] = slot }
            let plan = AllocationPlan(key: key, slotByID: slots, count: n)
            var workspace = AllocationWorkspace(count: n)
            for slot in 0..<n { workspace.demand[slot] = max(0, inputs[slot].importWh.value ?? 0) }
            workspace.allocate(plan: plan, pool: pool)
            var allocated = 0.0
            for slot in 0..<n { allocated += workspace.result[slot] }
            let left = max(0, pool - allocated)
            let chargeFromPool = min(collectiveCharge, left)
            exportedSurplus = max(0, left - chargeFromPool)
            for (index, asset) in assets.enumerated() where collectiveCharge > 0 {
                chargeFromPoolByAsset[index] = chargeFromPool * (asset.chargeWh.value ?? 0) / collectiveCharge
            }
            for slot in 0..<n {
                let i = inputs[slot].importWh.value ?? 0
                let x = inputs[slot].exportWh.value ?? 0
                let a = workspace.result[slot]
                rows[slot].allocatedWh = a
                rows[slot].residualImportWh = max(0, i - a)
                rows[slot].residualExportWh = pool > 0 ? x * exportedSurplus / pool : 0
                rows[slot].collectiveProductionShareWh = 0
                rows[slot].collectiveResidualExportShareWh = 0
            }
            for (index, asset) in assets.enumerated() {
                let output = (asset.productionWh.value ?? 0) + (asset.dischargeWh.value ?? 0)
                let residual = pool > 0 ? output * exportedSurplus / pool : 0
                let charge = asset.chargeWh.value ?? 0
                assetRows[index].residualExportWh = residual
                assetRows[index].chargeFromPoolWh = chargeFromPoolByAsset[index]
                assetRows[index].chargeFromGridWh = max(0, charge - chargeFromPoolByAsset[index])
                for owner in asset.ownership {
                    guard let slot = slots[owner.participant] else { continue }
                    rows[slot].collectiveProductionShareWh! += owner.share * (asset.productionWh.value ?? 0)
                    rows[slot].collectiveResidualExportShareWh! += owner.share * residual
                }
            }
            let net = sumImport - sumExport + collectiveCharge - collectivePV - collectiveDischarge
            hub.poolWh = pool
            hub.allocatedWh = allocated
            hub.collectiveChargeFromPoolWh = chargeFromPool
            hub.collectiveChargeFromGridWh = max(0, collectiveCharge - chargeFromPool)
            hub.exportedSurplusWh = exportedSurplus
            hub.netExchangeWh = net
            hub.gridImportWh = max(0, net)
            hub.gridExportWh = max(0, -net)
        }

        // 4. Flows and battery origin (needs everything).
        if complete {
            settleOrigins(
                inputs: inputs, assets: assets, rows: &rows, assetRows: &assetRows, hub: &hub, pool: pool,
                chargeFromPoolByAsset: chargeFromPoolByAsset, book: &originBook, flags: &flags)
        } else {
            degradeOrigins(inputs: inputs, assets: assets, book: &originBook, flags: &flags)
        }

        var record = IntervalRecord(
            hubID: hubID, interval: interval, allocationKey: key, participants: rows, sharedAssets: assetRows,
            hub: hub, quality: complete ? overall.quality : .missing, isComplete: complete, flags: flags,
            gapCorrections: gapCorrections, toleranceWh: toleranceWh)
        if !gapCorrections.isEmpty { record.flags.append(.gapCorrection) }
        record.violations = record.validate()
        if !record.violations.isEmpty { record.flags.append(.invariantViolated) }
        return record
    }

    private static func sum(_ values: [Double?]) -> Double? {
        var total = 0.0
        for value in values {
            guard let value else { return nil }
            total += value
        }
        return total
    }

    private static func settleOrigins(
        inputs: [ParticipantEnergyInput], assets: [SharedAssetEnergyInput], rows: inout [ParticipantSettlement],
        assetRows: inout [AssetSettlement], hub: inout HubTotals, pool: Double, chargeFromPoolByAsset: [Double],
        book: inout BatteryOriginBook, flags: inout [RecordFlag]
    ) {
        // Discharge mix of every battery from its content at the start of the interval.
        var flowsByParticipant: [SiteFlows] = []
        var dischargeLocalFraction: [Double] = []
        var poolLocal = 0.0
        for input in inputs {
            let i = input.importWh.value!, x = input.exportWh.value!, v = input.pvWh.value!
            let ch = input.batteryChargeWh.value!, d = input.batteryDischargeWh.value!
            let flows = SiteFlows.decompose(importWh: i, exportWh: x, pvWh: v, chargeWh: ch, dischargeWh: d)
            let start = book.participants[input.participant] ?? BatteryOriginState()
            let (local, _, _) = BatteryOriginBook.discharge(start, dischargeWh: d)
            let fraction = d > 0 ? local / d : 0
            flowsByParticipant.append(flows)
            dischargeLocalFraction.append(fraction)
            poolLocal += flows.pvToGridWh + flows.batteryToGridWh * fraction
        }
        var assetDischargeLocalFraction: [Double] = []
        for asset in assets {
            let d = asset.dischargeWh.value!
            let start = book.sharedAssets[asset.asset] ?? BatteryOriginState()
            let (local, _, _) = BatteryOriginBook.discharge(start, dischargeWh: d)
            let fraction = d > 0 ? local / d : 0
            assetDischargeLocalFraction.append(fraction)
            poolLocal += asset.productionWh.value! + d * fraction
        }
        // With an empty pool nothing is allocated, so the fraction is irrelevant; 0 is conservative.
        let poolLocalFraction = pool > 0 ? min(1, poolLocal / pool) : 0
        hub.poolLocalFraction = poolLocalFraction

        // Shared batteries: charge from the pool carries the pool's mix, charge from the grid is grid.
        var sharedEnd: [BatteryOriginState] = []
        for (index, asset) in assets.enumerated() {
            guard asset.kind == .battery else {
                sharedEnd.append(BatteryOriginState())
                continue
            }
            let start = book.sharedAssets[asset.asset] ?? BatteryOriginState()
            let charge = asset.chargeWh.value!
            let local = chargeFromPoolByAsset[index] * poolLocalFraction
            let result = BatteryOriginBook.apply(
                start, chargedLocalWh: local, chargedGridWh: max(0, charge - local),
                dischargeWh: asset.dischargeWh.value!, capacityWh: asset.capacityWh)
            if result.unknownOriginWh > 0 {
                flags.append(.unknownOriginDischarge(owner: "asset:" + asset.asset.rawValue, energyWh: result.unknownOriginWh))
            }
            assetRows[index].battery = result
            book.sharedAssets[asset.asset] = result.end
            sharedEnd.append(result.end)
        }

        var gridOriginTotal = 0.0
        for (slot, input) in inputs.enumerated() {
            let flows = flowsByParticipant[slot]
            let i = input.importWh.value!
            let a = rows[slot].allocatedWh ?? 0
            let importLocal = a * poolLocalFraction
            let importLocalFraction = i > 0 ? importLocal / i : 0
            let fraction = dischargeLocalFraction[slot]
            let gridOriginToLoad =
                flows.gridToLoadWh * (1 - importLocalFraction) + flows.batteryToLoadWh * (1 - fraction)
            rows[slot].flows = flows
            rows[slot].importLocalWh = importLocal
            rows[slot].gridOriginToLoadWh = gridOriginToLoad
            gridOriginTotal += gridOriginToLoad

            let ch = input.batteryChargeWh.value!, d = input.batteryDischargeWh.value!
            let start = book.participants[input.participant]
            if ch > 0 || d > 0 || start != nil {
                let chargedLocal =
                    flows.pvToBatteryWh + flows.gridToBatteryWh * importLocalFraction
                    + flows.batteryToBatteryWh * fraction
                let result = BatteryOriginBook.apply(
                    start ?? BatteryOriginState(), chargedLocalWh: chargedLocal,
                    chargedGridWh: max(0, ch - chargedLocal), dischargeWh: d, capacityWh: input.batteryCapacityWh)
                if result.unknownOriginWh > 0 {
                    flags.append(
                        .unknownOriginDischarge(
                            owner: "participant:" + input.participant.rawValue, energyWh: result.unknownOriginWh))
                }
                rows[slot].battery = result
                book.participants[input.participant] = result.end
            }
            var shared: BatteryOriginState?
            for (index, asset) in assets.enumerated() where asset.kind == .battery {
                for owner in asset.ownership where owner.participant == input.participant {
                    var content = shared ?? BatteryOriginState()
                    content.localWh += owner.share * sharedEnd[index].localWh
                    content.gridWh += owner.share * sharedEnd[index].gridWh
                    shared = content
                }
            }
            rows[slot].sharedBatteryContent = shared
        }
        hub.gridOriginToLoadWh = gridOriginTotal
    }

    /// Without allocation data the origin of imported charge is unknown: it is booked as grid
    /// (conservative), discharge still leaves at the start mix. Batteries whose own figures are
    /// missing keep their content unchanged.
    private static func degradeOrigins(
        inputs: [ParticipantEnergyInput], assets: [SharedAssetEnergyInput], book: inout BatteryOriginBook,
        flags: inout [RecordFlag]
    ) {
        var touched = false
        for input in inputs {
            let start = book.participants[input.participant]
            let ch = input.batteryChargeWh.value, d = input.batteryDischargeWh.value
            guard start != nil || (ch ?? 1) > 0 || (d ?? 1) > 0 else { continue }
            touched = true
            guard let ch, let d else { continue }
            var pvCharge = 0.0
            if let i = input.importWh.value, let x = input.exportWh.value, let v = input.pvWh.value {
                pvCharge = SiteFlows.decompose(importWh: i, exportWh: x, pvWh: v, chargeWh: ch, dischargeWh: d).pvToBatteryWh
            }
            let result = BatteryOriginBook.apply(
                start ?? BatteryOriginState(), chargedLocalWh: pvCharge, chargedGridWh: max(0, ch - pvCharge),
                dischargeWh: d, capacityWh: input.batteryCapacityWh)
            book.participants[input.participant] = result.end
        }
        for asset in assets where asset.kind == .battery {
            touched = true
            guard let ch = asset.chargeWh.value, let d = asset.dischargeWh.value else { continue }
            let result = BatteryOriginBook.apply(
                book.sharedAssets[asset.asset] ?? BatteryOriginState(), chargedLocalWh: 0, chargedGridWh: ch,
                dischargeWh: d, capacityWh: asset.capacityWh)
            book.sharedAssets[asset.asset] = result.end
        }
        if touched { flags.append(.batteryOriginDegraded) }
    }
}
