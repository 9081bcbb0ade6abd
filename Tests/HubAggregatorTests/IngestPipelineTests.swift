import Foundation
import GRDB
import HubAggregator
import HubContract
import HubDomain
import Logging
import Synchronization
import Testing

/// The ingest path after the broker: classification of rounds on concurrent tasks, storage in arrival order.
@Suite("Aggregator ingest pipeline")
struct IngestPipelineTests {
    @Test(arguments: StoreBackend.allCases)
    func parallelClassificationKeepsArrivalOrderAndLosesNothing(backend: StoreBackend) async throws {
        let messages = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 300))
        let variants = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 300, pvW: 4000))
        var payloads = messages.map(\.payload)
        let malformed = Array(#"{"schema": "hubmeter.interval/v1", "#.utf8)
        // 40 malformed messages spread over the first five rounds of 64.
        for index in stride(from: 3, to: 40 * 8, by: 8) { payloads.insert(malformed, at: index) }
        // Same hub and interval as sequence 150 (in the third round of 64, of valid records) with
        // other content, arriving first in the fourth round, whose other 63 messages are malformed.
        // The fourth round is classified at the same time as the third, on another task, and done
        // long before it: the record that arrived first must still be the one stored, the later
        // one the conflict (handling rounds as they finish, tried, fails here).
        #expect((128..<192).contains(try #require(payloads.firstIndex(of: messages[149].payload))))
        payloads.insert(contentsOf: [variants[149].payload] + Array(repeating: malformed, count: 63), at: 192)
        payloads.insert(messages[10].payload, at: 400)
        #expect(payloads.count == 405)

        try await backend.withStore { store, _ in
            let metrics = AggregatorMetrics()
            var logger = Logger(label: "test.ingest")
            logger.logLevel = .critical
            let pipeline = IngestPipeline(
                ingest: IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 64 << 10, schemas: try AggregatorFixtures.schemas()),
                store: store, metrics: metrics, logger: logger, clock: { AggregatorFixtures.start }, maxBatch: 50, classifiers: 4)
            for payload in payloads { pipeline.submit(topic: AggregatorFixtures.topic(), payload: payload) }
            pipeline.finish()
            await pipeline.run()

            let counts = metrics.snapshot
            #expect(counts["stored"] == 300, "\(counts)")
            #expect(counts["duplicate"] == 1, "\(counts)")
            #expect(counts["conflict"] == 1, "\(counts)")
            #expect(counts["rejected.malformed"] == 103, "\(counts)")
            #expect(counts["chain_broken"] == nil, "\(counts)")
            #expect(pipeline.depth == 0)
            #expect(try await store.rejectionCounts()["malformed"] == 103)

            let stored = try await store.intervals(hub: "park-a", from: AggregatorFixtures.start,
                                                   to: AggregatorFixtures.start.adding(milliseconds: 301 * UTCMilliseconds.quarterHourMs))
            #expect(stored.map(\.sequence) == Array(1...300))
            #expect(stored.allSatisfy { $0.chain == .linked })
            #expect(stored[149].hash == messages[149].hash)
            let conflicts = try await store.conflicts(hub: "park-a")
            #expect(conflicts.map(\.sequence) == [150])
        }
    }

    /// A burst is stored in full batches (one transaction, one fsync per `maxBatch`), not one per
    /// classification round; a lone record is stored at once, without waiting for company.
    @Test func aBurstIsStoredInFullBatchesAndALoneRecordAtOnce() async throws {
        let template = try AggregatorFixtures.records(count: 96)
        let messages = try AggregatorFixtures.messages(AggregatorFixtures.shifted(template, count: 1001, from: AggregatorFixtures.start))
        let directory = try AggregatorFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = BatchRecordingStore(try SQLiteAggregatorStore(path: directory + "/aggregator.sqlite"))
        var logger = Logger(label: "test.ingest")
        logger.logLevel = .critical
        let ingest = IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 64 << 10, schemas: try AggregatorFixtures.schemas())

        let burst = IngestPipeline(ingest: ingest, store: store, metrics: AggregatorMetrics(), logger: logger,
                                   clock: { AggregatorFixtures.start }, maxBatch: 500, classifiers: 1)
        for message in messages.prefix(1000) { burst.submit(topic: AggregatorFixtures.topic(), payload: message.payload) }
        burst.finish()
        await burst.run()
        #expect(store.batches.withLock { $0 } == [500, 500])

        // A running pipeline that gets one record stores it without waiting for a batch to fill.
        let lone = IngestPipeline(ingest: ingest, store: store, metrics: AggregatorMetrics(), logger: logger,
                                  clock: { AggregatorFixtures.start }, maxBatch: 500, classifiers: 1)
        let running = Task { await lone.run() }
        lone.submit(topic: AggregatorFixtures.topic(), payload: messages[1000].payload)
        let deadline = ContinuousClock.now + .seconds(10)
        while store.batches.withLock({ $0.count }) < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(store.batches.withLock { $0 } == [500, 500, 1])
        lone.finish()
        await running.value
        #expect(try await store.sequenceGaps(hub: "park-a").isEmpty)
        #expect(try await store.hubs().first?.records == 1001)
    }
}

extension IngestPipelineTests {
    /// The store goes away while records arrive: another connection holds SQLite's write lock past
    /// the store's busy timeout; PostgreSQL's database turns read-only. The records are held and stored once it is back: none is lost or given up, and the
    /// outage is reported once (metrics, the flag /health reads), not once per try.
    @Test(arguments: StoreBackend.allCases)
    func anOutageOfTheStoreLosesNoRecord(backend: StoreBackend) async throws {
        switch backend {
        case .sqlite:
            let directory = try AggregatorFixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/aggregator.sqlite"
            let store = try SQLiteAggregatorStore(path: path, busyTimeout: .milliseconds(100))
            var configuration = Configuration()
            configuration.allowsUnsafeTransactions = true
            let other = try DatabaseQueue(path: path, configuration: configuration)
            try await Self.outage(store: store,
                                  takeAway: { try await other.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") } },
                                  bringBack: { try await other.writeWithoutTransaction { try $0.execute(sql: "COMMIT") } })
        case .postgres:
            let server = try PostgresTestServer()
            let database = try await server.createDatabase()
            let store = try await PostgresAggregatorStore.open(server.settings(database: database), logger: server.logger)
            // Sessions keep the settings they started with: new ones get the database's.
            let endSessions = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)'"
            do {
                try await Self.outage(
                    store: store,
                    // As after a failover to a standby, or during maintenance: sessions are read-only.
                    takeAway: { try await server.administer(["ALTER DATABASE \(database) SET default_transaction_read_only = on", endSessions]) },
                    bringBack: { try await server.administer(["ALTER DATABASE \(database) RESET default_transaction_read_only", endSessions]) })
            } catch {
                await store.close()
                try? await server.dropDatabase(database)
                throw error
            }
            await store.close()
            try await server.dropDatabase(database)
        }
    }

    static func outage(store: any AggregatorStore, takeAway: () async throws -> Void, bringBack: () async throws -> Void) async throws {
        let messages = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 40))
        let metrics = AggregatorMetrics()
        var logger = Logger(label: "test.ingest")
        logger.logLevel = .critical
        let pipeline = IngestPipeline(
            ingest: IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 64 << 10, schemas: try AggregatorFixtures.schemas()),
            store: store, metrics: metrics, logger: logger, clock: { AggregatorFixtures.start }, maxBatch: 500, classifiers: 1,
            outageRetry: (first: .milliseconds(50), last: .milliseconds(200)))
        let running = Task { await pipeline.run() }
        func waitFor(_ what: String, _ condition: () -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(90)
            while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(condition(), "\(what) within 90 s: \(metrics.snapshot)")
        }
        for message in messages.prefix(10) { pipeline.submit(topic: AggregatorFixtures.topic(), payload: message.payload) }
        try await waitFor("the first 10 stored") { metrics.snapshot["stored"] == 10 }

        try await takeAway()
        for message in messages.dropFirst(10) { pipeline.submit(topic: AggregatorFixtures.topic(), payload: message.payload) }
        try await waitFor("the outage noticed") { !pipeline.storeIsReachable }
        try await Task.sleep(for: .seconds(1)) // several more tries
        #expect(metrics.snapshot["store_outage"] == 1, "\(metrics.snapshot)")
        #expect(metrics.snapshot["stored"] == 10)
        #expect(!pipeline.storeIsReachable)

        try await bringBack()
        try await waitFor("the held 30 stored") { metrics.snapshot["stored"] == 40 }
        #expect(pipeline.storeIsReachable)
        pipeline.finish()
        await running.value
        let counts = metrics.snapshot
        #expect(counts["store_failed"] == nil && counts["unstored"] == nil && counts["store_outage"] == 1, "\(counts)")
        let exposition = metrics.prometheusText().split(separator: "\n")
        #expect(exposition.contains { $0.hasPrefix("hubmeter_aggregator_store_outages_total 1") }, "\(exposition)")
        #expect(exposition.contains { $0.hasPrefix("hubmeter_aggregator_store_available 1") }, "\(exposition)")
        #expect(try await store.hubs().first?.records == 40)
        #expect(try await store.sequenceGaps(hub: "park-a").isEmpty)
    }
}

/// A real SQLite store that records the size of every `store` call (one call, one transaction).
final class BatchRecordingStore: AggregatorStore {
    let base: SQLiteAggregatorStore
    let batches = Mutex<[Int]>([])
    init(_ base: SQLiteAggregatorStore) { self.base = base }
    func store(_ records: [AcceptedInterval]) async throws -> [StoreOutcome] {
        batches.withLock { $0.append(records.count) }
        return try await base.store(records)
    }
    func recordStatus(hub: String, status: StatusMessage, at: UTCMilliseconds) async throws { try await base.recordStatus(hub: hub, status: status, at: at) }
    func recordRejection(_ rejection: Rejection, at: UTCMilliseconds) async throws { try await base.recordRejection(rejection, at: at) }
    func hubs() async throws -> [StoredHub] { try await base.hubs() }
    func sums(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> RangeSums { try await base.sums(hub: hub, from: from, to: to) }
    func daily(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [DailySums] { try await base.daily(hub: hub, from: from, to: to) }
    func intervals(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [StoredInterval] {
        try await base.intervals(hub: hub, from: from, to: to)
    }
    func intervalGaps(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [IntervalGap] {
        try await base.intervalGaps(hub: hub, from: from, to: to)
    }
    func sequenceGaps(hub: String) async throws -> [SequenceGap] { try await base.sequenceGaps(hub: hub) }
    func conflicts(hub: String?) async throws -> [StoredConflict] { try await base.conflicts(hub: hub) }
    func rejectionCounts() async throws -> [String: Int] { try await base.rejectionCounts() }
    func payload(hub: String, sequence: Int64) async throws -> [UInt8]? { try await base.payload(hub: hub, sequence: sequence) }
    // No `prepare`: these records reach `store` unprepared, and the SQLite store compresses them itself.
}
