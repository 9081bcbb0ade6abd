extension IntervalRecord {
    /// Checks the record's invariants on its own numbers and returns every violation.
    ///
    /// Checked (each within `toleranceWh + 1e-9·magnitude`): allocations ≥ 0, each allocation ≤
    /// that participant's import, Σ allocations ≤ pool, residual import = import − allocation,
    /// 0 ≤ residual export ≤ export, the consumption identity, hub sums and pool composition,
    /// pool balance, energy conservation for the hub, netting, and the residual export sum.
    /// Figures that are `nil` (incomplete data) are skipped, never assumed zero.
    public func validate() -> [InvariantViolation] {
        var violations: [InvariantViolation] = []
        let base = toleranceWh
        func tolerance(_ magnitudes: Double...) -> Double {
            base + 1e-9 * magnitudes.reduce(0) { $0 + abs($1) }
        }
        func check(_ ok: Bool, _ rule: InvariantViolation.Rule, _ participant: ParticipantID? = nil, _ detail: @autoclosure () -> String) {
            if !ok { violations.append(InvariantViolation(rule, participant: participant, detail())) }
        }
        func finite(_ values: Double?..., participant: ParticipantID? = nil) {
            for value in values {
                if let value, !value.isFinite {
                    violations.append(InvariantViolation(.finite, participant: participant, "value \(value)"))
                }
            }
        }

        var sumImport = 0.0, sumExport = 0.0, sumPV = 0.0, sumConsumption = 0.0
        var sumAllocated = 0.0, sumResidualImport = 0.0, sumResidualExport = 0.0
        var importsKnown = true, exportsKnown = true, pvKnown = true, consumptionKnown = true
        var allocationsKnown = true, residualImportsKnown = true, residualExportsKnown = true

        for p in participants {
            let id = p.participant
            let i = p.importWh.value, x = p.exportWh.value, v = p.pvWh.value
            let ch = p.batteryChargeWh.value, d = p.batteryDischargeWh.value, c = p.consumptionWh.value
            finite(i, x, v, ch, d, c, p.allocatedWh, p.residualImportWh, p.residualExportWh, participant: id)
            if let i { sumImport += i } else { importsKnown = false }
            if let x { sumExport += x } else { exportsKnown = false }
            if let v { sumPV += v } else { pvKnown = false }
            if let c { sumConsumption += c } else { consumptionKnown = false }
            if let i, let x, let v, let ch, let d, let c {
                let expected = i + v + d - x - ch
                check(abs(c - expected) <= tolerance(i, v, d, x, ch), .consumptionIdentity, id, "C \(c) ≠ \(expected)")
            }
            if let a = p.allocatedWh {
                sumAllocated += a
                check(a >= -tolerance(a), .allocationNonNegative, id, "A \(a) < 0")
                if let i { check(a <= i + tolerance(i), .allocationWithinImport, id, "A \(a) > I \(i)") }
            } else {
                allocationsKnown = false
            }
            if let r = p.residualImportWh {
                sumResidualImport += r
                if let i, let a = p.allocatedWh {
                    check(abs(r - (i - a)) <= tolerance(i, a), .residualImport, id, "R \(r) ≠ I \(i) − A \(a)")
                }
                check(r >= -tolerance(r), .residualImport, id, "R \(r) < 0")
            } else {
                residualImportsKnown = false
            }
            if let rx = p.residualExportWh {
                sumResidualExport += rx
                check(rx >= -tolerance(rx), .residualExport, id, "RX \(rx) < 0")
                if let x { check(rx <= x + tolerance(x), .residualExport, id, "RX \(rx) > X \(x)") }
            } else {
                residualExportsKnown = false
            }
        }

        let h = hub
        finite(
            h.importWh, h.exportWh, h.participantPVWh, h.consumptionWh, h.collectivePVWh, h.collectiveChargeWh,
            h.collectiveDischargeWh, h.netExchangeWh, h.gridImportWh, h.gridExportWh, h.poolWh, h.allocatedWh,
            h.collectiveChargeFromPoolWh, h.collectiveChargeFromGridWh, h.exportedSurplusWh)
        func sumCheck(_ known: Bool, _ total: Double?, _ sum: Double, _ name: String) {
            if known, let total { check(abs(total - sum) <= tolerance(total, sum), .hubSums, nil, "\(name) \(total) ≠ Σ \(sum)") }
        }
        sumCheck(importsKnown, h.importWh, sumImport, "import")
        sumCheck(exportsKnown, h.exportWh, sumExport, "export")
        sumCheck(pvKnown, h.participantPVWh, sumPV, "pv")
        sumCheck(consumptionKnown, h.consumptionWh, sumConsumption, "consumption")
        sumCheck(allocationsKnown, h.allocatedWh, sumAllocated, "allocated")

        var assetPV = 0.0, assetCharge = 0.0, assetDischarge = 0.0, assetResidualExport = 0.0
        var assetsKnown = true, assetResidualsKnown = true
        for asset in sharedAssets {
            if let value = asset.productionWh.value { assetPV += value } else { assetsKnown = false }
            if let value = asset.chargeWh.value { assetCharge += value } else { assetsKnown = false }
            if let value = asset.dischargeWh.value { assetDischarge += value } else { assetsKnown = false }
            if let value = asset.residualExportWh { assetResidualExport += value } else { assetResidualsKnown = false }
        }
        if assetsKnown {
            sumCheck(true, h.collectivePVWh, assetPV, "collective pv")
            sumCheck(true, h.collectiveChargeWh, assetCharge, "collective charge")
            sumCheck(true, h.collectiveDischargeWh, assetDischarge, "collective discharge")
        }

        if let pool = h.poolWh, let export = h.exportWh, let pv = h.collectivePVWh, let dis = h.collectiveDischargeWh {
            let expected = export + pv + dis
            check(abs(pool - expected) <= tolerance(pool, expected), .hubSums, nil, "pool \(pool) ≠ ΣX + PV + D \(expected)")
        }
        if allocationsKnown, let pool = h.poolWh {
            check(sumAllocated <= pool + tolerance(pool), .allocationsWithinPool, nil, "ΣA \(sumAllocated) > P \(pool)")
        }
        if let pool = h.poolWh, let allocated = h.allocatedWh, let fromPool = h.collectiveChargeFromPoolWh,
            let surplus = h.exportedSurplusWh
        {
            let total = allocated + fromPool + surplus
            check(abs(total - pool) <= tolerance(pool), .poolBalance, nil, "ΣA + charge + S \(total) ≠ P \(pool)")
            check(fromPool >= -tolerance(fromPool) && surplus >= -tolerance(surplus), .poolBalance, nil, "negative term")
        }
        if let fromPool = h.collectiveChargeFromPoolWh, let fromGrid = h.collectiveChargeFromGridWh,
            let charge = h.collectiveChargeWh
        {
            check(abs(fromPool + fromGrid - charge) <= tolerance(charge), .poolBalance, nil, "charge split ≠ charge")
        }
        if let i = h.importWh, let x = h.exportWh, let net = h.netExchangeWh, let pv = h.collectivePVWh,
            let ch = h.collectiveChargeWh, let dis = h.collectiveDischargeWh
        {
            let expected = i - x + ch - pv - dis
            check(abs(net - expected) <= tolerance(i, x, ch, pv, dis), .energyConservation, nil, "net \(net) ≠ \(expected)")
        }
        if residualImportsKnown, let fromGrid = h.collectiveChargeFromGridWh, let surplus = h.exportedSurplusWh,
            let net = h.netExchangeWh
        {
            let accounted = sumResidualImport + fromGrid - surplus
            check(
                abs(accounted - net) <= tolerance(sumResidualImport, fromGrid, surplus), .energyConservation, nil,
                "ΣR + grid charge − S \(accounted) ≠ net \(net)")
        }
        if let net = h.netExchangeWh, let gi = h.gridImportWh, let ge = h.gridExportWh {
            check(abs(gi - ge - net) <= tolerance(net), .netting, nil, "I_hub − X_hub \(gi - ge) ≠ net \(net)")
            check(gi >= 0 && ge >= 0 && min(gi, ge) <= tolerance(net), .netting, nil, "I_hub \(gi), X_hub \(ge)")
        }
        if residualExportsKnown, assetResidualsKnown, let surplus = h.exportedSurplusWh {
            let total = sumResidualExport + assetResidualExport
            check(abs(total - surplus) <= tolerance(surplus), .residualExportSum, nil, "ΣRX \(total) ≠ S \(surplus)")
        }
        return violations
    }
}
