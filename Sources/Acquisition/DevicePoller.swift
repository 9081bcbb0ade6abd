import DeviceProfiles
import HubDomain
import ModbusIO

/// Polls one device: picks the cycle's plan (static after connect, slow when due, fast otherwise),
/// runs its reads, decodes into preallocated slots, and keeps the device's health and backoff.
///
/// Owned by its bus's task; never shared, so it needs no locking. Public so that tools and
/// benchmarks can drive single cycles; the agent uses it through ``AcquisitionService``.
public final class DevicePoller {
    public let device: AcquisitionDevice
    let busID: String
    let cadence: CadenceSettings
    let library: SunSpecModelLibrary
    private(set) var profile: DeviceProfile
    private(set) var plans: DevicePlans?
    private var decoder: ProfileDecoder?
    private(set) var sunspecModels: [DiscoveredModel] = []
    public private(set) var health = DeviceHealth()
    private var staticDone = false
    private var seenGeneration = -1
    private var nextSlow: ContinuousClock.Instant?
    private var values: [AcquiredValue] = []
    // Per-request scratch, sized for the largest plan once.
    private var succeeded: [Bool] = []
    private var requestErrors: [ModbusError?] = []
    /// One read's registers, reused every transaction.
    private var readBuffer = [UInt16](repeating: 0, count: 125)
    /// This bus's metrics shard, resolved on the first poll (per metrics instance).
    private var busMetrics: (owner: AcquisitionMetrics, shard: BusMetrics)?

    enum PlanKind { case all, fastAndSlow, fast }

    static let powerQuantities: Set<CanonicalQuantity> = [.gridPower, .pvPower, .batteryPower]

    public init(device: AcquisitionDevice, busID: String, cadence: CadenceSettings, library: SunSpecModelLibrary) {
        self.device = device
        self.busID = busID
        self.cadence = cadence
        self.library = library
        self.profile = device.profile
        if device.profile.sunspec == nil || !device.profile.points.isEmpty {
            prepare(device.profile)
        }
    }

    /// Plans and slots for a (possibly discovered) profile.
    private func prepare(_ profile: DeviceProfile) {
        self.profile = profile
        let plans = DevicePlans(profile: profile, limits: device.limits)
        self.plans = plans
        decoder = ProfileDecoder(profile: profile, imageCapacity: plans.all.imageSize)
        let requestCount = max(plans.all.requests.count, plans.fastAndSlow.requests.count, plans.fast.requests.count)
        succeeded = Array(repeating: false, count: requestCount)
        requestErrors = Array(repeating: nil, count: requestCount)
        values = profile.points.map { point in
            AcquiredValue(device: device.id, point: point.name, unit: point.unit,
                          quality: .error(code: "acquisition.not_read", message: "not read yet"))
        }
    }

    /// What a device's cycle needs next: one read, or nothing more (its snapshot).
    public enum Step {
        case read(RegisterKind, address: Int, count: Int)
        case done(DeviceSnapshot)
    }

    /// The cycle in progress between ``begin(generation:wall:metrics:)`` and its last step.
    private struct Cycle {
        var plan: ReadPlan
        var kind: PlanKind
        var decoder: ProfileDecoder
        var index = 0
        var abort: ModbusError?
        var generation: Int
        var generationAfter: Int
        let now: ContinuousClock.Instant
        let wall: UTCMilliseconds
        var requestStart: ContinuousClock.Instant
        let metrics: BusMetrics
    }
    private var cycle: Cycle?

    /// The registers of the last read; a split transaction receives into it before ``complete(error:generation:)``.
    public func withReadBuffer<Result>(_ body: (inout [UInt16]) -> Result) -> Result {
        body(&readBuffer)
    }

    /// One cycle for this device. Costs at most one timeout when the device is silent; while it
    /// is backing off it costs nothing and its values turn stale.
    ///
    /// Runs isolated to the bus's connection, on the bus's own serial queue: its transactions are
    /// plain calls, with no executor hop per transaction. Synchronous, so that its frames live on
    /// the bus thread's stack, not in the bus task's allocator (whose slabs a task keeps: 7 kB
    /// per bus for this call when it was `async`, measured with heaptrack).
    public func poll(_ connection: isolated ModbusConnection, metrics allMetrics: AcquisitionMetrics, wall: UTCMilliseconds) -> DeviceSnapshot {
        var step = begin(generation: connection.connectionGeneration, wall: wall, metrics: allMetrics, endpoint: connection.endpoint)
        while case .read(let kind, let address, let count) = step {
            var failure: ModbusError?
            do {
                if kind.isBit {
                    let bits = try connection.readBits(kind, address: address, count: count, unit: device.unitID)
                    for (index, bit) in bits.enumerated() where index < readBuffer.count { readBuffer[index] = bit ? 1 : 0 }
                    if bits.count > readBuffer.count { readBuffer = bits.map { $0 ? 1 : 0 } }
                } else {
                    try connection.readRegisters(kind, address: address, count: count, unit: device.unitID, into: &readBuffer)
                }
            } catch {
                failure = error
            }
            step = complete(error: failure, generation: connection.connectionGeneration)
        }
        guard case .done(let snapshot) = step else { return snapshot() }
        return snapshot
    }

    private func shard(of allMetrics: AcquisitionMetrics) -> BusMetrics {
        if let cached = busMetrics, cached.owner === allMetrics { return cached.shard }
        let metrics = allMetrics.bus(busID)
        busMetrics = (allMetrics, metrics)
        return metrics
    }

    /// SunSpec discovery in progress (the device's plans are not known before it).
    private struct Discovery {
        var scan: SunSpecDiscovery.Scan
        let metrics: BusMetrics
        let endpoint: ModbusEndpoint
        let generation: Int
        let now: ContinuousClock.Instant
        let wall: UTCMilliseconds
        var requestStart: ContinuousClock.Instant
        var count = 2
    }
    private var discovery: Discovery?

    /// Starts a cycle; drive it with ``complete(error:generation:)`` after each read it asks for.
    /// `generation` is the connection's ``ModbusConnection/connectionGeneration`` (a new
    /// connection means the static points are read again). A SunSpec device is discovered first,
    /// in the same steps.
    public func begin(generation: Int, wall: UTCMilliseconds, metrics allMetrics: AcquisitionMetrics, endpoint: ModbusEndpoint) -> Step {
        let now = ContinuousClock.now
        let metrics = shard(of: allMetrics)
        if let retryAt = health.retryAt, now < retryAt {
            markStale(wall: wall)
            return .done(snapshot())
        }
        if plans == nil {
            var scan = SunSpecDiscovery.Scan()
            let first = scan.start()
            discovery = Discovery(scan: scan, metrics: metrics, endpoint: endpoint, generation: generation, now: now, wall: wall, requestStart: now)
            return discoveryStep(first)
        }
        return beginPlan(generation: generation, now: now, wall: wall, metrics: metrics)
    }

    private func discoveryStep(_ step: SunSpecDiscovery.Scan.Step) -> Step {
        guard let current = discovery else { return .done(snapshot()) }
        switch step {
        case .read(let address, let count):
            discovery?.requestStart = ContinuousClock.now
            discovery?.count = count
            return .read(.holding, address: address, count: count)
        case .failed(let error):
            discovery = nil
            fail(error, now: current.now, wall: current.wall)
            return .done(snapshot())
        case .found(let result):
            discovery = nil
            guard let result, let mapping = device.profile.sunspec else {
                fail(ModbusError(.invalidResponse, operation: "SunSpec discovery", target: "\(current.endpoint) unit \(device.unitID)",
                                 detail: "no SunS marker at 40000, 0 or 50000"), now: current.now, wall: current.wall)
                return .done(snapshot())
            }
            sunspecModels = result.models
            prepare(SunSpecProfileBuilder.profile(id: device.profile.id, name: device.profile.name, models: result.models,
                                                  library: library, mapping: mapping, options: device.profile.options))
            return beginPlan(generation: current.generation, now: current.now, wall: current.wall, metrics: current.metrics)
        }
    }

    private func beginPlan(generation: Int, now: ContinuousClock.Instant, wall: UTCMilliseconds, metrics: BusMetrics) -> Step {
        guard let plans, let decoder else { return .done(snapshot()) }
        self.decoder = nil // keep the decoder's storage uniquely referenced while it is mutated

        if generation != seenGeneration { staticDone = false }
        let slowDue = nextSlow.map { now >= $0 } ?? true
        let kind: PlanKind = !staticDone ? .all : slowDue ? .fastAndSlow : .fast
        let plan = switch kind {
        case .all: plans.all
        case .fastAndSlow: plans.fastAndSlow
        case .fast: plans.fast
        }
        cycle = Cycle(plan: plan, kind: kind, decoder: decoder, generation: generation, generationAfter: generation,
                      now: now, wall: wall, requestStart: now, metrics: metrics)
        return next()
    }

    /// The outcome of the read the last step asked for: nil when its registers are in the read
    /// buffer, else the error.
    public func complete(error: ModbusError?, generation: Int) -> Step {
        if var current = discovery {
            current.metrics.recordTransaction(device: device.id, latency: ContinuousClock.now - current.requestStart, error: error)
            let step: SunSpecDiscovery.Scan.Step
            if let error {
                step = current.scan.complete(error)
            } else {
                step = current.scan.complete(readBuffer[..<min(current.count, readBuffer.count)])
            }
            discovery = current
            return discoveryStep(step)
        }
        guard var cycle else { return .done(snapshot()) }
        self.cycle = nil
        let index = cycle.index
        cycle.metrics.recordTransaction(device: device.id, latency: ContinuousClock.now - cycle.requestStart, error: error)
        if let error {
            requestErrors[index] = error
            // An exception is an answer: the device is there, only this block is refused.
            // Except a gateway's "path unavailable" / "target failed to respond": the device is absent.
            if case .exception(let exception) = error.kind,
               exception != .gatewayPathUnavailable && exception != .gatewayTargetFailedToRespond {
            } else {
                cycle.abort = error
            }
        } else {
            cycle.decoder.store(readBuffer, request: index, of: cycle.plan)
            succeeded[index] = true
        }
        cycle.index += 1
        cycle.generationAfter = generation
        self.cycle = cycle
        return next()
    }

    private func next() -> Step {
        guard var cycle else { return .done(snapshot()) }
        while cycle.index < cycle.plan.requests.count {
            let index = cycle.index
            succeeded[index] = false
            requestErrors[index] = nil
            if let abort = cycle.abort {
                requestErrors[index] = abort
                cycle.index += 1
                continue
            }
            let request = cycle.plan.requests[index]
            cycle.requestStart = ContinuousClock.now
            self.cycle = cycle
            return .read(request.table.modbusKind, address: request.address, count: request.count)
        }
        self.cycle = nil
        return .done(finish(cycle))
    }

    private func finish(_ cycle: Cycle) -> DeviceSnapshot {
        var decoder = cycle.decoder
        let plan = cycle.plan
        let now = cycle.now
        let wall = cycle.wall
        decoder.decode(plan, succeeded: succeeded)

        let anySucceeded = plan.requests.indices.contains { succeeded[$0] }
        if anySucceeded {
            health.state = .online
            health.consecutiveFailures = 0
            health.retryAt = nil
            health.lastError = requestErrors[..<plan.requests.count].lazy.compactMap { $0 }.first?.description
            if cycle.kind == .all && cycle.generationAfter == cycle.generation && !plan.requests.indices.contains(where: { !succeeded[$0] }) {
                staticDone = true
                seenGeneration = cycle.generationAfter
            }
            if cycle.kind != .fast { nextSlow = now + cadence.slowInterval }
        }
        for planned in plan.points {
            update(point: planned.point, decoder: decoder, error: requestErrors[planned.request], wall: wall, monotonic: now)
        }
        for index in plan.computed {
            let termError = profile.points[index].sumOf.lazy.compactMap { name in
                plan.points.first { self.profile.points[$0.point].name == name }.flatMap { self.requestErrors[$0.request] }
            }.first
            update(point: index, decoder: decoder, error: termError, wall: wall, monotonic: now)
        }
        self.decoder = decoder
        if !anySucceeded, let error = cycle.abort ?? requestErrors[..<plan.requests.count].lazy.compactMap({ $0 }).first {
            fail(error, now: now, wall: wall, valuesAlreadyMarked: true)
        }
        return snapshot()
    }

    private func update(point index: Int, decoder: ProfileDecoder, error: ModbusError?, wall: UTCMilliseconds, monotonic: ContinuousClock.Instant) {
        let point = profile.points[index]
        if let error {
            values[index].value = nil
            values[index].quality = .error(code: error.code, message: error.description)
            return
        }
        let decoded = decoder.values[index]
        switch decoded.status {
        case .good:
            var value = decoded.value
            if device.invertPower, let quantity = point.canonical, Self.powerQuantities.contains(quantity) { value = -value }
            values[index].value = point.type == .string ? nil : value
            values[index].text = decoder.texts[index]
            values[index].quality = .good
        case .notImplemented, .scaleFactorMissing:
            values[index].value = nil
            values[index].text = nil
            values[index].quality = .missing
        case .notRead:
            values[index].value = nil
            values[index].quality = .error(code: "acquisition.not_read", message: "not read")
        }
        values[index].acquiredAt = wall
        values[index].acquiredAtMonotonic = monotonic
    }

    /// A failed cycle: back off (one cycle, doubling, capped), keep last values as stale.
    private func fail(_ error: ModbusError, now: ContinuousClock.Instant, wall: UTCMilliseconds, valuesAlreadyMarked: Bool = false) {
        health.consecutiveFailures += 1
        health.state = .backingOff
        health.lastError = error.description
        health.retryAt = now + cadence.backoff(afterFailures: health.consecutiveFailures)
        if !valuesAlreadyMarked {
            for index in values.indices {
                values[index].value = nil
                values[index].quality = .error(code: error.code, message: error.description)
            }
        }
    }

    /// While backing off: last good values, flagged stale with their age.
    private func markStale(wall: UTCMilliseconds) {
        for index in values.indices {
            guard let acquiredAt = values[index].acquiredAt, let decoded = decoder?.values[index], decoded.status == .good else { continue }
            values[index].value = decoded.value * (device.invertPower && profile.points[index].canonical.map(Self.powerQuantities.contains) == true ? -1 : 1)
            values[index].quality = .stale(ageMs: wall.milliseconds(since: acquiredAt))
        }
    }

    func snapshot() -> DeviceSnapshot {
        var canonical: [CanonicalQuantity: AcquiredValue] = [:]
        for (index, point) in profile.points.enumerated() {
            if let quantity = point.canonical, index < values.count { canonical[quantity] = values[index] }
        }
        return DeviceSnapshot(device: device.id, profile: device.profile.id, values: values, canonical: canonical,
                              health: health, sunspecModels: sunspecModels)
    }
}
