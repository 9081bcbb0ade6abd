/// The 15-minute settlement ledger: accumulates device samples, closes UTC quarter hours and
/// produces one ``IntervalRecord`` per interval.
///
/// Driven entirely by the timestamps it is given: ``ingest(_:)`` every acquisition, and
/// ``advance(to:)`` with the injected clock's time every cycle. An interval `[s, e)` is closed
/// once `now ≥ e + closeDelayMs`, so the first sample after the boundary can still complete it.
/// After a pause, every interval that passed is closed and reported: with missing figures,
/// never zero-filled.
///
/// Energy per channel comes from counter steps where counters exist (with rollover and reset
/// detection), otherwise from power held for at most `maxPowerHoldMs`; see
/// docs/energy-model.md ("Settlement") for the rules.
public struct SettlementLedger: Sendable {
    /// Counts of what the ledger did with its input.
    public struct Statistics: Sendable, Hashable, Codable {
        /// Samples used.
        public var accepted = 0
        /// Samples of devices not in the model.
        public var unknownDevice = 0
        /// Samples at or before the device's last accepted time, or before the open interval.
        public var late = 0
        /// Intervals closed.
        public var closedIntervals = 0
    }

    /// What ``ingest(_:)`` did with a sample.
    public enum IngestOutcome: Sendable, Hashable {
        case accepted
        case unknownDevice
        case late
    }

    /// The compiled hub.
    public let topology: HubTopology
    public let configuration: SettlementConfiguration
    /// Start of the oldest open interval.
    public private(set) var openIntervalStart: UTCMilliseconds
    public private(set) var statistics: Statistics
    /// Battery content by origin after the last closed interval.
    public private(set) var originBook: BatteryOriginBook

    private var channels: [ChannelState]
    private let channelBase: [Int]
    private var acceptedUntil: [UTCMilliseconds?]
    private var pendingRecords: [IntervalRecord] = []
    private var pendingCorrections: [GapCorrection] = []
    private var pendingFlags: [RecordFlag] = []

    private static let q = UTCMilliseconds.quarterHourMs

    /// A new ledger whose first open interval is the quarter hour containing `now`.
    public init(
        model: HubModel, configuration: SettlementConfiguration = .init(), startingAt now: UTCMilliseconds
    ) throws(SettlementError) {
        try Self.check(configuration)
        let topology: HubTopology
        do {
            topology = try HubTopology(model: model)
        } catch {
            throw SettlementError(.invalidModel, error.description)
        }
        self.topology = topology
        self.configuration = configuration
        openIntervalStart = now.quarterHourFloor
        statistics = Statistics()
        originBook = BatteryOriginBook()
        var base: [Int] = []
        var count = 0
        for device in topology.devices {
            base.append(count)
            count += device.kind.quantities.count
        }
        channelBase = base
        channels = Array(repeating: ChannelState(), count: count)
        acceptedUntil = Array(repeating: nil, count: topology.deviceCount)
    }

    /// Restores a ledger from a snapshot, possibly into a changed model (devices matched by id and kind).
    public init(
        model: HubModel, configuration: SettlementConfiguration = .init(), restoringFrom snapshot: LedgerSnapshot
    ) throws(SettlementError) {
        guard snapshot.schema == LedgerSnapshot.schemaVersion else {
            throw SettlementError(.unsupportedSnapshotSchema, "snapshot schema \(snapshot.schema)")
        }
        guard snapshot.hubID == model.hubID else {
            throw SettlementError(.snapshotHubMismatch, "snapshot of \(snapshot.hubID), model of \(model.hubID)")
        }
        try self.init(model: model, configuration: configuration, startingAt: snapshot.openIntervalStart)
        var saved: [DeviceID: LedgerSnapshot.DeviceState] = [:]
        for device in snapshot.devices { saved[device.device] = device }
        for (slot, device) in topology.devices.enumerated() {
            guard let state = saved[device.id], state.kind == device.kind else { continue }
            acceptedUntil[slot] = state.acceptedUntil
            for (k, quantity) in device.kind.quantities.enumerated() {
                if let channel = state.channels[quantity] { channels[channelBase[slot] + k] = channel }
            }
        }
        originBook = snapshot.originBook
        pendingRecords = snapshot.pendingRecords
        pendingCorrections = snapshot.pendingCorrections
        pendingFlags = snapshot.pendingFlags
        statistics = snapshot.statistics
    }

    private static func check(_ configuration: SettlementConfiguration) throws(SettlementError) {
        guard (0..<q).contains(configuration.closeDelayMs) else {
            throw SettlementError(.invalidConfiguration, "closeDelayMs \(configuration.closeDelayMs) not in 0..<\(q)")
        }
        guard configuration.maxPowerHoldMs >= 0, configuration.maxMeasuredSpanMs >= 0,
            configuration.coverageToleranceMs >= 0, configuration.toleranceWh >= 0,
            configuration.toleranceWh.isFinite
        else {
            throw SettlementError(.invalidConfiguration, "negative hold, span, tolerance or non-finite tolerance")
        }
    }

    /// The open-interval state, for the agent to persist.
    public func snapshot() -> LedgerSnapshot {
        var devices: [LedgerSnapshot.DeviceState] = []
        for (slot, device) in topology.devices.enumerated() {
            var states: [EnergyQuantity: ChannelState] = [:]
            for (k, quantity) in device.kind.quantities.enumerated() {
                states[quantity] = channels[channelBase[slot] + k]
            }
            devices.append(
                LedgerSnapshot.DeviceState(
                    device: device.id, kind: device.kind, acceptedUntil: acceptedUntil[slot], channels: states))
        }
        return LedgerSnapshot(
            schema: LedgerSnapshot.schemaVersion, hubID: topology.model.hubID, openIntervalStart: openIntervalStart,
            devices: devices, originBook: originBook, pendingRecords: pendingRecords,
            pendingCorrections: pendingCorrections, pendingFlags: pendingFlags, statistics: statistics)
    }

    // MARK: - Input

    /// Books one device sample. Closes intervals first if the sample lies beyond the next one
    /// (their records are returned by the next ``advance(to:)``).
    @discardableResult
    public mutating func ingest(_ sample: DeviceSample) -> IngestOutcome {
        guard let slot = topology.deviceSlotByID[sample.device] else {
            statistics.unknownDevice += 1
            return .unknownDevice
        }
        let t = sample.at
        guard t >= openIntervalStart, acceptedUntil[slot].map({ t > $0 }) ?? true else {
            statistics.late += 1
            return .late
        }
        while t >= openIntervalStart.adding(milliseconds: 2 * Self.q) { closeOldest() }
        let device = topology.devices[slot]
        for (k, quantity) in device.kind.quantities.enumerated() {
            let power = sample.powerW.flatMap { $0.isFinite ? quantity.directionalPower(fromSigned: $0) : nil }
            let counter = sample.counters[quantity].flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
            process(channel: channelBase[slot] + k, device: device, quantity: quantity, at: t, power: power, counter: counter)
        }
        acceptedUntil[slot] = t
        statistics.accepted += 1
        return .accepted
    }

    /// Closes every interval that ended at least `closeDelayMs` before `now` and returns the
    /// records produced since the last call, oldest first.
    public mutating func advance(to now: UTCMilliseconds) -> [IntervalRecord] {
        while now >= openIntervalStart.adding(milliseconds: Self.q + configuration.closeDelayMs) { closeOldest() }
        let records = pendingRecords
        pendingRecords = []
        return records
    }

    private mutating func process(
        channel index: Int, device: Device, quantity: EnergyQuantity, at t: UTCMilliseconds, power: Double?,
        counter: Double?
    ) {
        var channel = channels[index]
        defer { channels[index] = channel }
        guard let accounted = channel.accountedUntil else {
            channel.accountedUntil = t
            if let counter {
                channel.anchorWh = counter
                channel.anchorAt = t
            }
            if let power {
                channel.lastPowerW = power
                channel.lastPowerAt = t
            }
            return
        }
        if let counter {
            if let anchor = channel.anchorWh {
                let step = CounterStep.classify(
                    previous: anchor, current: counter, spanMs: t.milliseconds(since: channel.anchorAt),
                    modulusWh: device.counterModulusWh, maxPlausiblePowerW: device.maxPlausiblePowerW)
                switch step {
                case .advance(let delta):
                    bookCounter(&channel, delta: delta, from: channel.anchorAt, to: t, device: device.id, quantity: quantity)
                case .rollover(let delta):
                    channel.slots[slotIndex(t)].rollovers += 1
                    bookCounter(&channel, delta: delta, from: channel.anchorAt, to: t, device: device.id, quantity: quantity)
                case .reset, .implausible:
                    if case .reset = step {
                        channel.slots[slotIndex(t)].resets += 1
                    } else {
                        channel.slots[slotIndex(t)].implausible += 1
                    }
                    // Power estimates since the old baseline stay; no counter can replace them now.
                    for k in 0..<2 {
                        channel.slots[k].provisionalWh = 0
                        channel.slots[k].provisionalMs = 0
                    }
                    channel.provisionalClosedWh = 0
                    bookPower(&channel, from: accounted, to: t, provisional: false)
                }
            } else {
                bookPower(&channel, from: accounted, to: t, provisional: false)
            }
            channel.anchorWh = counter
            channel.anchorAt = t
        } else {
            bookPower(&channel, from: accounted, to: t, provisional: channel.anchorWh != nil)
        }
        channel.accountedUntil = max(accounted, t)
        if let power {
            channel.lastPowerW = power
            channel.lastPowerAt = t
        }
    }

    private func slotIndex(_ t: UTCMilliseconds) -> Int {
        t.milliseconds(since: openIntervalStart) >= Self.q ? 1 : 0
    }

    /// Milliseconds of `[a, b)` inside open slot `k`.
    private func overlap(_ a: UTCMilliseconds, _ b: UTCMilliseconds, slot k: Int) -> Int64 {
        let start = openIntervalStart.adding(milliseconds: Int64(k) * Self.q)
        let end = start.adding(milliseconds: Self.q)
        return max(0, min(b, end).rawValue - max(a, start).rawValue)
    }

    /// Integrates the held power over `[a, b)`, up to `maxPowerHoldMs` after the power sample.
    private func bookPower(_ channel: inout ChannelState, from a: UTCMilliseconds, to b: UTCMilliseconds, provisional: Bool) {
        guard let power = channel.lastPowerW else { return }
        let end = min(b, channel.lastPowerAt.adding(milliseconds: configuration.maxPowerHoldMs))
        let start = max(a, openIntervalStart)
        guard end > start else { return }
        for k in 0..<2 {
            let ms = overlap(start, end, slot: k)
            guard ms > 0 else { continue }
            let wh = power * Double(ms) / 3_600_000
            channel.slots[k].estimatedWh += wh
            channel.slots[k].estimatedMs += ms
            if provisional {
                channel.slots[k].provisionalWh += wh
                channel.slots[k].provisionalMs += ms
            }
        }
    }

    /// Books a counter step over `[a, t]`, replacing the power estimates booked since `a`.
    private mutating func bookCounter(
        _ channel: inout ChannelState, delta: Double, from a: UTCMilliseconds, to t: UTCMilliseconds, device: DeviceID,
        quantity: EnergyQuantity
    ) {
        for k in 0..<2 {
            channel.slots[k].estimatedWh -= channel.slots[k].provisionalWh
            channel.slots[k].estimatedMs -= channel.slots[k].provisionalMs
            channel.slots[k].provisionalWh = 0
            channel.slots[k].provisionalMs = 0
        }
        let span = t.milliseconds(since: a)
        guard span > 0 else { return }
        let closedMs = max(0, min(t, openIntervalStart).rawValue - a.rawValue)
        if closedMs > 0 || channel.provisionalClosedWh != 0 {
            let correction = delta * Double(closedMs) / Double(span) - channel.provisionalClosedWh
            if abs(correction) > 1e-9 {
                pendingCorrections.append(
                    GapCorrection(
                        device: device, quantity: quantity, reason: .learnedLate, from: a, to: openIntervalStart,
                        energyWh: correction))
            }
        }
        channel.provisionalClosedWh = 0
        let sameInterval = a.quarterHourFloor == t.adding(milliseconds: -1).quarterHourFloor
        let measured = sameInterval || span <= configuration.maxMeasuredSpanMs
        for k in 0..<2 {
            let ms = overlap(a, t, slot: k)
            guard ms > 0 else { continue }
            let wh = delta * Double(ms) / Double(span)
            if measured {
                channel.slots[k].measuredWh += wh
                channel.slots[k].measuredMs += ms
            } else {
                channel.slots[k].estimatedWh += wh
                channel.slots[k].estimatedMs += ms
            }
        }
    }

    // MARK: - Closing

    private mutating func closeOldest() {
        let interval = SettlementInterval(containing: openIntervalStart)
        let end = interval.end
        var flags = pendingFlags
        pendingFlags = []
        var corrections = pendingCorrections
        pendingCorrections = []

        // Hold the last power up to the boundary where no sample after it has arrived.
        for slot in 0..<topology.deviceCount {
            for k in 0..<topology.devices[slot].kind.quantities.count {
                let index = channelBase[slot] + k
                var channel = channels[index]
                guard let accounted = channel.accountedUntil, accounted < end, channel.lastPowerW != nil else { continue }
                let fillEnd = min(end, channel.lastPowerAt.adding(milliseconds: configuration.maxPowerHoldMs))
                guard fillEnd > accounted else { continue }
                bookPower(&channel, from: accounted, to: fillEnd, provisional: channel.anchorWh != nil)
                channel.accountedUntil = fillEnd
                channels[index] = channel
                acceptedUntil[slot] = max(acceptedUntil[slot] ?? fillEnd, fillEnd)
            }
        }

        var participants: [ParticipantEnergyInput] = []
        for slot in 0..<topology.participantCount where topology.memberships[slot].isMember(at: interval.start) {
            let grid = topology.gridDevice[slot]
            let pv = Array(topology.pvDevices[topology.pvStart[slot]..<topology.pvStart[slot + 1]])
            let batteries = Array(topology.batteryDevices[topology.batteryStart[slot]..<topology.batteryStart[slot + 1]])
            var capacity: Double? = batteries.isEmpty ? nil : 0
            for battery in batteries {
                if let known = topology.devices[battery].usableCapacityWh, let sum = capacity {
                    capacity = sum + known
                } else {
                    capacity = nil
                }
            }
            participants.append(
                ParticipantEnergyInput(
                    participant: topology.participantIDs[slot],
                    importWh: figure(device: grid, quantity: .gridImport, flags: &flags, corrections: &corrections),
                    exportWh: figure(device: grid, quantity: .gridExport, flags: &flags, corrections: &corrections),
                    pvWh: sumFigure(devices: pv, quantity: .pvProduction, flags: &flags, corrections: &corrections),
                    batteryChargeWh: sumFigure(devices: batteries, quantity: .batteryCharge, flags: &flags, corrections: &corrections),
                    batteryDischargeWh: sumFigure(devices: batteries, quantity: .batteryDischarge, flags: &flags, corrections: &corrections),
                    batteryCapacityWh: capacity))
        }
        var assets: [SharedAssetEnergyInput] = []
        for (index, asset) in topology.sharedAssets.enumerated() {
            let slot = topology.assetDevice[index]
            if asset.device.kind == .pvInverter {
                assets.append(
                    SharedAssetEnergyInput(
                        asset: asset.id, kind: .pvInverter,
                        productionWh: figure(device: slot, quantity: .pvProduction, flags: &flags, corrections: &corrections),
                        ownership: asset.ownership))
            } else {
                assets.append(
                    SharedAssetEnergyInput(
                        asset: asset.id, kind: .battery,
                        chargeWh: figure(device: slot, quantity: .batteryCharge, flags: &flags, corrections: &corrections),
                        dischargeWh: figure(device: slot, quantity: .batteryDischarge, flags: &flags, corrections: &corrections),
                        ownership: asset.ownership, capacityWh: asset.device.usableCapacityWh))
            }
        }
        let record = IntervalSettlement.settle(
            hubID: topology.model.hubID, interval: interval, key: topology.model.allocationKey,
            participants: participants, sharedAssets: assets, originBook: &originBook, flags: flags,
            gapCorrections: corrections, toleranceWh: configuration.toleranceWh)
        pendingRecords.append(record)

        for index in channels.indices {
            channels[index].provisionalClosedWh += channels[index].slots[0].provisionalWh
            channels[index].slots[0] = channels[index].slots[1]
            channels[index].slots[1] = SlotAccumulator()
        }
        openIntervalStart = end
        statistics.closedIntervals += 1
    }

    private func figure(
        device slot: Int, quantity: EnergyQuantity, flags: inout [RecordFlag], corrections: inout [GapCorrection]
    ) -> Figure {
        guard let k = topology.devices[slot].kind.quantities.firstIndex(of: quantity) else { return .missing }
        let accumulated = channels[channelBase[slot] + k].slots[0]
        let id = topology.devices[slot].id
        if accumulated.resets > 0 { flags.append(.counterReset(device: id, quantity: quantity)) }
        if accumulated.rollovers > 0 { flags.append(.counterRollover(device: id, quantity: quantity)) }
        if accumulated.implausible > 0 { flags.append(.counterImplausible(device: id, quantity: quantity)) }
        let covered = accumulated.measuredMs + accumulated.estimatedMs
        guard covered + configuration.coverageToleranceMs >= Self.q else {
            flags.append(.energyMissing(device: id, quantity: quantity))
            let partial = accumulated.measuredWh + accumulated.estimatedWh
            if covered > 0, abs(partial) > 1e-9 {
                corrections.append(
                    GapCorrection(
                        device: id, quantity: quantity, reason: .incompleteInterval, from: openIntervalStart,
                        to: openIntervalStart.adding(milliseconds: Self.q), energyWh: partial))
            }
            return .missing
        }
        let estimated = max(0, accumulated.estimatedWh)
        let total = accumulated.measuredWh + estimated
        let share: Double
        if total > 0 {
            share = estimated / total
        } else {
            share = covered > 0 ? Double(accumulated.estimatedMs) / Double(covered) : 0
        }
        let clamped = min(1, max(0, share))
        if clamped > 0 { flags.append(.energyEstimated(device: id, quantity: quantity, share: clamped)) }
        return Figure.estimated(total, share: clamped)
    }

    private func sumFigure(
        devices: [Int], quantity: EnergyQuantity, flags: inout [RecordFlag], corrections: inout [GapCorrection]
    ) -> Figure {
        guard !devices.isEmpty else { return .none }
        var total = 0.0
        var quality = QualityAccumulator()
        for device in devices {
            let part = figure(device: device, quantity: quantity, flags: &flags, corrections: &corrections)
            total += part.value ?? 0
            quality.add(part.quality, magnitude: part.value ?? 0)
        }
        let combined = quality.quality
        return Figure(value: combined.isUsable ? total : nil, quality: combined)
    }
}
