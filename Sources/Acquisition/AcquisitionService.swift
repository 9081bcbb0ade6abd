import DeviceProfiles
import HubDomain
import Logging
import ModbusIO

/// Polls every bus independently, so a slow or dead device never delays devices on other buses,
/// and on its own bus costs at most its timeout before it backs off. Modbus TCP buses share one
/// ``TCPPollingLoop`` (one thread waiting for all their answers at once); serial lines, and TCP
/// buses that need pauses, keep a connection on a serial queue of its own.
public final class AcquisitionService: Sendable {
    public let buses: [AcquisitionBus]
    public let cadence: CadenceSettings
    public let library: SunSpecModelLibrary
    public let metrics: AcquisitionMetrics
    private let clock: any UTCClock
    private let logger: Logger
    private let connections: [String: ModbusConnection]
    /// The shared loop of the TCP buses it accepts (nil when there is none).
    private let loop: TCPPollingLoop?

    /// Creates one connection per bus (nothing is opened until the first poll).
    public init(buses: [AcquisitionBus], cadence: CadenceSettings, library: SunSpecModelLibrary, clock: any UTCClock,
                metrics: AcquisitionMetrics, logger: Logger) throws(ModbusError) {
        self.buses = buses
        self.cadence = cadence
        self.library = library
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
        let loop = buses.contains(where: TCPPollingLoop.accepts) ? try TCPPollingLoop() : nil
        var connections: [String: ModbusConnection] = [:]
        for bus in buses {
            let executor: (any SerialExecutor)? = TCPPollingLoop.accepts(bus) ? loop : nil
            connections[bus.id] = try ModbusConnection(endpoint: bus.endpoint, responseTimeout: bus.timeout, executor: executor)
        }
        self.connections = connections
        self.loop = loop
    }

    deinit { loop?.shutdown() }

    public func connection(bus: String) -> ModbusConnection? { connections[bus] }

    /// The buses polled by the shared ``TCPPollingLoop`` (the others have a thread each).
    public var sharedLoopBusIDs: [String] { loop == nil ? [] : buses.filter(TCPPollingLoop.accepts).map(\.id) }

    /// Polls until the task is cancelled; `sink` receives each device's snapshot after each cycle.
    public func run(sink: @escaping @Sendable (DeviceSnapshot) -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            var shared: [(bus: AcquisitionBus, connection: ModbusConnection)] = []
            for bus in buses {
                guard let connection = connections[bus.id] else { continue }
                if loop != nil && TCPPollingLoop.accepts(bus) {
                    shared.append((bus, connection))
                    continue
                }
                group.addTask { [self] in
                    await runBus(bus, connection: connection, sink: sink)
                }
            }
            if let loop, !shared.isEmpty {
                group.addTask { [self] in
                    for (bus, connection) in shared { await Self.configure(connection, for: bus) }
                    await loop.run(buses: shared, cadence: cadence, library: library, clock: clock, metrics: metrics, logger: logger, sink: sink)
                }
            }
        }
    }

    /// Applies the bus's and devices' timing to the connection.
    static func configure(_ connection: isolated ModbusConnection, for bus: AcquisitionBus) {
        connection.setTurnaroundDelay(bus.turnaroundDelay)
        let connectDelay = bus.devices.map(\.profile.options.connectDelay).reduce(bus.connectDelay, max)
        connection.setConnectDelay(connectDelay)
        for device in bus.devices {
            connection.setRequestDelay(device.requestDelay + device.profile.options.requestDelay, unit: device.unitID)
            let timeout = max(device.timeout ?? bus.timeout, device.profile.options.minimumTimeout)
            if timeout != bus.timeout { connection.setResponseTimeout(timeout, unit: device.unitID) }
        }
    }

    /// The bus loop runs isolated to the bus's connection: on its private serial queue, so
    /// blocking transactions never occupy the cooperative pool and need no hop each.
    private func runBus(_ bus: AcquisitionBus, connection: isolated ModbusConnection, sink: @Sendable (DeviceSnapshot) -> Void) async {
        Self.configure(connection, for: bus)
        let pollerCadence = cadence.inRealTime(of: clock)
        let pollers = bus.devices.map { DevicePoller(device: $0, busID: bus.id, cadence: pollerCadence, library: library) }
        let cycleMs = max(1, Int64(cadence.cycle.components.seconds * 1000 + cadence.cycle.components.attoseconds / 1_000_000_000_000_000))
        let started = ContinuousClock.now
        let busyAtStart = connection.busyTime
        let busMetrics = metrics.bus(bus.id)
        logger.info("polling bus", metadata: ["bus": "\(bus.id)", "endpoint": "\(bus.endpoint)", "devices": "\(bus.devices.count)"])
        while !Task.isCancelled {
            // Cycles start on multiples of the cycle time on the wall clock (whole seconds for 1 s).
            let wallNow = clock.now.rawValue
            let nextTick = (wallNow / cycleMs + 1) * cycleMs
            do {
                try await Task.sleep(for: realSleepDuration(clock, milliseconds: nextTick - wallNow))
            } catch {
                break
            }
            let cycleStart = ContinuousClock.now
            for poller in pollers {
                let wasOnline = poller.health.state != .backingOff
                let snapshot = poller.poll(connection, metrics: metrics, wall: clock.now)
                busMetrics.recordDeviceCycle(device: poller.device.id)
                if wasOnline && snapshot.health.state == .backingOff {
                    logger.warning("device not answering; backing off", metadata: [
                        "device": "\(poller.device.id)", "error": "\(snapshot.health.lastError ?? "")"])
                }
                sink(snapshot)
            }
            let end = ContinuousClock.now
            let busy = connection.busyTime - busyAtStart
            busMetrics.recordCycle(busy: busy, elapsed: end - started, overrun: end - cycleStart > cadence.cycle)
        }
    }

    /// Reads a device once with every point (static, slow and fast), as `hubmeter read` does.
    public static func readOnce(_ device: AcquisitionDevice, on connection: ModbusConnection, bus: AcquisitionBus,
                                library: SunSpecModelLibrary, clock: any UTCClock, metrics: AcquisitionMetrics) async -> DeviceSnapshot {
        await readOnce(device, isolatedTo: connection, bus: bus, library: library, wall: clock.now, metrics: metrics)
    }

    private static func readOnce(_ device: AcquisitionDevice, isolatedTo connection: isolated ModbusConnection, bus: AcquisitionBus,
                                 library: SunSpecModelLibrary, wall: UTCMilliseconds, metrics: AcquisitionMetrics) -> DeviceSnapshot {
        configure(connection, for: bus)
        let poller = DevicePoller(device: device, busID: bus.id, cadence: CadenceSettings(), library: library)
        return poller.poll(connection, metrics: metrics, wall: wall)
    }

    /// The read plan of a device (the discovered profile for SunSpec devices is not known here).
    public static func plans(for device: AcquisitionDevice) -> DevicePlans {
        DevicePlans(profile: device.profile, limits: device.limits)
    }
}
