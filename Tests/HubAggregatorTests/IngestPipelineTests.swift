import Foundation
import HubAggregator
import HubContract
import HubDomain
import Logging
import Testing

/// The ingest path after the broker: classification in parallel slices, storage in arrival order.
@Suite("Aggregator ingest pipeline")
struct IngestPipelineTests {
    @Test(arguments: StoreBackend.allCases)
    func parallelClassificationKeepsArrivalOrderAndLosesNothing(backend: StoreBackend) async throws {
        let messages = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 300))
        let variants = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 300, pvW: 4000))
        var payloads = messages.map(\.payload)
        // 40 malformed messages spread over both rounds of 256.
        for index in stride(from: 3, to: 40 * 8, by: 8) { payloads.insert(Array(#"{"schema": "hubmeter.interval/v1", "#.utf8), at: index) }
        // Same hub and interval as sequence 150 (in the first round of 256) with other content,
        // arriving later in the same round (another slice): the record that arrived first must be
        // the one stored, the later one the conflict.
        #expect((128..<192).contains(try #require(payloads.firstIndex(of: messages[149].payload))))
        payloads.insert(variants[149].payload, at: 240)
        payloads.insert(messages[10].payload, at: 300)
        #expect(payloads.count == 342)

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
            #expect(counts["rejected.malformed"] == 40, "\(counts)")
            #expect(counts["chain_broken"] == nil, "\(counts)")
            #expect(pipeline.depth == 0)
            #expect(try await store.rejectionCounts()["malformed"] == 40)

            let stored = try await store.intervals(hub: "park-a", from: AggregatorFixtures.start,
                                                   to: AggregatorFixtures.start.adding(milliseconds: 301 * UTCMilliseconds.quarterHourMs))
            #expect(stored.map(\.sequence) == Array(1...300))
            #expect(stored.allSatisfy { $0.chain == .linked })
            #expect(stored[149].hash == messages[149].hash)
            let conflicts = try await store.conflicts(hub: "park-a")
            #expect(conflicts.map(\.sequence) == [150])
        }
    }
}
