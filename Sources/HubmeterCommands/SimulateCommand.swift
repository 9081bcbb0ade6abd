import Acquisition
import ArgumentParser
import ConfigReading
import HubDomain
import HubSimulator
import HubSupport
import Logging
import ModbusIO
import UnixSignals
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `hubmeter simulate`: serves a scenario's virtual devices over Modbus TCP until SIGTERM or SIGINT.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Serve simulated hub devices (SunSpec inverters, meters, batteries, Eastron SDM630) over Modbus TCP and RTU.",
        discussion: """
            Simulated time is origin + (now − origin) × speed (UTC ms); give the agent the same --speed and \
            --time-origin and both agree on it. Exit 78: invalid scenario; 74: a port cannot be bound.
            """
    )

    @Argument(help: "The scenario file (see Config/demo/scenario.yaml).")
    var scenario: String

    @Option(help: "Simulated seconds per real second.")
    var speed: Double = 1

    @Option(help: "Epoch milliseconds at which simulated and real time coincide (default: now).")
    var timeOrigin: Int64?

    @Option(help: "Overrides the scenario's seed.")
    var seed: UInt64?

    @Option(help: "Device data directory (profiles/, sunspec/models/); default ./Config in a checkout, else /usr/local/share/hubmeter.")
    var dataDirectory: String?

    @Option(name: .customLong("port"), help: "Overrides a server's port: SERVER=PORT (repeatable; 0 picks a free port).")
    var ports: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard speed > 0, speed.isFinite, speed <= 1_000_000 else { throw ValidationError("--speed must be more than 0 and at most 1000000") }
        for entry in ports {
            let parts = entry.split(separator: "=")
            guard parts.count == 2, Int(parts[1]).map({ (0...65535).contains($0) }) == true else {
                throw ValidationError("--port expects SERVER=PORT, for example park-lan=15020; got '\(entry)'")
            }
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
    }

    func run() async throws {
        // A parent may have started us with signals blocked; SIGTERM must reach us.
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)

        var scenario: Scenario
        do {
            scenario = try ScenarioParser.load(path: self.scenario)
        } catch {
            ConsoleOutput.standardError(error.description)
            throw ExitCode(ExitStatus.configurationError.rawValue)
        }
        if let seed { scenario.seed = seed }
        let directory = dataDirectory ?? (access("Config/sunspec/models", F_OK) == 0 ? "Config" : "/usr/local/share/hubmeter")
        let catalog: ProfileCatalog
        do {
            catalog = try ProfileCatalog(dataDirectory: directory)
        } catch {
            ConsoleOutput.standardError(error.description)
            throw ExitCode(ExitStatus.configurationError.rawValue)
        }
        var overrides: [String: Int] = [:]
        for entry in ports {
            let parts = entry.split(separator: "=")
            guard scenario.servers.contains(where: { $0.id == parts[0] && $0.transport == .tcp }) else {
                ConsoleOutput.standardError("--port \(entry): no TCP server '\(parts[0])' in \(self.scenario); known: \(scenario.servers.filter { $0.transport == .tcp }.map(\.id).joined(separator: ", "))")
                throw ExitCode(ExitStatus.usage.rawValue)
            }
            overrides[String(parts[0])] = Int(parts[1])
        }
        let loggers = LoggerFactory(level: Logger.Level(rawValue: logLevel) ?? .info, format: .plain)
        let logger = loggers.logger("hubmeter.simulator")
        let clock = ScaledWallClock(origin: timeOrigin.map { UTCMilliseconds($0) }, speed: speed)
        let simulator: HubSimulator
        do {
            simulator = try HubSimulator(scenario: scenario, catalog: catalog, clock: clock, origin: clock.origin, portOverrides: overrides, logger: logger)
        } catch {
            ConsoleOutput.standardError("hubmeter simulate: \(error.description)")
            throw ExitCode(ExitStatus.ioError.rawValue)
        }
        print(Self.summary(scenario: scenario, simulator: simulator, clock: clock))
        fflush(stdout)

        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let loop = Task { await simulator.run() }
        for await signal in signals {
            logger.info("stopping", metadata: ["signal": "\(signal)"])
            break
        }
        loop.cancel()
        await loop.value
        simulator.stop()
        print("hubmeter simulate: stopped after \(simulator.requestCount) requests")
    }

    static func summary(scenario: Scenario, simulator: HubSimulator, clock: ScaledWallClock) -> String {
        var lines = ["hubmeter simulate: \(scenario.name): \(scenario.devices.count) devices, seed \(scenario.seed), speed \(clock.speed)×, "
            + "time origin \(clock.origin.rawValue) (\(UTCTimestamp(millisecondsSinceEpoch: clock.origin.rawValue).iso8601))"]
        let endpoints = simulator.endpoints
        for server in scenario.servers {
            lines.append("  server \(server.id): \(endpoints[server.id]?.description ?? "?")")
            for device in scenario.devices where device.server == server.id {
                lines.append("    unit \(device.unitID): \(device.id) (\(device.map.rawValue))")
            }
        }
        for fault in scenario.faults {
            let end = fault.durationMs.map { " for \($0 / 1000) s" } ?? ""
            lines.append("  fault: \(fault.device) \(fault.kind.name) at +\(fault.startMs / 1000) s\(end) (simulated)")
        }
        lines.append("hubmeter simulate: ready")
        return lines.joined(separator: "\n")
    }
}

/// `hubmeter demo`: points at the script that runs a whole demo hub.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Run a demo hub: simulator, agent, broker and aggregator.")

    func run() throws {
        print("""
            The demo hub is started by scripts/demo.sh from a checkout: it installs what is missing, builds hubmeter, \
            starts a local mosquitto broker, 'hubmeter simulate Config/demo/scenario.yaml', the agent and (once it exists) \
            the aggregator, and stops them all on Ctrl-C. Run: scripts/demo.sh --help
            """)
    }
}
