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

    /// `outcome`: stored, duplicate, conflict, status, ignored, chain_broken, rejected; `reason` for rejections.
    public func count(_ outcome: String, reason: String? = nil) {
        let labels = [("outcome", outcome)] + (reason.map { [("reason", $0)] } ?? [])
        registry.makeCounter(name: "hubmeter_aggregator_messages_total", labels: labels).increment()
        counts.withLock { $0[reason.map { "\(outcome).\($0)" } ?? outcome, default: 0] += 1 }
    }

    public var snapshot: [String: Int] { counts.withLock { $0 } }

    public func prometheusText() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

/// Receives the hubs' messages from the broker and stores them: the only writer of the store.
public struct IngestService: Service {
    public let client: MQTTClient
    public let host: String
    public let port: Int
    public let ingest: IntervalIngest
    public let shareGroup: String?
    public let store: any AggregatorStore
    public let metrics: AggregatorMetrics
    public let logger: Logger
    public let clock: @Sendable () -> UTCMilliseconds
    /// Set once the subscriptions are acknowledged (for /health and tests).
    let subscribed: SubscriptionFlag
    /// Accepted records waiting for the writer, which stores up to ``maxBatch`` of them per transaction.
    let queue: IngestQueue
    public let maxBatch: Int

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
        self.clock = clock
        self.subscribed = SubscriptionFlag()
        self.queue = IngestQueue()
        self.maxBatch = max(1, maxBatch)
    }

    public var isSubscribed: Bool { subscribed.value.withLock { $0 } }

    public func run() async throws {
        try client.start(host: host, port: port)
        let client = client
        let writer = Task { await write() }
        let loop = Task { await consume() }
        try? await gracefulShutdown()
        client.stop()
        await loop.value
        // What was received before the stop is still stored.
        queue.finish()
        await writer.value
    }

    /// Stores what is queued, up to ``maxBatch`` records per transaction, until the queue is finished and empty.
    func write() async {
        for await _ in queue.wake {
            while case let batch = queue.take(maxBatch), !batch.isEmpty {
                await store(batch)
            }
        }
    }

    func store(_ batch: [IngestQueue.Item]) async {
        let outcomes: [StoreOutcome]
        do {
            outcomes = try await store.store(batch.map(\.accepted))
        } catch {
            guard batch.count > 1 else {
                metrics.count("store_failed")
                logger.error("cannot store a record", metadata: ["topic": "\(batch[0].topic)", "error": "\(error)"])
                return
            }
            // One record that cannot be stored must not take the others with it: one transaction each.
            logger.warning("cannot store a batch; storing its records one by one", metadata: ["records": "\(batch.count)", "error": "\(error)"])
            for item in batch { await store([item]) }
            return
        }
        for (item, outcome) in zip(batch, outcomes) {
            switch outcome {
            case .stored(let chain):
                metrics.count("stored")
                if chain == .broken {
                    metrics.count("chain_broken")
                    logger.warning("hash chain broken", metadata: ["topic": "\(item.topic)", "sequence": "\(item.accepted.message.sequence)"])
                }
            case .duplicate:
                metrics.count("duplicate")
                logger.debug("duplicate record ignored", metadata: ["topic": "\(item.topic)", "sequence": "\(item.accepted.message.sequence)"])
            case .conflict(let reason):
                metrics.count("conflict")
                logger.warning("conflicting record kept aside", metadata: ["topic": "\(item.topic)", "reason": "\(reason)"])
            }
        }
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
                await handle(message)
            default:
                break
            }
        }
    }

    /// Classifies one message: interval records go to the writer's queue, statuses and rejections
    /// are stored at once. Nothing here may stop the service.
    public func handle(_ message: MQTTMessage) async {
        let now = clock()
        switch ingest.classify(topic: message.topic, payload: message.payload, receivedAt: now) {
        case .interval(let accepted):
            queue.append(IngestQueue.Item(accepted: accepted, topic: message.topic))
        case .status(let hub, let status):
            metrics.count("status")
            do { try await store.recordStatus(hub: hub, status: status, at: now) } catch {
                logger.error("cannot store a status", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
            }
        case .ignored:
            metrics.count("ignored")
        case .rejected(let rejection):
            metrics.count("rejected", reason: rejection.reason.rawValue)
            logger.warning("message rejected", metadata: ["topic": "\(rejection.topic)", "reason": "\(rejection.reason.rawValue)",
                                                          "detail": "\(rejection.detail.prefix(300))"])
            try? await store.recordRejection(rejection, at: now)
        }
    }
}

/// Accepted records between the MQTT consumer and the store writer. The consumer never waits for
/// the database; the writer takes whatever has queued up (up to a batch) per transaction, so that
/// a burst of records (a hub catching up after an outage) costs one transaction per batch.
final class IngestQueue: Sendable {
    struct Item: Sendable {
        var accepted: AcceptedInterval
        var topic: String
    }

    private let items = Mutex<[Item]>([])
    let wake: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        // One pending wake-up is enough: the writer drains everything each time it wakes.
        (wake, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func append(_ item: Item) {
        items.withLock { $0.append(item) }
        continuation.yield()
    }

    func take(_ limit: Int) -> [Item] {
        items.withLock { items in
            let batch = Array(items.prefix(limit))
            items.removeFirst(batch.count)
            return batch
        }
    }

    func finish() { continuation.finish() }
}

final class SubscriptionFlag: Sendable {
    let value = Mutex(false)
}
