import HubContract
import Acquisition
import DeviceProfiles
import Foundation
import HubDomain
import HubSupport
import Logging
import MQTTIO
import Prometheus

/// The agent's heart, one actor: takes each device snapshot as acquisition delivers it, and on
/// every cycle computes the real-time balance, publishes it, advances the settlement ledger and
/// commits closed intervals (with the ledger's snapshot) to the durable store.
public actor AgentCore {
    public struct Settings: Sendable {
        public var hub: String
        public var cycle: Duration
        public var outboxLimits: AgentStore.Limits
        public var agentVersion: String
        /// Home Assistant discovery prefix; nil turns discovery off.
        public var homeAssistantPrefix: String?

        public init(hub: String, cycle: Duration, outboxLimits: AgentStore.Limits, agentVersion: String,
                    homeAssistantPrefix: String? = nil) {
            self.homeAssistantPrefix = homeAssistantPrefix
            self.hub = hub
            self.cycle = cycle
            self.outboxLimits = outboxLimits
            self.agentVersion = agentVersion
        }
    }

    /// What /health reports about one device.
    public struct DeviceStatus: Sendable, Equatable {
        public var state: String
        public var lastError: String?
        public var lastSeen: UTCMilliseconds?
    }

    private let settings: Settings
    private let plan: AgentPlan
    private let store: AgentStore
    private let link: MQTTLink
    private let topics: Topics
    private let logger: Logger
    private let encoder = MessageEncoding.encoder()
    private var balancer: RealTimeBalancer
    private var readings: BalanceReadings
    private var ledger: SettlementLedger
    private var devices: [String: DeviceStatus] = [:]
    private var lastSnapshotSave: UTCMilliseconds?
    private var announced: Set<String> = []
    /// The cycle (wall-clock multiple of the cycle time) whose snapshots are being collected.
    private var collectingCycle: Int64 = -1
    private var snapshotsInCycle: Set<String> = []
    /// The last cycle that was balanced, so the fallback ticker never balances a cycle twice.
    private var lastBalancedCycle: Int64 = -1
    /// Wall-clock time of the last balance, for the watchdog.
    private(set) public var lastBalanceAt: ContinuousClock.Instant = .now
    private var lastEnforcement: UTCMilliseconds?
    private(set) public var outboxAlarm = false
    private(set) public var lastBalance: HubBalance?

    // Metrics.
    private let cycleDuration: DurationHistogram
    private let acquisitionDuration: DurationHistogram
    private let intervalsCommitted: Counter
    private let outboxDepth: Gauge
    private let outboxBytes: Gauge
    private let outboxAlarmGauge: Gauge
    private let devicesOffline: Gauge
    private let samplesRejected: Counter

    private let clock: any UTCClock

    public init(settings: Settings, plan: AgentPlan, store: AgentStore, link: MQTTLink, registry: PrometheusCollectorRegistry,
                logger: Logger, clock: any UTCClock) throws {
        let now = clock.now
        self.clock = clock
        self.settings = settings
        self.plan = plan
        self.store = store
        self.link = link
        self.topics = Topics(hub: settings.hub)
        self.logger = logger
        // A reading is stale after three missed cycles (at least 10 s).
        let cycleMs = max(1, settings.cycle.components.seconds * 1000 + settings.cycle.components.attoseconds / 1_000_000_000_000_000)
        balancer = try RealTimeBalancer(model: plan.model, configuration: BalanceConfiguration(staleAfterMs: max(10_000, 3 * cycleMs)))
        readings = balancer.makeReadings()
        ledger = try Self.restoreLedger(model: plan.model, store: store, hub: settings.hub, now: now, logger: logger)
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "hubmeter", metricName: metric, unitName: unit, helpText: help)
        }
        cycleDuration = registry.makeDurationHistogram(
            descriptor: name("cycle_publish_duration", "seconds", "Time from the cycle's wall-clock start to the last publish of the cycle"),
            buckets: [1, 2, 5, 10, 12, 14, 16, 18, 20, 25, 30, 40, 50, 75, 100, 200, 500].map { .milliseconds($0) })
        // The part of the cycle spent waiting for devices: what is left of `cycle_publish_duration`
        // is the agent's own work (balance, encode, publish).
        acquisitionDuration = registry.makeDurationHistogram(
            descriptor: name("cycle_acquisition_duration", "seconds", "Time from the cycle's wall-clock start until every device's snapshot reached the balance"),
            buckets: [1, 2, 5, 10, 12, 14, 16, 18, 20, 25, 30, 40, 50, 75, 100, 200, 500].map { .milliseconds($0) })
        intervalsCommitted = registry.makeCounter(descriptor: name("intervals_committed", "total", "Settlement records put in the outbox"))
        outboxDepth = registry.makeGauge(descriptor: name("outbox", "messages", "Messages waiting in the outbox for a broker acknowledgement"))
        outboxBytes = registry.makeGauge(descriptor: name("outbox", "bytes", "Bytes waiting in the outbox"))
        outboxAlarmGauge = registry.makeGauge(descriptor: name("outbox_over_limit", "", "1 when settlement records alone exceed the outbox limits (nothing is dropped)"))
        devicesOffline = registry.makeGauge(descriptor: name("devices_offline", "", "Devices that are not answering"))
        samplesRejected = registry.makeCounter(descriptor: name("samples_rejected", "total", "Device samples the ledger did not accept (late or unknown)"))
        for device in plan.kinds.keys { devices[device] = DeviceStatus(state: "unknown") }
    }

    private static func restoreLedger(model: HubModel, store: AgentStore, hub: String, now: UTCMilliseconds, logger: Logger) throws -> SettlementLedger {
        if let bytes = try store.loadSnapshot(hub: hub) {
            do {
                let snapshot = try MessageEncoding.decoder().decode(LedgerSnapshot.self, from: Data(bytes))
                let ledger = try SettlementLedger(model: model, restoringFrom: snapshot)
                logger.notice("resumed the open settlement interval", metadata: ["interval": "\(snapshot.openIntervalStart)"])
                return ledger
            } catch {
                logger.error("the saved settlement state cannot be restored; starting a new interval (its records will be flagged)",
                             metadata: ["error": "\(error)"])
            }
        }
        return try SettlementLedger(model: model, startingAt: now)
    }

    // MARK: Input

    /// Takes one device's snapshot from acquisition (its state message was published already, from
    /// the bus thread, by ``DeviceStatePublisher``); when every device has reported for this
    /// cycle, balances at once (the cycle's "last publish" is then as early as it can be).
    public func accept(_ snapshot: DeviceSnapshot, now: UTCMilliseconds) async {
        guard let kind = plan.kinds[snapshot.device] else { return }
        let cycle = Self.cycleIndex(now, cycleMilliseconds: cycleMilliseconds)
        if cycle != collectingCycle {
            collectingCycle = cycle
            snapshotsInCycle.removeAll(keepingCapacity: true)
        }
        snapshotsInCycle.insert(snapshot.device)
        let isProductionMeter = plan.productionMeters.contains(snapshot.device)
        let reading = Self.powerReading(snapshot, kind: kind, productionMeter: isProductionMeter, now: now)
        readings.set(reading, for: DeviceID(snapshot.device))
        if let sample = Self.sample(snapshot, kind: kind, productionMeter: isProductionMeter) {
            if ledger.ingest(sample) != .accepted { samplesRejected.increment() }
        }
        await updateAvailability(snapshot, now: now)
        if let prefix = settings.homeAssistantPrefix, !snapshot.canonical.isEmpty, announced.insert(snapshot.device).inserted {
            let discovery = HomeAssistantDiscovery(prefix: prefix, topics: topics)
            for message in discovery.messages(device: snapshot.device, profile: snapshot.profile,
                                              canonical: snapshot.canonical.mapValues(\.point)) {
                await link.publishRetained(message)
            }
        }
        if snapshotsInCycle.count == plan.kinds.count {
            acquisitionDuration.record(.milliseconds(max(0, clock.now.milliseconds(since: UTCMilliseconds(cycle * cycleMilliseconds)))))
            await balance(cycle: cycle, now: now)
        }
    }

    var cycleMilliseconds: Int64 {
        max(1, settings.cycle.components.seconds * 1000 + settings.cycle.components.attoseconds / 1_000_000_000_000_000)
    }

    static func cycleIndex(_ time: UTCMilliseconds, cycleMilliseconds: Int64) -> Int64 {
        time.rawValue / cycleMilliseconds
    }

    /// The fallback: balances the current cycle if some device has not reported by now
    /// (called late in each cycle). Does nothing when the cycle was balanced already.
    public func balanceIfDue(now: UTCMilliseconds) async {
        await balance(cycle: Self.cycleIndex(now, cycleMilliseconds: cycleMilliseconds), now: now)
    }

    private func balance(cycle: Int64, now: UTCMilliseconds) async {
        guard cycle > lastBalancedCycle else { return }
        lastBalancedCycle = cycle
        await tick(now: now, cycleStart: UTCMilliseconds(cycle * cycleMilliseconds))
    }

    /// The power in the domain's sign convention for the device's role.
    static func powerReading(_ snapshot: DeviceSnapshot, kind: DeviceKind, productionMeter: Bool, now: UTCMilliseconds) -> Reading {
        let value: AcquiredValue?
        var negate = false
        switch kind {
        case .gridMeter, .subMeter: value = snapshot.canonical[.gridPower]
        case .battery: value = snapshot.canonical[.batteryPower]
        case .pvInverter:
            if let pv = snapshot.canonical[.pvPower] {
                value = pv
            } else if productionMeter, let grid = snapshot.canonical[.gridPower] {
                // A meter on a production asset: what it exports is production.
                value = grid
                negate = true
            } else {
                value = nil
            }
        }
        guard let value else { return .missing }
        switch value.quality {
        case .good:
            guard let number = value.value, let at = value.acquiredAt else { return .missing }
            return Reading(value: negate ? -number : number, quality: .measured, acquiredAt: at)
        case .stale(let age):
            guard let number = value.value, let at = value.acquiredAt else { return .missing }
            return Reading(value: negate ? -number : number, quality: .stale(ageMs: age), acquiredAt: at)
        case .missing, .error:
            return Reading(value: 0, quality: .missing, acquiredAt: now)
        }
    }

    /// A ledger sample from the good values of this cycle (stale values were read earlier and are not new).
    static func sample(_ snapshot: DeviceSnapshot, kind: DeviceKind, productionMeter: Bool) -> DeviceSample? {
        func good(_ quantity: CanonicalQuantity) -> AcquiredValue? {
            guard let value = snapshot.canonical[quantity], value.quality == .good, value.value != nil else { return nil }
            return value
        }
        var counters = CounterValues()
        var power: AcquiredValue?
        var negatePower = false
        switch kind {
        case .gridMeter:
            power = good(.gridPower)
            counters.gridImportWh = good(.gridImportEnergy)?.value
            counters.gridExportWh = good(.gridExportEnergy)?.value
        case .pvInverter:
            power = good(.pvPower)
            counters.pvProductionWh = good(.pvEnergy)?.value
            if productionMeter {
                if power == nil, let grid = good(.gridPower) {
                    power = grid
                    negatePower = true
                }
                if counters.pvProductionWh == nil { counters.pvProductionWh = good(.gridExportEnergy)?.value }
            }
        case .battery:
            power = good(.batteryPower)
            counters.batteryChargeWh = good(.batteryChargeEnergy)?.value
            counters.batteryDischargeWh = good(.batteryDischargeEnergy)?.value
        case .subMeter:
            power = good(.gridPower)
            counters.subMeteredWh = good(.gridImportEnergy)?.value
        }
        let at = power?.acquiredAt ?? snapshot.values.compactMap(\.acquiredAt).max()
        guard let at, power != nil || counters != .none else { return nil }
        return DeviceSample(device: DeviceID(snapshot.device), at: at,
                            powerW: power?.value.map { negatePower ? -$0 : $0 }, counters: counters)
    }

    private func updateAvailability(_ snapshot: DeviceSnapshot, now: UTCMilliseconds) async {
        let state = snapshot.health.state == .backingOff ? "offline" : "online"
        var status = devices[snapshot.device] ?? DeviceStatus(state: "unknown")
        if state == "online" { status.lastSeen = now }
        status.lastError = snapshot.health.lastError
        let changed = status.state != state
        status.state = state
        devices[snapshot.device] = status
        guard changed else { return }
        devicesOffline.set(Int64(devices.values.filter { $0.state == "offline" }.count))
        let message = AvailabilityMessage(hub: settings.hub, device: snapshot.device, state: state,
                                          reason: state == "offline" ? snapshot.health.lastError : nil, since: now.iso8601)
        if let payload = try? encoder.encode(message) {
            await link.publishRetained(MQTTMessage(topic: topics.deviceAvailability(snapshot.device), payload: Array(payload), qos: 1, retain: true))
        }
        if state == "offline" {
            logger.warning("device offline", metadata: ["device": "\(snapshot.device)", "reason": "\(snapshot.health.lastError ?? "")"])
        } else {
            logger.notice("device online", metadata: ["device": "\(snapshot.device)"])
        }
    }

    // MARK: Cycle

    /// One cycle: balance, publish, settle. `cycleStart` is the cycle's wall-clock start.
    func tick(now: UTCMilliseconds, cycleStart: UTCMilliseconds) async {
        balancer.compute(readings, now: now)
        lastBalance = balancer.hub
        link.publishLive(MQTTMessage(topic: topics.balance, payload: HubBalanceMessage(hub: settings.hub, balance: balancer.hub).payload))
        let at = now.iso8601
        for participant in plan.model.participants {
            guard let balance = balancer.balance(of: participant.id) else { continue }
            let message = ParticipantBalanceMessage(hub: settings.hub, participant: participant.id.rawValue, at: at, balance: balance)
            link.publishLive(MQTTMessage(topic: topics.participantBalance(participant.id.rawValue), payload: message.payload))
        }
        // From the cycle's start on the wall clock to the last publish of the cycle.
        cycleDuration.record(.milliseconds(max(0, clock.now.milliseconds(since: cycleStart))))
        lastBalanceAt = .now
        await settle(now: now)
    }

    /// Closes due intervals, commits them with the ledger state, and keeps the outbox within its limits.
    public func settle(now: UTCMilliseconds) async {
        let records = ledger.advance(to: now)
        let timestamp = UTCTimestamp(millisecondsSinceEpoch: now.rawValue)
        let saveDue = lastSnapshotSave.map { now.milliseconds(since: $0) >= 5_000 } ?? true
        if !records.isEmpty || saveDue {
            do {
                let snapshot = try ledger.snapshot().encodedDeviceByDevice { Array(try encoder.encode($0)) }
                if records.isEmpty {
                    try store.saveSnapshot(hub: settings.hub, snapshot: snapshot, now: timestamp)
                } else {
                    let committed = try store.commitIntervals(hub: settings.hub, recordIDs: records.map(\.id), topic: topics.interval,
                                                              snapshot: snapshot, now: timestamp) { index, sequence, previous in
                        try IntervalMessage.make(record: records[index], sequence: sequence, previousHash: previous,
                                                 kpiDefinitions: KPIDefinitions.version, agentVersion: settings.agentVersion)
                    }
                    intervalsCommitted.increment(by: Int64(committed.count))
                    for message in committed {
                        logger.info("interval settled", metadata: ["record": "\(message.recordID)", "sequence": "\(message.sequence)"])
                    }
                    for record in records where !record.violations.isEmpty {
                        logger.error("settlement record violates invariants", metadata: ["record": "\(record.id)", "violations": "\(record.violations)"])
                    }
                    await link.drain()
                }
                // Encoding the ledger (every 5 s) and settling are the agent's large transient
                // allocations; give their pages back (glibc keeps freed memory otherwise).
                ProcessMemory.releaseFreeHeap()
                lastSnapshotSave = now
            } catch {
                logger.error("cannot store the settlement state", metadata: ["error": "\(error)"])
            }
        }
        if lastEnforcement.map({ now.milliseconds(since: $0) >= 60_000 }) ?? true {
            lastEnforcement = now
            enforceOutboxLimits(now: timestamp)
        }
    }

    private func enforceOutboxLimits(now: UTCTimestamp) {
        do {
            let result = try store.enforce(settings.outboxLimits, now: now)
            if result.droppedDeviceStates > 0 {
                logger.warning("outbox full: dropped the oldest device states", metadata: ["dropped": "\(result.droppedDeviceStates)"])
            }
            if result.overLimit != outboxAlarm {
                outboxAlarm = result.overLimit
                if result.overLimit {
                    logger.critical("outbox over its limits with settlement records only; nothing is dropped, the broker must come back")
                }
            }
            let statistics = try store.statistics()
            outboxDepth.set(Int64(statistics.count.values.reduce(0, +)))
            outboxBytes.set(Int64(statistics.bytes))
            outboxAlarmGauge.set(Int64(outboxAlarm ? 1 : 0))
        } catch {
            logger.error("cannot check the outbox", metadata: ["error": "\(error)"])
        }
    }

    /// Saves the open interval now (on shutdown).
    public func flush(now: UTCMilliseconds) async {
        lastSnapshotSave = nil
        await settle(now: now)
    }

    public var deviceStatus: [String: DeviceStatus] { devices }
}
