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

        public init(configurationPath: String, environment: [String: String], version: String) {
            self.configurationPath = configurationPath
            self.environment = environment
            self.version = version
        }
    }

    public static func systemClock() -> UTCMilliseconds {
        UTCMilliseconds(Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public static func run(_ options: Options) async -> ExitStatus {
        let configuration: AggregatorConfiguration
        do {
            configuration = try AggregatorConfiguration.load(path: options.configurationPath,
                                                             environment: SecretEnvironment.process(options.environment))
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
                                         onReady: { notifier.ready(status: "listening on \(configuration.http.host):\(configuration.http.port)") })
            logger.notice("aggregator starting", metadata: [
                "region": "\(configuration.region.id)", "version": "\(options.version)",
                "broker": "\(configuration.mqtt.host):\(configuration.mqtt.port)", "share_group": "\(configuration.subscription.shareGroup ?? "-")",
                "http": "\(configuration.http.host):\(configuration.http.port)",
            ])
            do {
                try await group.run()
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            notifier.stopping()
            logger.notice("aggregator stopped")
            return .success
        } catch {
            logger.critical("the aggregator cannot run", metadata: ["error": "\(error)"])
            notifier.stopping()
            return .failure
        }
    }

    /// The ingest service and the HTTP application in one ServiceGroup (also used by tests, in process).
    public static func makeServices(configuration: AggregatorConfiguration, store: any AggregatorStore, loggers: LoggerFactory,
                                    clock: @escaping @Sendable () -> UTCMilliseconds,
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
            ingest: IntervalIngest(topicPrefix: configuration.subscription.topicPrefix, maxMessageBytes: configuration.maxMessageBytes),
            shareGroup: configuration.subscription.shareGroup, store: store, metrics: metrics, logger: loggers.logger("ingest"), clock: clock)
        let endpoints = Endpoints(region: configuration.region, knownHubs: configuration.hubs, store: store,
                                  authenticator: TokenAuthenticator(tokens: configuration.tokens), clock: clock)
        let application = Application(
            router: AggregatorHTTPServer.router(
                endpoints: endpoints,
                metrics: { metrics.prometheusText() },
                health: {
                    let subscribed = ingest.isSubscribed
                    return Reply.json(["status": subscribed ? "ok" : "degraded", "broker": subscribed ? "subscribed" : "not subscribed"],
                                      status: subscribed ? 200 : 503)
                }),
            configuration: .init(address: .hostname(configuration.http.host, port: configuration.http.port), serverName: "hubmeter-aggregator"),
            onServerRunning: { _ in onReady() },
            logger: loggers.logger("http"))
        return ServiceGroup(configuration: .init(
            services: [.init(service: ingest), .init(service: application)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: loggers.logger("lifecycle")))
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
