import HubContract
import Acquisition
import ConfigReading
import Foundation
import HubConfiguration
import HubDomain
import HubSupport
import Logging
import MQTTIO
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `hubmeter agent`: runs acquisition, the balance cycle, the settlement ledger, the outbox and
/// the MQTT link as services of one ServiceGroup, with sd_notify, SIGHUP reload and /metrics.
public enum AgentDaemon {
    public struct Options: Sendable {
        public var configurationPath: String
        public var dataDirectory: String?
        public var environment: [String: String]
        public var version: String
        /// The agent's clock: the system clock, or a faster one for tests and demos (`--speed`).
        public var clock: any UTCClock

        public init(configurationPath: String, dataDirectory: String?, environment: [String: String], version: String,
                    clock: any UTCClock = SystemWallClock()) {
            self.clock = clock
            self.configurationPath = configurationPath
            self.dataDirectory = dataDirectory
            self.environment = environment
            self.version = version
        }
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public static func run(_ options: Options) async -> ExitStatus {
        let secrets = SecretEnvironment.process(options.environment)
        var loaded: (AgentConfiguration, ProfileCatalog)
        do {
            loaded = try AgentConfigurationLoader.load(path: options.configurationPath, environment: secrets, dataDirectory: options.dataDirectory)
        } catch {
            LogSink.standardError.write("hubmeter agent: \(error.description)")
            return .configurationError
        }
        let notifier = SystemdNotifier(environment: options.environment)
        while true {
            let (configuration, catalog) = loaded
            let loggers = LoggerFactory(settings: configuration.logging, environment: options.environment)
            let logger = loggers.logger("agent")
            let outcome: RunOutcome
            do {
                outcome = try await runOnce(configuration: configuration, catalog: catalog, options: options, loggers: loggers, notifier: notifier)
            } catch {
                logger.critical("the agent cannot run", metadata: ["error": "\(error)"])
                notifier.stopping()
                return error is ConfigError || error is AgentPlan.PlanError ? .configurationError : .failure
            }
            switch outcome {
            case .stopped:
                return .success
            case .reload:
                notifier.reloading()
                do {
                    loaded = try AgentConfigurationLoader.load(path: options.configurationPath, environment: secrets, dataDirectory: options.dataDirectory)
                    logger.notice("configuration reloaded", metadata: ["file": "\(options.configurationPath)"])
                } catch {
                    // An invalid new file keeps the running configuration.
                    logger.error("the new configuration is invalid; keeping the running one", metadata: ["error": "\(error.description)"])
                }
            }
        }
    }

    enum RunOutcome: Sendable { case stopped, reload }

    static func runOnce(configuration: AgentConfiguration, catalog: ProfileCatalog, options: Options, loggers: LoggerFactory,
                        notifier: SystemdNotifier) async throws -> RunOutcome {
        let logger = loggers.logger("agent")
        let clock = options.clock
        let plan = try AgentPlan(configuration: configuration, catalog: catalog)
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        let store = try AgentStore(path: configuration.stateDirectory + "/agent.sqlite")
        let registry = PrometheusCollectorRegistry()
        let metrics = AcquisitionMetrics()
        let acquisition = try AcquisitionService(
            buses: plan.buses,
            cadence: AcquisitionSetup.cadence(configuration.polling),
            library: catalog.library, clock: clock, metrics: metrics, logger: loggers.logger("acquisition"))

        let topics = Topics(hub: configuration.hub.id)
        let startedAt = UTCTimestamp.now()
        let configurationHash = (try? FileReader.readBytes(path: options.configurationPath)).map { SHA256.hex($0) } ?? "unknown"
        @Sendable func status(_ state: String) -> MQTTMessage {
            let message = StatusMessage(hub: configuration.hub.id, state: state, version: options.version,
                                        configurationHash: configurationHash, startedAt: startedAt.iso8601)
            return MQTTMessage(topic: topics.status, payload: (try? MessageEncoding.encode(message)) ?? [], qos: 1, retain: true)
        }
        let client = try MQTTClient(options: mqttOptions(configuration.mqtt, will: status("offline")))
        let link = MQTTLink(client: client, store: store, logger: loggers.logger("mqtt"), birth: status("online"))
        let core = try AgentCore(
            settings: .init(hub: configuration.hub.id, cycle: configuration.polling.cycle,
                            outboxLimits: .init(maxBytes: configuration.outbox.maxBytes, maxAge: configuration.outbox.maxAge),
                            agentVersion: options.version, homeAssistantPrefix: configuration.homeAssistantPrefix),
            plan: plan, store: store, link: link, registry: registry, logger: loggers.logger("balance"), clock: clock)

        let httpServer: LoopbackHTTPServer? = try configuration.http.map { address in
            try LoopbackHTTPServer(host: address.host, port: address.port) { _, path in
                endpoint(path: path, registry: registry, metrics: metrics, core: core, link: link, store: store)
            }
        }
        defer { httpServer?.stop() }

        let statePublisher = DeviceStatePublisher(hub: configuration.hub.id, link: link, store: store,
                                                  queueWhileDisconnected: configuration.outbox.queueDeviceStates)
        let (snapshots, snapshotInput) = AsyncStream<DeviceSnapshot>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        let reloadRequested = Mutex(false)
        let cycleMilliseconds = milliseconds(configuration.polling.cycle)

        let services: [any Service] = [
            // Stops last: it carries the final state and the offline status.
            ClosureService(name: "mqtt") {
                try client.start(host: configuration.mqtt.host, port: configuration.mqtt.port)
                let events = Task { await link.run() }
                try? await gracefulShutdown()
                // Give queued records a moment to be acknowledged, then say goodbye.
                let deadline = ContinuousClock.now + .seconds(2)
                while ContinuousClock.now < deadline, await link.state == .connected,
                      (try? store.statistics().count.values.reduce(0, +)) ?? 0 > 0 {
                    try? await Task.sleep(for: .milliseconds(50))
                }
                if await link.state == .connected { _ = try? client.publish(status("offline")) }
                try? await Task.sleep(for: .milliseconds(100))
                client.stop()
                events.cancel()
            },
            ClosureService(name: "snapshots") {
                for await snapshot in snapshots.cancelOnGracefulShutdown() {
                    await core.accept(snapshot, now: clock.now)
                }
            },
            ClosureService(name: "acquisition") {
                await cancelWhenGracefulShutdown {
                    await acquisition.run { snapshot in
                        statePublisher.publish(snapshot, now: clock.now)
                        snapshotInput.yield(snapshot)
                    }
                }
                snapshotInput.finish()
            },
            ClosureService(name: "cycle") {
                // The balance runs as soon as every device reported (see AgentCore.accept); this
                // fallback runs it at 80 % of the cycle when a device is slow or silent.
                try? await cancelWhenGracefulShutdown {
                    while !Task.isCancelled {
                        let now = clock.now.rawValue
                        let next = (now / cycleMilliseconds) * cycleMilliseconds + cycleMilliseconds * 4 / 5
                        let wait = next > now ? next - now : next + cycleMilliseconds - now
                        try await Task.sleep(for: realSleepDuration(clock, milliseconds: wait))
                        await core.balanceIfDue(now: clock.now)
                    }
                }
                // Persist the open interval so that a restart resumes it.
                await core.flush(now: clock.now)
            },
            ClosureService(name: "watchdog") {
                notifier.ready(status: "polling \(plan.buses.reduce(0) { $0 + $1.devices.count }) devices on \(plan.buses.count) buses")
                let interval = notifier.watchdogInterval ?? .seconds(10)
                try? await cancelWhenGracefulShutdown {
                    while !Task.isCancelled {
                        try await Task.sleep(for: interval)
                        // Only pet the watchdog while cycles still run: a stuck agent gets restarted.
                        let age = ContinuousClock.now - (await core.lastBalanceAt)
                        if age < max(interval * 2, configuration.polling.cycle * 5) { notifier.watchdog() }
                    }
                }
                notifier.stopping()
            },
        ]
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: loggers.logger("lifecycle")))
        let reloadListener = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                logger.notice("SIGHUP: checking the configuration file before reloading")
                do {
                    _ = try AgentConfigurationLoader.load(path: options.configurationPath,
                                                          environment: SecretEnvironment.process(options.environment),
                                                          dataDirectory: options.dataDirectory)
                    reloadRequested.withLock { $0 = true }
                    await group.triggerGracefulShutdown()
                    return
                } catch {
                    logger.error("the new configuration is invalid; keeping the running one", metadata: ["error": "\(error)"])
                }
            }
        }
        defer { reloadListener.cancel() }
        logger.notice("agent starting", metadata: [
            "hub": "\(configuration.hub.id)", "version": "\(options.version)", "devices": "\(plan.kinds.count)",
            "broker": "\(configuration.mqtt.host):\(configuration.mqtt.port)",
        ])
        try await group.run()
        logger.notice("agent stopped")
        return reloadRequested.withLock { $0 } ? .reload : .stopped
    }

    static func mqttOptions(_ settings: MQTTSettings, will: MQTTMessage) -> MQTTClient.Options {
        var options = MQTTClient.Options(clientID: settings.clientID)
        // A persistent session: QoS 1 messages in flight survive a reconnect on the broker's side too.
        options.cleanStart = true
        options.protocolVersion = settings.protocolVersion == .mqtt5 ? .v5 : .v311
        options.keepalive = settings.keepalive
        options.username = settings.username
        options.password = settings.password
        options.tls = settings.tls.map { .init(caFile: $0.caFile, certificateFile: $0.certificateFile, keyFile: $0.keyFile, verifyServer: $0.verifyServer) }
        options.will = will
        options.reconnectDelay = settings.reconnectDelay
        options.reconnectDelayMax = settings.reconnectDelayMax
        return options
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        max(1, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// /metrics and /health.
    static func endpoint(path: String, registry: PrometheusCollectorRegistry, metrics: AcquisitionMetrics, core: AgentCore,
                         link: MQTTLink, store: AgentStore) -> LoopbackHTTPServer.Response {
        switch path {
        case "/metrics":
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            let text = String(decoding: buffer, as: UTF8.self) + metrics.prometheusText()
            return .init(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: text)
        case "/health":
            let report = HealthReport.collect(core: core, link: link, store: store)
            let body = (try? MessageEncoding.encoder().encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return .init(status: report.status == "ok" ? 200 : 503, contentType: "application/json", body: body + "\n")
        default:
            return .init(status: 404, contentType: "text/plain; charset=utf-8", body: "not found; try /metrics or /health\n")
        }
    }
}

/// What /health says: which devices are down, the outbox depth, the broker state.
struct HealthReport: Codable, Sendable {
    struct Device: Codable, Sendable {
        var state: String
        var lastError: String?
    }

    var status: String
    var broker: String
    var outboxMessages: Int
    var outboxBytes: Int
    var outboxOverLimit: Bool
    var devices: [String: Device]
    var devicesOffline: [String]

    /// Collected synchronously from the HTTP thread by waiting on the actors (bounded by the HTTP timeout).
    static func collect(core: AgentCore, link: MQTTLink, store: AgentStore) -> HealthReport {
        let result = Mutex<HealthReport?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let deviceStatus = await core.deviceStatus
            let state = await link.state
            let alarm = await core.outboxAlarm
            let statistics = try? store.statistics()
            let broker: String = switch state {
            case .connected: "connected"
            case .connecting: "connecting"
            case .disconnected(let reason): "disconnected: \(reason)"
            }
            let offline = deviceStatus.filter { $0.value.state == "offline" }.map(\.key).sorted()
            result.withLock {
                $0 = HealthReport(
                    status: state == .connected && offline.isEmpty && !alarm ? "ok" : "degraded",
                    broker: broker, outboxMessages: statistics?.count.values.reduce(0, +) ?? -1, outboxBytes: statistics?.bytes ?? -1,
                    outboxOverLimit: alarm,
                    devices: deviceStatus.mapValues { Device(state: $0.state, lastError: $0.lastError) }, devicesOffline: offline)
            }
            done.signal()
        }
        _ = done.wait(timeout: .now() + 1)
        return result.withLock { $0 } ?? HealthReport(status: "degraded", broker: "unknown", outboxMessages: -1, outboxBytes: -1,
                                                      outboxOverLimit: false, devices: [:], devicesOffline: [])
    }
}

/// A service from a closure.
struct ClosureService: Service {
    let name: String
    let body: @Sendable () async throws -> Void

    init(name: String, _ body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.body = body
    }

    func run() async throws { try await body() }
}

extension LoggerFactory {
    /// The process's loggers from the configured level and format (`auto`: journald under systemd).
    init(settings: LoggingSettings, environment: [String: String]) {
        let level = Logger.Level(rawValue: settings.level.rawValue) ?? .info
        let format: HubLogHandler.Format = switch settings.format {
        case .auto: .detect(environment: environment)
        case .plain: .plain
        case .journald: .journald
        }
        self.init(level: level, format: format)
    }
}
