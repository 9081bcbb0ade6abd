import Acquisition
import HubDomain
import Logging
import ModbusIO
import Synchronization

/// The hub simulator: the scenario's devices served over Modbus TCP (several unit ids per
/// port, on libmodbus's server side), driven by ``HubPhysics`` on an injected clock.
///
/// `refresh()` advances the physics to the clock's `now`, takes in what clients wrote to the
/// control registers (SunSpec 123 PV limit, 124 battery setpoint) and rewrites every register
/// image. `run()` refreshes periodically; a client's write triggers a refresh at once, so its
/// effect is visible to the very next read. Scripted faults act in each server's request policy.
public final class HubSimulator: Sendable {
    public let scenario: Scenario
    /// Simulated UTC ms at which the simulation starts; fault times count from here.
    public let origin: UTCMilliseconds
    private let clock: any UTCClock
    private let servers: [String: SimulatorServer]
    private let serverThread: ModbusServerThread
    private let core: Mutex<Core>
    private let logger: Logger

    struct Core: Sendable {
        var physics: HubPhysics
        var registers: [DeviceRegisters]
    }

    /// Binds every server and fills the registers. `origin` defaults to the clock's `now`;
    /// `portOverrides` replaces a server's port by id (0 picks a free one).
    public init(scenario: Scenario, catalog: ProfileCatalog, clock: any UTCClock, origin: UTCMilliseconds? = nil,
                portOverrides: [String: Int] = [:], logger: Logger) throws(SimulatorError) {
        let origin = origin ?? clock.now
        self.scenario = scenario
        self.origin = origin
        self.clock = clock
        self.logger = logger
        var registers: [DeviceRegisters] = []
        for group in scenario.groups {
            let bound = Self.powerBound(group)
            for device in group.devices {
                let maxWatts: Double = switch device.role {
                case .gridMeter: bound
                case .pvInverter: device.pv?.ratedWatts ?? bound
                case .battery: max(device.battery?.maxChargeWatts ?? 0, device.battery?.maxDischargeWatts ?? 0)
                }
                registers.append(try DeviceRegisters(device: device, maxWatts: maxWatts, catalog: catalog))
            }
        }
        let hook = RefreshHook()
        var servers: [String: SimulatorServer] = [:]
        // Every TCP endpoint is served from one thread: a park of 200 devices is 200 endpoints.
        let serverThread: ModbusServerThread
        do {
            serverThread = try ModbusServerThread()
        } catch {
            throw SimulatorError(.cannotServe, "cannot start the Modbus server thread: \(error.description)")
        }
        for server in scenario.servers {
            var units: [Int: ModbusUnitMemory] = [:]
            var unitDevices: [Int: String] = [:]
            for index in registers.indices where registers[index].device.server == server.id {
                let device = registers[index]
                guard let memory = ModbusUnitMemory(holding: device.holdingRange, input: device.inputRange) else {
                    servers.values.forEach { $0.stop() }
                    serverThread.finish()
                    throw SimulatorError(.cannotServe, "device \(device.device.id): cannot allocate registers \(device.holdingRange)")
                }
                // The full image before anyone can connect, so that no control register looks written.
                registers[index].write(into: memory, seenControls: device.controls(in: memory))
                units[device.device.unitID] = memory
                unitDevices[device.device.unitID] = device.device.id
            }
            let faults = FaultSchedule(faults: scenario.faults, unitDevices: unitDevices, origin: origin.rawValue, clock: clock)
            let policy: ModbusTCPServer.Policy = { faults.action(for: $0) }
            let observer: ModbusTCPServer.WriteObserver = { _ in hook.fire() }
            switch server.transport {
            case .tcp:
                let port = portOverrides[server.id] ?? server.port
                do {
                    servers[server.id] = .tcp(try ModbusTCPServer(host: server.host, port: port, units: units, policy: policy,
                                                                  onWrite: observer, thread: serverThread))
                } catch {
                    servers.values.forEach { $0.stop() }
                    serverThread.finish()
                    throw SimulatorError(.cannotServe, "server \(server.id): cannot listen on \(server.host):\(port): \(error.description)")
                }
            case .rtu:
                do {
                    servers[server.id] = .rtu(try ModbusRTUServer(link: server.link, units: units, policy: policy, onWrite: observer))
                } catch {
                    servers.values.forEach { $0.stop() }
                    serverThread.finish()
                    throw SimulatorError(.cannotServe, "server \(server.id): cannot open an RTU line: \(error.description)")
                }
            }
        }
        self.servers = servers
        self.serverThread = serverThread
        core = Mutex(Core(physics: HubPhysics(scenario: scenario, origin: origin.rawValue), registers: registers))
        hook.set { [weak self] in self?.refresh() }
        refresh()
    }

    deinit {
        servers.values.forEach { $0.stop() }
        serverThread.finish()
    }

    /// The bound port of each TCP server, by server id.
    public var ports: [String: Int] { servers.compactMapValues { if case .tcp(let server) = $0 { server.port } else { nil } } }

    /// Where a client reaches each server, by server id (`tcp://…` or the RTU terminal).
    public var endpoints: [String: ModbusEndpoint] {
        servers.mapValues { server in
            switch server {
            case .tcp(let tcp): .tcp(host: tcp.host, port: tcp.port)
            case .rtu(let rtu): .rtu(.init(device: rtu.devicePath))
            }
        }
    }

    /// A copy of the physics state as of the last refresh.
    public var physics: HubPhysics { core.withLock { $0.physics } }

    public func state(_ device: String) -> SimulatedDeviceState? { core.withLock { $0.physics.state(device) } }

    /// Number of Modbus requests served so far, over all servers.
    public var requestCount: Int { servers.values.reduce(0) { $0 + $1.requestCount } }

    /// Advances to the clock's `now`, applies client writes, rewrites every register image.
    public func refresh() {
        let now = clock.now.rawValue
        core.withLock { core in
            core.physics.advance(to: now)
            var seen: [[UInt16]] = []
            for index in core.registers.indices {
                let registers = core.registers[index]
                let words = servers[registers.device.server]?.withMemory(unit: registers.device.unitID) { registers.controls(in: $0) } ?? []
                seen.append(words)
                guard let command = core.registers[index].adopt(controls: words) else { continue }
                let id = registers.device.id
                switch command {
                case .pvLimit(let percent, let revert):
                    core.physics.setPVLimit(id, percent: percent, revertAfterMs: revert)
                    logger.info("PV limit written", metadata: ["device": "\(id)", "percent": "\(percent.map { "\($0)" } ?? "none")",
                                                               "revert_ms": "\(revert.map { "\($0)" } ?? "never")"])
                case .batterySetpoint(let watts, let revert):
                    core.physics.setBatterySetpoint(id, watts: watts, revertAfterMs: revert)
                    logger.info("battery setpoint written", metadata: ["device": "\(id)", "watts": "\(watts.map { "\($0)" } ?? "none")",
                                                                       "revert_ms": "\(revert.map { "\($0)" } ?? "never")"])
                }
            }
            for index in core.registers.indices {
                let device = core.registers[index].device
                guard let state = core.physics.state(device.id) else { continue }
                core.registers[index].encode(state, time: now)
                var registers = core.registers[index]
                _ = servers[device.server]?.withMemory(unit: device.unitID) { memory in
                    registers.write(into: memory, seenControls: seen[index])
                }
                core.registers[index] = registers
            }
        }
    }

    /// Refreshes every `interval` (real time) until the task is cancelled.
    public func run(refreshInterval: Duration = .milliseconds(100)) async {
        while !Task.isCancelled {
            refresh()
            // Refresh half-way between multiples of the interval on the system's wall clock: a
            // client polling on whole seconds (the agent) then never meets a refresh in progress
            // (each takes about a millisecond for 200 devices), and always reads a whole one.
            let (seconds, attoseconds) = refreshInterval.components
            let intervalMs = max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
            let phase = (SystemWallClock().now.rawValue - intervalMs / 2) % intervalMs
            do { try await Task.sleep(for: .milliseconds(intervalMs - (phase < 0 ? phase + intervalMs : phase))) } catch { break }
        }
    }

    /// Closes every listener and client connection.
    public func stop() {
        servers.values.forEach { $0.stop() }
        serverThread.finish()
    }

    /// The largest grid power a company can reach (W), for choosing meter scale factors.
    static func powerBound(_ group: Scenario.Group) -> Double {
        var load = 0.0
        if let spec = group.load {
            load = spec.baseWatts + spec.noiseWatts + spec.shifts.map { max(0, $0.watts) }.reduce(0, +) + spec.steps.map { max(0, $0.watts) }.reduce(0, +)
        }
        let pv = group.devices.compactMap(\.pv?.ratedWatts).reduce(0, +)
        let charge = group.devices.compactMap(\.battery?.maxChargeWatts).reduce(0, +)
        let discharge = group.devices.compactMap(\.battery?.maxDischargeWatts).reduce(0, +)
        return max(load + charge, pv + discharge, 1000) * 1.1
    }
}

/// A TCP listener or an RTU line.
enum SimulatorServer: Sendable {
    case tcp(ModbusTCPServer)
    case rtu(ModbusRTUServer)

    func withMemory<Result>(unit: Int, _ body: (ModbusUnitMemory) throws -> Result) rethrows -> Result? {
        switch self {
        case .tcp(let server): try server.withMemory(unit: unit, body)
        case .rtu(let server): try server.withMemory(unit: unit, body)
        }
    }

    var requestCount: Int {
        switch self {
        case .tcp(let server): server.requestCount
        case .rtu(let server): server.requestCount
        }
    }

    func stop() {
        switch self {
        case .tcp(let server): server.stop()
        case .rtu(let server): server.stop()
        }
    }
}

/// Scripted faults of one server's devices, decided per request.
struct FaultSchedule: Sendable {
    let faults: [String: [Scenario.Fault]]
    let unitDevices: [Int: String]
    let origin: Int64
    let clock: any UTCClock

    init(faults: [Scenario.Fault], unitDevices: [Int: String], origin: Int64, clock: any UTCClock) {
        let served = Set(unitDevices.values)
        self.faults = Dictionary(grouping: faults.filter { served.contains($0.device) && $0.kind != .counterReset }, by: \.device)
        self.unitDevices = unitDevices
        self.origin = origin
        self.clock = clock
    }

    func action(for request: ModbusServerRequest) -> ModbusServerAction {
        guard let device = unitDevices[request.unit], let list = faults[device] else { return .reply }
        let offset = clock.now.rawValue - origin
        for fault in list where fault.isActive(atOffset: offset) {
            switch fault.kind {
            case .silent: return .ignore
            case .exception(let code): return .exception(ModbusException(rawValue: code) ?? .serverDeviceFailure)
            case .slow(let delay): return .delay(delay)
            case .disconnect: return .disconnect
            case .counterReset: continue
            }
        }
        return .reply
    }
}

/// Lets a server's write observer reach the simulator that owns the server.
final class RefreshHook: Sendable {
    private let action = Mutex<(@Sendable () -> Void)?>(nil)

    func set(_ body: @escaping @Sendable () -> Void) { action.withLock { $0 = body } }

    func fire() { action.withLock { $0 }?() }
}
