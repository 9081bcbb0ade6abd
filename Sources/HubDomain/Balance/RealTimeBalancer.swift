/// The real-time balance: every cycle, from the latest readings, each participant's figures,
/// the hub's exchange with the grid and the instantaneous allocation of the pool.
///
/// All buffers are allocated in `init`; ``compute(_:now:)`` reuses them and performs no heap
/// allocation in steady state (see Benchmarks/HubDomainBenchmarks).
///
/// A figure that depends on a stale or missing reading is `nil` with that quality; a hub
/// figure that depends on it is `nil` too, and ``HubBalance/isComplete`` is `false`.
/// The allocation depends only on the members' grid meters and the collective assets, so a
/// stale PV inverter leaves it intact but makes that participant's consumption unknown.
public struct RealTimeBalancer: Sendable {
    /// The compiled hub.
    public let topology: HubTopology
    /// Staleness settings.
    public var configuration: BalanceConfiguration
    /// The balance of each participant by slot, as of the last ``compute(_:now:)``.
    public private(set) var participants: [ParticipantBalance]
    /// The hub balance as of the last ``compute(_:now:)``.
    public private(set) var hub: HubBalance

    private let plan: AllocationPlan
    private var workspace: AllocationWorkspace

    /// Validates and compiles `model`.
    public init(model: HubModel, configuration: BalanceConfiguration = .init()) throws(HubModelError) {
        self.init(topology: try HubTopology(model: model), configuration: configuration)
    }

    /// Uses an already compiled topology.
    public init(topology: HubTopology, configuration: BalanceConfiguration = .init()) {
        self.topology = topology
        self.configuration = configuration
        participants = Array(repeating: .notMember, count: topology.participantCount)
        hub = .empty(keyVersion: topology.model.allocationKey.version)
        plan = AllocationPlan(
            key: topology.model.allocationKey, slotByID: topology.participantSlotByID,
            count: topology.participantCount)
        workspace = AllocationWorkspace(count: topology.participantCount)
    }

    /// A readings buffer sized for this hub.
    public func makeReadings() -> BalanceReadings { BalanceReadings(topology: topology) }

    /// The balance of one participant, by id.
    public func balance(of participant: ParticipantID) -> ParticipantBalance? {
        topology.slot(of: participant).map { participants[$0.index] }
    }

    /// Turns a reading into a figure: missing, stale (by quality or by age), or usable.
    @inline(__always)
    private func evaluate(_ reading: Reading, now: UTCMilliseconds) -> Figure {
        guard reading.value.isFinite else { return .missing }
        let age = now.milliseconds(since: reading.acquiredAt)
        switch reading.quality {
        case .missing:
            return .missing
        case .stale(let reported):
            return Figure(value: nil, quality: .stale(ageMs: max(reported, age)))
        case .measured, .estimated:
            if age > configuration.staleAfterMs { return Figure(value: nil, quality: .stale(ageMs: age)) }
            return Figure(value: reading.value, quality: reading.quality)
        }
    }

    @inline(__always)
    private static func figure(_ value: Double, _ accumulator: QualityAccumulator) -> Figure {
        let quality = accumulator.quality
        return Figure(value: quality.isUsable ? value : nil, quality: quality)
    }

    /// Computes the balance of one cycle from `readings` at time `now`.
    public mutating func compute(_ readings: BalanceReadings, now: UTCMilliseconds) {
        let count = topology.participantCount
        var members = 0
        var incomplete = 0
        var net = 0.0
        var netQuality = QualityAccumulator()
        var pool = 0.0
        var poolQuality = QualityAccumulator()
        var consumption = 0.0
        var consumptionQuality = QualityAccumulator()
        var production = 0.0
        var productionQuality = QualityAccumulator()

        for slot in 0..<count {
            guard topology.memberships[slot].isMember(at: now) else {
                participants[slot] = .notMember
                workspace.demand[slot] = 0
                continue
            }
            members += 1
            let grid = evaluate(readings.readings[topology.gridDevice[slot]], now: now)
            var pv = 0.0
            var pvQuality = QualityAccumulator()
            for k in topology.pvStart[slot]..<topology.pvStart[slot + 1] {
                let figure = evaluate(readings.readings[topology.pvDevices[k]], now: now)
                pv += figure.value ?? 0
                pvQuality.add(figure.quality, magnitude: figure.value ?? 0)
            }
            var battery = 0.0
            var batteryQuality = QualityAccumulator()
            for k in topology.batteryStart[slot]..<topology.batteryStart[slot + 1] {
                let figure = evaluate(readings.readings[topology.batteryDevices[k]], now: now)
                battery += figure.value ?? 0
                batteryQuality.add(figure.quality, magnitude: figure.value ?? 0)
            }
            let pvFigure = Self.figure(pv, pvQuality)
            let batteryFigure = Self.figure(battery, batteryQuality)
            let gridValue = grid.value ?? 0
            var ownQuality = QualityAccumulator()
            ownQuality.add(grid.quality, magnitude: gridValue)
            ownQuality.add(pvFigure.quality, magnitude: pv)
            ownQuality.add(batteryFigure.quality, magnitude: battery)
            let consumptionFigure = Self.figure(gridValue + pv + battery, ownQuality)
            let importFigure = Figure(value: grid.value.map { max(0, $0) }, quality: grid.quality)
            let exportFigure = Figure(value: grid.value.map { max(0, -$0) }, quality: grid.quality)

            participants[slot] = ParticipantBalance(
                isMember: true, gridW: grid, importW: importFigure, exportW: exportFigure, productionW: pvFigure,
                batteryW: batteryFigure, consumptionW: consumptionFigure, allocationW: .missing,
                residualImportW: .missing)
            workspace.demand[slot] = importFigure.value ?? 0

            net += gridValue
            netQuality.add(grid.quality, magnitude: gridValue)
            pool += exportFigure.value ?? 0
            poolQuality.add(grid.quality, magnitude: exportFigure.value ?? 0)
            consumption += consumptionFigure.value ?? 0
            consumptionQuality.add(consumptionFigure.quality, magnitude: consumptionFigure.value ?? 0)
            production += pv
            productionQuality.add(pvFigure.quality, magnitude: pv)
            if consumptionFigure.value == nil { incomplete += 1 }
        }

        var collectivePV = 0.0
        var collectivePVQuality = QualityAccumulator()
        var collectiveBattery = 0.0
        var collectiveBatteryQuality = QualityAccumulator()
        for index in 0..<topology.sharedAssets.count {
            let slot = topology.assetDevice[index]
            let figure = evaluate(readings.readings[slot], now: now)
            let value = figure.value ?? 0
            if topology.devices[slot].kind == .pvInverter {
                collectivePV += value
                collectivePVQuality.add(figure.quality, magnitude: value)
                production += value
                productionQuality.add(figure.quality, magnitude: value)
            } else {
                collectiveBattery += value
                collectiveBatteryQuality.add(figure.quality, magnitude: value)
            }
            net -= value
            netQuality.add(figure.quality, magnitude: value)
            pool += max(0, value)
            poolQuality.add(figure.quality, magnitude: max(0, value))
        }
        // Charging of collective batteries, served from the pool after the participants.
        var collectiveCharge = 0.0
        for index in 0..<topology.sharedAssets.count {
            let slot = topology.assetDevice[index]
            if topology.devices[slot].kind == .battery {
                collectiveCharge += max(0, -(evaluate(readings.readings[slot], now: now).value ?? 0))
            }
        }

        let netFigure = Self.figure(net, netQuality)
        let poolFigure = Self.figure(pool, poolQuality)
        var allocated = Figure.missing
        var chargeFromPool = Figure.missing
        var exported = Figure.missing
        if poolFigure.value != nil {
            // netQuality covers every input of the allocation: members' grid meters and collective assets.
            let allocationQuality = netQuality.quality
            workspace.allocate(plan: plan, pool: pool)
            var sum = 0.0
            for slot in 0..<count where participants[slot].isMember {
                let share = workspace.result[slot]
                sum += share
                participants[slot].allocationW = Figure(value: share, quality: allocationQuality)
                participants[slot].residualImportW = Figure(
                    value: max(0, workspace.demand[slot] - share), quality: allocationQuality)
            }
            let fromPool = min(collectiveCharge, max(0, pool - sum))
            allocated = Figure(value: sum, quality: allocationQuality)
            chargeFromPool = Figure(value: fromPool, quality: allocationQuality)
            exported = Figure(value: max(0, pool - sum - fromPool), quality: allocationQuality)
        } else {
            incomplete = 0
            for slot in 0..<count where participants[slot].isMember && !participants[slot].isComplete {
                incomplete += 1
            }
        }

        hub.at = now
        hub.memberCount = members
        hub.incompleteParticipantCount = incomplete
        hub.netGridW = netFigure
        hub.poolW = poolFigure
        hub.allocatedW = allocated
        hub.collectiveChargeFromPoolW = chargeFromPool
        hub.exportedSurplusW = exported
        hub.consumptionW = Self.figure(consumption, consumptionQuality)
        hub.productionW = Self.figure(production, productionQuality)
        hub.collectiveProductionW = Self.figure(collectivePV, collectivePVQuality)
        hub.collectiveBatteryW = Self.figure(collectiveBattery, collectiveBatteryQuality)
        hub.isComplete =
            incomplete == 0 && netFigure.value != nil && poolFigure.value != nil && hub.consumptionW.value != nil
            && hub.productionW.value != nil && hub.collectiveBatteryW.value != nil
    }
}
