import HubDomain
import Logging
import HubSupport
import ModbusIO
import DeviceProfiles
import Dispatch
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Polls many Modbus TCP buses from one thread: each bus's request is sent without waiting, and
/// one `ppoll` waits for every answer, connect and deadline at once.
///
/// With a thread per bus, 200 endpoints cost 200 threads (about 19 kB of stack each, measured)
/// and a wake-up of each per transaction; here a burst of answers is one wake-up. The loop is
/// also the executor of its buses' ``ModbusConnection`` actors, so it uses them without a hop,
/// and any other caller of those actors runs on this thread between two events.
///
/// Takes buses whose cycle needs no pauses between transactions or after connecting (see
/// ``accepts(_:)``); the others keep a thread each. SunSpec discovery runs in the same steps as
/// any read.
public final class TCPPollingLoop: SerialExecutor, @unchecked Sendable {
    /// A bus's progress through its cycle (loop thread only).
    private final class Bus {
        let settings: AcquisitionBus
        let connection: ModbusConnection
        let pollers: [DevicePoller]
        let metrics: BusMetrics
        var deviceIndex = 0
        var step: DevicePoller.Step?
        /// Whether the current device was answering before this cycle (to log the change once).
        var deviceWasOnline = true
        var waiting: Waiting = .idle
        var cycleStart = ContinuousClock.now
        var busyAtCycleStart: Duration = .zero
        let started = ContinuousClock.now

        enum Waiting {
            case idle
            /// Between devices of a running cycle (nothing in flight).
            case ready
            case connecting(fd: Int32, deadline: ContinuousClock.Instant)
            case answer(fd: Int32, deadline: ContinuousClock.Instant)
        }

        init(settings: AcquisitionBus, connection: ModbusConnection, pollers: [DevicePoller], metrics: BusMetrics) {
            self.settings = settings
            self.connection = connection
            self.pollers = pollers
            self.metrics = metrics
        }
    }

    /// Whether a bus can be polled here without blocking the loop.
    public static func accepts(_ bus: AcquisitionBus) -> Bool {
        guard case .tcp = bus.endpoint, bus.turnaroundDelay == .zero else { return false }
        let connectDelay = bus.devices.map(\.profile.options.connectDelay).reduce(bus.connectDelay, max)
        return connectDelay == .zero && bus.devices.allSatisfy { device in
            device.requestDelay == .zero && device.profile.options.requestDelay == .zero
        }
    }

    /// What other threads hand to the loop thread.
    private struct Inbox {
        var jobs: [UnownedJob] = []
        var setup: Setup?
        var stopPolling = false
        var shutdown = false
        var terminated = false
    }

    /// What ``run(buses:cadence:library:clock:metrics:logger:sink:)`` hands over.
    private struct Setup: @unchecked Sendable {
        let buses: [(bus: AcquisitionBus, connection: ModbusConnection)]
        let cadence: CadenceSettings
        let library: SunSpecModelLibrary
        let clock: any UTCClock
        let metrics: AcquisitionMetrics
        let logger: Logger
        let sink: @Sendable (DeviceSnapshot) -> Void
        let finished: CheckedContinuation<Void, Never>
    }

    private let inbox = Mutex(Inbox())
    private let wakePipe: WakePipe
    private let loopThread = Atomic<UInt>(0)
    /// Runs jobs that arrive after the thread ended (the connections are closed by then).
    private let afterShutdown = DispatchQueue(label: "hubmeter.tcp-loop.after-shutdown")

    // The polling state: touched by the loop thread only.
    private var buses: [Bus] = []
    private var cadence = CadenceSettings()
    /// The cycle in real time (shorter than `cadence.cycle` under a faster simulated clock).
    private var realCycle: Duration = .seconds(1)
    private var acquisitionMetrics: AcquisitionMetrics?
    private var clock: (any UTCClock)?
    private var logger = Logger(label: "hubmeter.acquisition")
    private var sink: (@Sendable (DeviceSnapshot) -> Void)?
    private var pollingFinished: CheckedContinuation<Void, Never>?
    /// Snapshots finished in this turn of the loop, handed to the sink together after every bus
    /// sent its next request: the sink's work (the agent encodes and publishes each device's
    /// state) then runs on another core while the devices answer.
    private var finishedSnapshots: [DeviceSnapshot] = []
    private let delivery = DispatchQueue(label: "hubmeter.tcp-loop.delivery")

    /// Starts the loop's thread; it runs its connections' jobs from now on, and polls buses
    /// while ``run(buses:cadence:library:clock:metrics:logger:sink:)`` runs. End it with ``shutdown()``.
    public init() throws(ModbusError) {
        guard let wakePipe = WakePipe() else {
            throw ModbusError(.other, operation: "create wake pipe", target: "TCP polling loop", errnoValue: errno)
        }
        self.wakePipe = wakePipe
        let retained = Unmanaged.passRetained(self)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        // The loop's frames are shallow; the default 8 MiB reservation is not needed.
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        var thread = pthread_t()
        let created = pthread_create(&thread, &attributes, { raw in
            // The thread keeps the loop alive until it ends.
            let loop = Unmanaged<TCPPollingLoop>.fromOpaque(raw!).takeRetainedValue()
            loop.loopThread.store(UInt(pthread_self()), ordering: .releasing)
            loop.runLoop()
            return nil
        }, retained.toOpaque())
        pthread_attr_destroy(&attributes)
        guard created == 0 else {
            retained.release()
            throw ModbusError(.other, operation: "start thread", target: "TCP polling loop", errnoValue: created)
        }
        pthread_detach(thread)
    }

    /// Ends the thread (after any polling stopped); later jobs run on a plain serial queue.
    public func shutdown() {
        inbox.withLock { $0.shutdown = true }
        wake()
    }

    // MARK: Executor

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let accepted = inbox.withLock { inbox in
            if !inbox.terminated { inbox.jobs.append(job) }
            return !inbox.terminated
        }
        if accepted {
            wake()
        } else {
            afterShutdown.async { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// The loop thread runs its connections' code outside of jobs too (``ModbusConnection/assumeIsolated``).
    public func checkIsolated() {
        precondition(loopThread.load(ordering: .acquiring) == UInt(pthread_self()), "not on the TCP polling loop's thread")
    }

    private func wake() { wakePipe.signal() }

    // MARK: Running

    /// Polls `buses` (each with its connection, whose executor must be this loop) until the task
    /// is cancelled; `sink` gets each device's snapshot, in order per bus, on a serial queue of its own.
    public func run(buses: [(bus: AcquisitionBus, connection: ModbusConnection)], cadence: CadenceSettings, library: SunSpecModelLibrary,
                    clock: any UTCClock, metrics: AcquisitionMetrics, logger: Logger,
                    sink: @escaping @Sendable (DeviceSnapshot) -> Void) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                inbox.withLock { $0.setup = Setup(buses: buses, cadence: cadence, library: library, clock: clock, metrics: metrics,
                                                  logger: logger, sink: sink, finished: continuation) }
                wake()
            }
        } onCancel: {
            inbox.withLock { $0.stopPolling = true }
            wake()
        }
    }

    private func install(_ setup: Setup) {
        let realCadence = setup.cadence.inRealTime(of: setup.clock)
        buses = setup.buses.map { entry in
            Bus(settings: entry.bus, connection: entry.connection,
                pollers: entry.bus.devices.map { DevicePoller(device: $0, busID: entry.bus.id, cadence: realCadence, library: setup.library) },
                metrics: setup.metrics.bus(entry.bus.id))
        }
        cadence = setup.cadence
        realCycle = realCadence.cycle
        acquisitionMetrics = setup.metrics
        clock = setup.clock
        logger = setup.logger
        sink = setup.sink
        pollingFinished = setup.finished
        for bus in setup.buses {
            logger.info("polling bus", metadata: ["bus": "\(bus.bus.id)", "endpoint": "\(bus.bus.endpoint)",
                                                  "devices": "\(bus.bus.devices.count)", "thread": "shared TCP loop"])
        }
    }

    private func stopPolling() {
        // Every snapshot is handed over before `run` returns.
        deliverFinished()
        delivery.sync {}
        for bus in buses {
            var inFlight = false
            if case .answer = bus.waiting { inFlight = true }
            bus.connection.assumeIsolated { [inFlight] connection in
                connection.abandonConnect()
                if inFlight { connection.abandonRead() }
                connection.close()
            }
        }
        buses = []
        sink = nil
        clock = nil
        pollingFinished?.resume()
        pollingFinished = nil
    }

    private func runLoop() {
        var fds: [pollfd] = []
        var owners: [Int] = []
        var nextTick = ContinuousClock.now + .seconds(3600)
        while true {
            let (jobs, setup, stop, shutdown) = inbox.withLock { inbox in
                defer { inbox.jobs.removeAll(keepingCapacity: true); inbox.setup = nil }
                let stop = inbox.stopPolling && (inbox.setup != nil || pollingFinished != nil)
                if stop { inbox.stopPolling = false }
                return (inbox.jobs, inbox.setup, stop, inbox.shutdown)
            }
            for job in jobs { job.runSynchronously(on: asUnownedSerialExecutor()) }
            if let setup {
                install(setup)
                nextTick = nextTickInstant()
            }
            if stop || (shutdown && pollingFinished != nil) { stopPolling() }
            if shutdown { break }

            fds.removeAll(keepingCapacity: true)
            owners.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakePipe.readEnd, events: Int16(POLLIN), revents: 0))
            owners.append(-1)
            var deadline = pollingFinished == nil ? ContinuousClock.now + .seconds(3600) : nextTick
            for (index, bus) in buses.enumerated() {
                switch bus.waiting {
                case .connecting(let fd, let until):
                    fds.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)); owners.append(index); deadline = min(deadline, until)
                case .answer(let fd, let until):
                    fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)); owners.append(index); deadline = min(deadline, until)
                case .idle, .ready:
                    break
                }
            }
            let ready = SocketPoll.wait(&fds, timeout: ContinuousClock.now.duration(to: deadline))
            if fds[0].revents != 0 { wakePipe.drain() }
            guard pollingFinished != nil else { continue }
            if ready > 0 {
                for slot in 1..<fds.count where fds[slot].revents != 0 {
                    handleReady(buses[owners[slot]])
                }
            }
            let now = ContinuousClock.now
            for bus in buses {
                switch bus.waiting {
                case .connecting(_, let until) where until <= now, .answer(_, let until) where until <= now:
                    handleDeadline(bus)
                default:
                    break
                }
            }
            if now >= nextTick {
                for bus in buses {
                    if case .idle = bus.waiting { startCycle(bus) }
                }
                nextTick = nextTickInstant()
            }
            deliverFinished()
        }
        let late = inbox.withLock { inbox in
            inbox.terminated = true
            defer { inbox.jobs.removeAll() }
            return inbox.jobs
        }
        for job in late { job.runSynchronously(on: asUnownedSerialExecutor()) }
    }

    /// The next wall-clock multiple of the cycle, on the monotonic clock.
    private func nextTickInstant() -> ContinuousClock.Instant {
        guard let clock else { return .now + .seconds(1) }
        let cycleMs = max(1, Int64(cadence.cycle.components.seconds * 1000 + cadence.cycle.components.attoseconds / 1_000_000_000_000_000))
        let wallNow = clock.now.rawValue
        let nextTick = (wallNow / cycleMs + 1) * cycleMs
        return .now + realSleepDuration(clock, milliseconds: nextTick - wallNow)
    }

    // MARK: A bus's cycle

    private func startCycle(_ bus: Bus) {
        bus.cycleStart = .now
        bus.busyAtCycleStart = bus.connection.assumeIsolated { $0.busyTime }
        bus.deviceIndex = 0
        bus.step = nil
        bus.waiting = .ready
        advance(bus)
    }

    /// Runs the bus's devices until one waits for the network or the cycle is over.
    private func advance(_ bus: Bus) {
        guard let metrics = acquisitionMetrics, let clock else { return }
        while bus.deviceIndex < bus.pollers.count {
            let poller = bus.pollers[bus.deviceIndex]
            if bus.step == nil { bus.deviceWasOnline = poller.health.state != .backingOff }
            let step = bus.step ?? poller.begin(generation: bus.connection.assumeIsolated { $0.connectionGeneration }, wall: clock.now,
                                                metrics: metrics, endpoint: bus.settings.endpoint)
            bus.step = step
            switch step {
            case .done(let snapshot):
                deliver(snapshot, of: poller, on: bus)
                bus.deviceIndex += 1
                bus.step = nil
            case .read(let kind, let address, let count):
                let unit = poller.device.unitID
                let outcome: Result<Bus.Waiting, ModbusError> = bus.connection.assumeIsolated { connection -> Result<Bus.Waiting, ModbusError> in
                    let deadline = ContinuousClock.now + connection.responseTimeout(unit: unit)
                    do throws(ModbusError) {
                        if !connection.isConnected {
                            return .success(.connecting(fd: try connection.startConnect(), deadline: deadline))
                        }
                        try connection.sendRead(kind, address: address, count: count, unit: unit)
                        return .success(.answer(fd: connection.socketDescriptor, deadline: deadline))
                    } catch {
                        return .failure(error)
                    }
                }
                switch outcome {
                case .success(let waiting):
                    bus.waiting = waiting
                    return
                case .failure(let error):
                    bus.step = poller.complete(error: error, generation: bus.connection.assumeIsolated { $0.connectionGeneration })
                }
            }
        }
        let end = ContinuousClock.now
        let busy = bus.connection.assumeIsolated { $0.busyTime } - bus.busyAtCycleStart
        bus.metrics.recordCycle(busy: busy, elapsed: end - bus.started, overrun: end - bus.cycleStart > realCycle)
        bus.waiting = .idle
    }

    private func deliver(_ snapshot: DeviceSnapshot, of poller: DevicePoller, on bus: Bus) {
        bus.metrics.recordDeviceCycle(device: poller.device.id)
        if bus.deviceWasOnline && snapshot.health.state == .backingOff {
            logger.warning("device not answering; backing off", metadata: [
                "device": "\(poller.device.id)", "error": "\(snapshot.health.lastError ?? "")"])
        }
        finishedSnapshots.append(snapshot)
    }

    private func deliverFinished() {
        guard !finishedSnapshots.isEmpty, let sink else { return }
        let batch = finishedSnapshots
        finishedSnapshots.removeAll(keepingCapacity: true)
        delivery.async { for snapshot in batch { sink(snapshot) } }
    }

    private func handleReady(_ bus: Bus) {
        let poller = bus.pollers[bus.deviceIndex]
        switch bus.waiting {
        case .connecting:
            let failure: ModbusError? = bus.connection.assumeIsolated { connection -> ModbusError? in
                do throws(ModbusError) { try connection.finishConnect(); return nil } catch { return error }
            }
            bus.waiting = .ready
            if let failure {
                bus.step = poller.complete(error: failure, generation: bus.connection.assumeIsolated { $0.connectionGeneration })
            }
            // Connected: the same step sends its read now.
            advance(bus)
        case .answer:
            let connection = bus.connection
            let failure: ModbusError? = poller.withReadBuffer { buffer in
                connection.assumeIsolated { connection -> ModbusError? in
                    do throws(ModbusError) { try connection.receiveRead(into: &buffer); return nil } catch { return error }
                }
            }
            bus.waiting = .ready
            bus.step = poller.complete(error: failure, generation: bus.connection.assumeIsolated { $0.connectionGeneration })
            advance(bus)
        case .idle, .ready:
            break
        }
    }

    private func handleDeadline(_ bus: Bus) {
        let poller = bus.pollers[bus.deviceIndex]
        let error: ModbusError
        switch bus.waiting {
        case .connecting: error = bus.connection.assumeIsolated { $0.abandonConnect() }
        case .answer: error = bus.connection.assumeIsolated { $0.abandonRead() }
        case .idle, .ready: return
        }
        bus.waiting = .ready
        bus.step = poller.complete(error: error, generation: bus.connection.assumeIsolated { $0.connectionGeneration })
        advance(bus)
    }
}
