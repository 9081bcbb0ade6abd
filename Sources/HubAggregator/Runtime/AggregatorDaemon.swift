import ConfigReading
import Foundation
import HubConfiguration
import HubContract
import HubDomain
import HubSupport
import Hummingbird
import Logging
import MQTTIO
import ServiceLifecycle
import UnixSignals

/// `hubmeter aggregator`: ingest, storage, API and pages as services of one ServiceGroup.
public enum AggregatorDaemon {
    public struct Options: Sendable {
        public var configurationPath: String
        public var environment: [String: String]
        public var version: String
        /// `--data-directory`: overrides the file's `data_directory`.
        public var dataDirectory: String?
        /// Used when neither the command line nor the file names a data directory.
        public var defaultDataDirectory: String

        public init(configurationPath: String, environment: [String: String], version: String, dataDirectory: String? = nil,
                    defaultDataDirectory: String = "/usr/local/share/hubmeter") {
            self.configurationPath = configurationPath
            self.environment = environment
            self.version = version
            self.dataDirectory = dataDirectory
            self.defaultDataDirectory = defaultDataDirectory
        }
    }

    public static func systemClock() -> UTCMilliseconds {
        UTCMilliseconds(Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status. SIGHUP reloads what can change live
    /// (``AggregatorLiveSettings`` and the log level) and names what needs a restart.
    public static func run(_ options: Options) async -> ExitStatus {
        let configuration: AggregatorConfiguration
        do {
            configuration = try AggregatorConfiguration.load(path: options.configurationPath,
                                                             environment: SecretEnvironment.process(options.environment))
        } catch {
            LogSink.standardError.write("hubmeter aggregator: \(error.description)")
            return .configurationError
        }
        let dataDirectory = options.dataDirectory ?? configuration.dataDirectory ?? options.defaultDataDirectory
        let schemas: MessageSchemas
        do {
            schemas = try MessageSchemas.load(directory: MessageSchemas.directory(inDataDirectory: dataDirectory))
        } catch {
            LogSink.standardError.write("hubmeter aggregator: \(error.description)")
            return .configurationError
        }
        let level = Logger.Level(rawValue: configuration.logging.level.rawValue) ?? .info
        let format: HubLogHandler.Format = switch configuration.logging.format {
        case .auto: .detect(environment: options.environment)
        case .plain: .plain
        case .journald: .journald
        }
        let loggers = LoggerFactory(level: level, format: format)
        let logger = loggers.logger("aggregator")
        let notifier = SystemdNotifier(environment: options.environment)
        let live = AggregatorLiveSettings(configuration)
        // Trap SIGHUP before anything runs: its default action would end the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let reloads = Task {
            for await _ in hangups {
                reload(options: options, running: configuration, live: live, loggers: loggers, logger: logger, notifier: notifier)
            }
        }
        defer { reloads.cancel() }
        do {
            let store: any AggregatorStore
            switch configuration.storage {
            case .sqlite(let path):
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                store = try SQLiteAggregatorStore(path: path)
            case .postgres(let postgres):
                let settings = PostgresAggregatorStore.Settings(postgres)
                logger.notice("opening the store", metadata: ["storage": "\(settings)"])
                store = try await PostgresAggregatorStore.open(settings, logger: loggers.logger("postgres"))
            }
            let group = try makeServices(configuration: configuration, store: store, loggers: loggers, clock: systemClock,
                                         schemas: schemas, live: live, notifier: notifier,
                                         onReady: { notifier.ready(status: "listening on \(configuration.http.host):\(configuration.http.port)") })
            logger.notice("aggregator starting", metadata: [
                "region": "\(configuration.region.id)", "version": "\(options.version)",
                "broker": "\(configuration.mqtt.host):\(configuration.mqtt.port)", "share_group": "\(configuration.subscription.shareGroup ?? "-")",
                "http": "\(configuration.http.host):\(configuration.http.port)", "schemas": "\(schemas.directory)",
            ])
            do {
                try await group.run()
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            logger.notice("aggregator stopped")
            return .success
        } catch {
            logger.critical("the aggregator cannot run", metadata: ["error": "\(error)"])
            notifier.stopping()
            return .failure
        }
    }

    /// Reads the configuration file again. An invalid file changes nothing and the log says why
    /// (`file:line:col: key: problem`); settings that need a restart are named and keep their running values.
    static func reload(options: Options, running: AggregatorConfiguration, live: AggregatorLiveSettings, loggers: LoggerFactory,
                       logger: Logger, notifier: SystemdNotifier) {
        logger.notice("SIGHUP: reloading the configuration", metadata: ["file": "\(options.configurationPath)"])
        notifier.reloading()
        defer { notifier.ready(status: "listening on \(running.http.host):\(running.http.port)") }
        let new: AggregatorConfiguration
        do {
            new = try AggregatorConfiguration.load(path: options.configurationPath, environment: SecretEnvironment.process(options.environment))
        } catch {
            logger.error("the new configuration is invalid; keeping the running one: \(error.description)", metadata: ["code": "\(error.code)"])
            return
        }
        live.apply(new)
        loggers.control.level = Logger.Level(rawValue: new.logging.level.rawValue) ?? .info
        let restart = AggregatorLiveSettings.restartRequired(running: running, new: new)
        if !restart.isEmpty {
            logger.warning("changed settings take effect only after a restart; running on with the old ones",
                           metadata: ["settings": "\(restart.joined(separator: ", "))"])
        }
        logger.notice("configuration reloaded", metadata: [
            "tokens": "\(new.tokens.count)", "hubs": "\(new.hubs.count)", "level": "\(new.logging.level.rawValue)", "region": "\(new.region.name)",
        ])
    }

    /// The ingest service and the HTTP application in one ServiceGroup (also used by tests, in process).
    /// `live` defaults to settings made from `configuration`; `notifier` (inactive by default) gets
    /// WATCHDOG=1 every half `WATCHDOG_USEC` and STOPPING=1 when the shutdown begins.
    public static func makeServices(configuration: AggregatorConfiguration, store: any AggregatorStore, loggers: LoggerFactory,
                                    clock: @escaping @Sendable () -> UTCMilliseconds, schemas: MessageSchemas,
                                    live: AggregatorLiveSettings? = nil, notifier: SystemdNotifier = SystemdNotifier(environment: [:]),
                                    onReady: @escaping @Sendable () -> Void = {}) throws -> ServiceGroup {
        let metrics = AggregatorMetrics()
        var mqttOptions = MQTTClient.Options(clientID: configuration.mqtt.clientID)
        mqttOptions.cleanStart = true
        mqttOptions.protocolVersion = configuration.mqtt.protocolVersion == .mqtt5 ? .v5 : .v311
        mqttOptions.keepalive = configuration.mqtt.keepalive
        mqttOptions.username = configuration.mqtt.username
        mqttOptions.password = configuration.mqtt.password
        mqttOptions.tls = configuration.mqtt.tls.map {
            .init(caFile: $0.caFile, certificateFile: $0.certificateFile, keyFile: $0.keyFile, verifyServer: $0.verifyServer)
        }
        mqttOptions.reconnectDelay = configuration.mqtt.reconnectDelay
        mqttOptions.reconnectDelayMax = configuration.mqtt.reconnectDelayMax
        let client = try MQTTClient(options: mqttOptions)
        let ingest = IngestService(
            client: client, host: configuration.mqtt.host, port: configuration.mqtt.port,
            ingest: IntervalIngest(topicPrefix: configuration.subscription.topicPrefix, maxMessageBytes: configuration.maxMessageBytes,
                                   schemas: schemas),
            shareGroup: configuration.subscription.shareGroup, store: store, metrics: metrics, logger: loggers.logger("ingest"), clock: clock)
        let endpoints = Endpoints(live: live ?? AggregatorLiveSettings(configuration), store: store, clock: clock)
        let application = Application(
            router: AggregatorHTTPServer.router(
                endpoints: endpoints,
                metrics: { metrics.prometheusText() },
                health: {
                    let subscribed = ingest.isSubscribed, storing = ingest.pipeline.storeIsReachable
                    return Reply.json(["status": subscribed && storing ? "ok" : "degraded", "broker": subscribed ? "subscribed" : "not subscribed",
                                       "store": storing ? "available" : "unavailable (records held and retried)"],
                                      status: subscribed && storing ? 200 : 503)
                }),
            configuration: .init(address: .hostname(configuration.http.host, port: configuration.http.port), serverName: "hubmeter-aggregator"),
            onServerRunning: { _ in onReady() },
            logger: loggers.logger("http"))
        return ServiceGroup(configuration: .init(
            // Shut down in reverse order: the watchdog first (STOPPING=1), then HTTP, then ingest.
            services: [.init(service: ingest), .init(service: application), .init(service: SystemdWatchdogService(notifier: notifier))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: loggers.logger("lifecycle")))
    }
}

/// Sends WATCHDOG=1 every half `WATCHDOG_USEC` while the process's tasks run, and STOPPING=1 as
/// soon as the graceful shutdown begins (SIGTERM), before the other services stop.
struct SystemdWatchdogService: Service {
    let notifier: SystemdNotifier

    func run() async throws {
        if let interval = notifier.watchdogInterval {
            try? await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    notifier.watchdog()
                }
            }
        } else {
            try? await gracefulShutdown()
        }
        notifier.stopping()
    }
}

extension PostgresAggregatorStore.Settings {
    /// The connection settings of the configuration file; the password comes from its `password_file`
    /// or `password_env` (never inline) and is revealed here only to hand it to the client.
    public init(_ configuration: AggregatorConfiguration.Postgres) {
        let tls: TLS = switch configuration.tls {
        case .disable: .disable
        case .prefer: .prefer
        case .require: .require
        }
        // As with libpq, a host that is an absolute path is the directory of the server's Unix socket.
        self.init(host: configuration.host, port: configuration.port,
                  unixSocketDirectory: configuration.host.hasPrefix("/") ? configuration.host : nil,
                  database: configuration.database, user: configuration.user,
                  password: configuration.password?.withRevealedValue { $0 }, tls: tls)
    }
}
