import Foundation
import HubContract
import HubDomain
import HubSupport
import Logging
import MQTTIO
import Prometheus
import ServiceLifecycle
import Synchronization

/// Counters of what arrived, by outcome; served on /metrics and /health.
public final class AggregatorMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let counts = Mutex<[String: Int]>([:])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    // Computed: the descriptor type is not Sendable, so it cannot be a stored static.
    private static var messages: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "hubmeter", subsystem: "aggregator", metricName: "messages", unitName: "total",
                             helpText: "Messages received, by what became of them (outcome) and why a message was rejected (reason)")
    }
    private static var storeAvailableGauge: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "hubmeter", subsystem: "aggregator", metricName: "store_available", unitName: "",
                             helpText: "1 while the store takes records, 0 while it is away (records are held and retried)")
    }
    private static var storeOutages: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "hubmeter", subsystem: "aggregator", metricName: "store_outages", unitName: "total",
                             helpText: "Times the store went away")
    }

    /// `outcome`: stored, duplicate, conflict, status, ignored, chain_broken, rejected; `reason` for rejections.
    public func count(_ outcome: String, reason: String? = nil) {
        let labels = [("outcome", outcome)] + (reason.map { [("reason", $0)] } ?? [])
        registry.makeCounter(descriptor: Self.messages, labels: labels).increment()
        counts.withLock { $0[reason.map { "\(outcome).\($0)" } ?? outcome, default: 0] += 1 }
    }

    /// Counts `count` messages at once (records given up together).
    public func count(_ outcome: String, count: Int) {
        registry.makeCounter(descriptor: Self.messages, labels: [("outcome", outcome)]).increment(by: Int64(count))
        counts.withLock { $0[outcome, default: 0] += count }
    }

    /// 1 while the store takes records, 0 while it is away (the ingest holds them meanwhile);
    /// each time it goes away counts one outage.
    public func storeAvailable(_ available: Bool) {
        registry.makeGauge(descriptor: Self.storeAvailableGauge).set(Double(available ? 1 : 0))
        if !available {
            registry.makeCounter(descriptor: Self.storeOutages).increment()
            counts.withLock { $0["store_outage", default: 0] += 1 }
        }
    }

    public var snapshot: [String: Int] { counts.withLock { $0 } }

    public func prometheusText() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

/// Receives the hubs' messages from the broker and hands them to an ``IngestPipeline``, the only
/// writer of the store.
public struct IngestService: Service {
    public let client: MQTTClient
    public let host: String
    public let port: Int
    public let ingest: IntervalIngest
    public let shareGroup: String?
    public let store: any AggregatorStore
    public let metrics: AggregatorMetrics
    public let logger: Logger
    /// Set once the subscriptions are acknowledged (for /health and tests).
    let subscribed: SubscriptionFlag
    public let pipeline: IngestPipeline

    public init(client: MQTTClient, host: String, port: Int, ingest: IntervalIngest, shareGroup: String?, store: any AggregatorStore,
                metrics: AggregatorMetrics, logger: Logger, clock: @escaping @Sendable () -> UTCMilliseconds, maxBatch: Int = 500) {
        self.client = client
        self.host = host
        self.port = port
        self.ingest = ingest
        self.shareGroup = shareGroup
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.subscribed = SubscriptionFlag()
        self.pipeline = IngestPipeline(ingest: ingest, store: store, metrics: metrics, logger: logger, clock: clock, maxBatch: maxBatch)
    }

    public var isSubscribed: Bool { subscribed.value.withLock { $0 } }

    public func run() async throws {
        try client.start(host: host, port: port)
        let client = client
        let pipeline = pipeline
        let processing = Task { await pipeline.run() }
        let loop = Task { await consume() }
        try? await gracefulShutdown()
        client.stop()
        await loop.value
        // What was received before the stop is still classified and stored.
        pipeline.finish()
        await processing.value
    }

    func consume() async {
        var pending: Set<Int32> = []
        var requested = false
        for await event in client.events {
            switch event {
            case .connected:
                logger.notice("connected to the broker", metadata: ["broker": "\(host):\(port)"])
                guard !requested else { continue }
                requested = true
                for filter in ingest.subscriptions(shareGroup: shareGroup) {
                    do {
                        pending.insert(try client.subscribe(filter, qos: 1))
                    } catch {
                        logger.error("cannot subscribe", metadata: ["filter": "\(filter)", "error": "\(error)"])
                    }
                }
            case .subscribed(let id, _):
                pending.remove(id)
                if pending.isEmpty { subscribed.value.withLock { $0 = true } }
            case .disconnected(let reason, let text) where reason != 0:
                logger.warning("disconnected from the broker; reconnecting", metadata: ["reason": "\(text)"])
            case .connectionRefused(_, let text):
                logger.warning("the broker refused the connection", metadata: ["reason": "\(text)"])
            case .message(let message):
                pipeline.submit(topic: message.topic, payload: message.payload)
            default:
                break
            }
        }
    }
}

final class SubscriptionFlag: Sendable {
    let value = Mutex(false)
}
