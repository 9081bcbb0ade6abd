import Foundation
import HubContract
import HubDomain
import Logging
import Synchronization

/// What happens to a received message between the broker and the store, without the broker:
/// messages are classified (schema, decoding, hash: pure and CPU-bound) on the cores the writer
/// does not need, and the accepted records go, in the order they arrived, to one writer that
/// stores up to `maxBatch` of them per transaction while the next messages are being classified.
///
/// The MQTT consumer only calls ``submit(topic:payload:)``, which never waits: it must keep up
/// with the broker, and the broker has already been acknowledged (see docs/aggregator.md).
public final class IngestPipeline: Sendable {
    public let ingest: IntervalIngest
    public let store: any AggregatorStore
    public let metrics: AggregatorMetrics
    public let logger: Logger
    public let clock: @Sendable () -> UTCMilliseconds
    public let maxBatch: Int
    /// How many classification rounds may be in flight while the writer waits for records; one
    /// fewer while it stores a batch. Default: one per core plus one, so that a core that finishes
    /// a round finds the next one queued instead of idling until the pipeline issues it; while the
    /// writer stores, the rounds fill the cores and the writer's thread shares them. On 2 cores,
    /// sustained runs of 40,000: medians 21,900 and 22,300 records/s at 1.86–1.92 cores with this
    /// default, against 20,200 at 1.69–1.74 cores with one per core (docs/performance.md). That holds
    /// since the SQLite store compresses payloads on the classifiers; before, with a writer ~25 %
    /// slower, one per core was the better choice and this default measured 19,000.
    public let classifiers: Int

    struct Received: Sendable {
        var topic: String
        var payload: [UInt8]
        var receivedAt: UTCMilliseconds
    }

    struct Accepted: Sendable {
        var accepted: AcceptedInterval
        var topic: String
    }

    private let inbox = WorkQueue<Received>()
    private let accepted = WorkQueue<Accepted>()
    /// False while the store is away (see ``storeHoldingThroughOutages(_:)``), for /health.
    private let storeReachable = Atomic<Bool>(true)
    /// Set by ``finish()``: a store that is still away then gets one more try, not a wait.
    private let finishing = Atomic<Bool>(false)
    /// Waits between tries while the store is away: doubling from the first to the last.
    let outageRetry: (first: Duration, last: Duration)
    /// Set while the classifier works through queued messages (see ``write()``).
    private let classifying = Atomic<Bool>(false)
    /// Set while the writer stores a batch: one classification round fewer is started then.
    private let writing = Atomic<Bool>(false)
    /// Messages taken from the inbox per classification round: large enough that a round
    /// outweighs its task, small enough that the writer gets its first batch early and that a
    /// classifier the writer's thread preempted holds up little.
    private static let roundSize = 64

    public init(ingest: IntervalIngest, store: any AggregatorStore, metrics: AggregatorMetrics, logger: Logger,
                clock: @escaping @Sendable () -> UTCMilliseconds, maxBatch: Int = 500,
                classifiers: Int = ProcessInfo.processInfo.activeProcessorCount + 1,
                outageRetry: (first: Duration, last: Duration) = (.milliseconds(500), .seconds(5))) {
        self.ingest = ingest
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        self.maxBatch = max(1, maxBatch)
        self.classifiers = max(1, classifiers)
        self.outageRetry = outageRetry
    }

    /// Queues one received message, stamped with its arrival time. Never waits.
    public func submit(topic: String, payload: [UInt8]) {
        inbox.append(Received(topic: topic, payload: payload, receivedAt: clock()))
    }

    /// Messages received and not yet classified, plus accepted records not yet stored.
    public var depth: Int { inbox.count + accepted.count }

    /// Classifies and stores until ``finish()`` was called and everything submitted before it is stored.
    public func run() async {
        async let written: Void = write()
        await classify()
        accepted.finish()
        await written
    }

    /// No more messages will be submitted; ``run()`` returns once the queued ones are stored (or,
    /// if the store is away, after one more try: see ``storeHoldingThroughOutages(_:)``).
    public func finish() {
        finishing.store(true, ordering: .releasing)
        inbox.finish()
    }

    /// Whether the last store attempt reached the store.
    public var storeIsReachable: Bool { storeReachable.load(ordering: .acquiring) }

    // MARK: Classification

    private func classify() async {
        for await _ in inbox.wake {
            classifying.store(true, ordering: .releasing)
            await classifyQueued()
            classifying.store(false, ordering: .releasing)
            accepted.wakeUp()
        }
    }

    /// Classifies rounds of queued messages on up to `classifiers` tasks at once, with no barrier
    /// between rounds (a round waits for no other round's slowest message), and hands the outcomes
    /// on in the order the messages arrived: when two records share a key, the first to arrive is
    /// stored and the later one is the conflict, whichever task classified it first.
    private func classifyQueued() async {
        let ingest = ingest, store = store
        await withTaskGroup(of: (Int, [Received], [IntervalIngest.Outcome]).self) { group in
            var issued = 0
            func issue(_ group: inout TaskGroup<(Int, [Received], [IntervalIngest.Outcome])>) -> Bool {
                let round = inbox.take(Self.roundSize)
                guard !round.isEmpty else { return false }
                let number = issued
                issued += 1
                group.addTask {
                    (number, round, round.map { message in
                        let outcome = ingest.classify(topic: message.topic, payload: message.payload, receivedAt: message.receivedAt)
                        guard case .interval(var record) = outcome else { return outcome }
                        store.prepare(&record)
                        return .interval(record)
                    })
                }
                return true
            }
            // Rounds in flight: `classifiers`, one fewer while the writer is storing. Each
            // round that finishes starts as many as that allows now (a round is ~64 messages,
            // a few milliseconds, so the count follows the writer closely enough).
            var running = 0
            func fill(_ group: inout TaskGroup<(Int, [Received], [IntervalIngest.Outcome])>) {
                let allowed = writing.load(ordering: .acquiring) ? max(1, classifiers - 1) : classifiers
                while running < allowed, issue(&group) { running += 1 }
            }
            fill(&group)
            var handled = 0
            var finished: [Int: ([Received], [IntervalIngest.Outcome])] = [:]
            while let (number, round, outcomes) = await group.next() {
                running -= 1
                finished[number] = (round, outcomes)
                while let (round, outcomes) = finished.removeValue(forKey: handled) {
                    // A round's records go to the writer together: one wake-up per round, not per record.
                    var records: [Accepted] = []
                    for (message, outcome) in zip(round, outcomes) {
                        if let record = await handle(outcome, of: message) { records.append(record) }
                    }
                    accepted.append(contentsOf: records)
                    handled += 1
                }
                fill(&group)
            }
        }
    }

    /// An interval record is returned, for the writer; statuses and rejections are stored at once.
    /// Nothing here may stop the service.
    private func handle(_ outcome: IntervalIngest.Outcome, of message: Received) async -> Accepted? {
        switch outcome {
        case .interval(let record):
            return Accepted(accepted: record, topic: message.topic)
        case .status(let hub, let status):
            metrics.count("status")
            do { try await store.recordStatus(hub: hub, status: status, at: message.receivedAt) } catch {
                logger.error("cannot store a status", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
            }
        case .ignored:
            metrics.count("ignored")
        case .rejected(let rejection):
            metrics.count("rejected", reason: rejection.reason.rawValue)
            logger.warning("message rejected", metadata: ["topic": "\(rejection.topic)", "reason": "\(rejection.reason.rawValue)",
                                                          "detail": "\(rejection.detail.prefix(300))"])
            do { try await store.recordRejection(rejection, at: message.receivedAt) } catch {
                logger.error("cannot record a rejection", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
            }
        }
        return nil
    }

    // MARK: Storage

    /// Stores `records`. While the store is away (unreachable, locked by another process, disk
    /// full: ``AggregatorStoreError/isOutage``) the records are held here and tried again, with
    /// waits doubling up to `outageRetry.last`: nothing is given up for an outage, however long.
    /// The outage is logged when it starts and when it ends, not per try. Throws what the store
    /// answered when it refused the records, or the outage if the pipeline is finishing.
    private func storeHoldingThroughOutages(_ records: [AcceptedInterval]) async throws -> [StoreOutcome] {
        var wait = outageRetry.first
        var outageStart: ContinuousClock.Instant?
        while true {
            do {
                let outcomes = try await store.store(records)
                if let outageStart {
                    storeReachable.store(true, ordering: .releasing)
                    metrics.storeAvailable(true)
                    logger.notice("the store is available again; held records stored", metadata: [
                        "records": "\(records.count)", "unavailable_for": "\(ContinuousClock.now - outageStart)"])
                }
                return outcomes
            } catch let error as AggregatorStoreError where error.isOutage {
                if finishing.load(ordering: .acquiring) && outageStart != nil { throw error }
                if outageStart == nil {
                    outageStart = .now
                    storeReachable.store(false, ordering: .releasing)
                    metrics.storeAvailable(false)
                    logger.error("the store is unavailable; holding the records and trying again", metadata: [
                        "records": "\(records.count)", "error": "\(error)"])
                }
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, outageRetry.last)
            }
        }
    }

    /// Stores what is queued, up to ``maxBatch`` records per transaction, until the queue is finished and empty.
    private func write() async {
        var wakes = accepted.wake.makeAsyncIterator()
        while await wakes.next() != nil {
            while true {
                // Group commit: while a burst is still being classified, wait for a full batch, so
                // that a burst costs one transaction (and one fsync) per `maxBatch` records, not
                // one per classification round. A lone record is stored at once. Each classified
                // round, and the end of classifying, wakes the writer to look again.
                while accepted.count < maxBatch, classifying.load(ordering: .acquiring) {
                    if await wakes.next() == nil { break }
                }
                let batch = accepted.take(maxBatch)
                if batch.isEmpty { break }
                writing.store(true, ordering: .releasing)
                await store(batch)
                writing.store(false, ordering: .releasing)
            }
        }
    }

    private func store(_ batch: [Accepted]) async {
        let outcomes: [StoreOutcome]
        do {
            outcomes = try await storeHoldingThroughOutages(batch.map(\.accepted))
        } catch let error as AggregatorStoreError where error.isOutage {
            // Only when stopping with the store still away: these records were acknowledged to the broker and are lost here.
            metrics.count("unstored", count: batch.count)
            logger.critical("stopping while the store is unavailable: records not stored", metadata: [
                "records": "\(batch.count)", "first": "\(batch[0].topic) #\(batch[0].accepted.message.sequence)", "error": "\(error)"])
            return
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
        // Counted once per batch and outcome: a registry lookup per record was measurable.
        var stored = 0, duplicates = 0
        for (item, outcome) in zip(batch, outcomes) {
            switch outcome {
            case .stored(let chain):
                stored += 1
                if chain == .broken {
                    metrics.count("chain_broken")
                    logger.warning("hash chain broken", metadata: ["topic": "\(item.topic)", "sequence": "\(item.accepted.message.sequence)"])
                }
            case .duplicate:
                duplicates += 1
                logger.debug("duplicate record ignored", metadata: ["topic": "\(item.topic)", "sequence": "\(item.accepted.message.sequence)"])
            case .conflict(let reason):
                metrics.count("conflict")
                logger.warning("conflicting record kept aside", metadata: ["topic": "\(item.topic)", "reason": "\(reason)"])
            }
        }
        if stored > 0 { metrics.count("stored", count: stored) }
        if duplicates > 0 { metrics.count("duplicate", count: duplicates) }
    }
}

/// Items between two stages. The producer never waits; the consumer wakes when something was
/// appended and takes whatever has queued up (a burst becomes one round or one transaction).
final class WorkQueue<Item: Sendable>: Sendable {
    /// The queued items from `head` on; taken ones are dropped in bulk, not shifted out per take
    /// (a burst of 10,000 taken 64 at a time would otherwise move the rest 150 times).
    private struct Items {
        var storage: [Item] = []
        var head = 0
        var count: Int { storage.count - head }
    }
    private let items = Mutex(Items())
    let wake: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        // One pending wake-up is enough: the consumer drains everything each time it wakes.
        (wake, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func append(_ item: Item) {
        items.withLock { $0.storage.append(item) }
        continuation.yield()
    }

    func append(contentsOf newItems: [Item]) {
        guard !newItems.isEmpty else { return }
        items.withLock { $0.storage.append(contentsOf: newItems) }
        continuation.yield()
    }

    func take(_ limit: Int) -> [Item] {
        items.withLock { items in
            let end = min(items.storage.count, items.head + limit)
            let batch = Array(items.storage[items.head..<end])
            items.head = end
            if items.head == items.storage.count {
                items.storage.removeAll(keepingCapacity: items.storage.count <= 4096) // a burst's buffer is given back
                items.head = 0
            } else if items.head >= 4096, items.head * 2 >= items.storage.count {
                items.storage.removeFirst(items.head)
                items.head = 0
            }
            return batch
        }
    }

    var count: Int { items.withLock { $0.count } }

    /// Wakes the consumer without an item (it re-checks its conditions).
    func wakeUp() { continuation.yield() }

    func finish() { continuation.finish() }
}
