import HubContract
import Foundation
import HubAgent
import HubDomain
import HubSupport
import Logging
import MQTTIO
import Synchronization
import Testing
import TestSupport

/// The outbox reaches a real broker in order, survives a broker outage, and is emptied only by acknowledgements.
@Suite struct MQTTLinkTests {
    final class Received: Sendable {
        private let messages = Mutex<[MQTTMessage]>([])
        func append(_ message: MQTTMessage) { messages.withLock { $0.append(message) } }
        var all: [MQTTMessage] { messages.withLock { $0 } }
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw TestSupportError("\(what): not within \(timeout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func intervalsArriveInOrderAcrossABrokerOutage() async throws {
        let broker = try await MosquittoBroker(persistent: true)
        defer { broker.stop() }
        let topics = Topics(hub: "test-hub")

        // The aggregator's side: a persistent session, so the broker queues for it while it is away.
        var subscriberOptions = MQTTClient.Options(clientID: "test-aggregator")
        subscriberOptions.protocolVersion = .v311
        subscriberOptions.cleanStart = false
        subscriberOptions.reconnectDelayMax = .seconds(1)
        let subscriber = try MQTTClient(options: subscriberOptions)
        defer { subscriber.stop() }
        let received = Received()
        let subscribed = Mutex(false)
        let subscriberTask = Task {
            for await event in subscriber.events {
                switch event {
                case .message(let message): received.append(message)
                case .subscribed: subscribed.withLock { $0 = true }
                default: break
                }
            }
        }
        defer { subscriberTask.cancel() }
        try subscriber.start(host: "127.0.0.1", port: broker.port)
        try await Self.waitUntil("subscriber connects") { (try? subscriber.subscribe(topics.interval, qos: 1)) != nil }
        try await Self.waitUntil("subscription acknowledged") { subscribed.withLock { $0 } }

        let records = try RecordFixtures.records(count: 5)
        let store = try AgentStore(path: try RepositoryPaths.makeTemporaryDirectory("link") + "/agent.sqlite")
        func commit(_ slice: ArraySlice<IntervalRecord>) throws {
            let batch = Array(slice)
            try store.commitIntervals(hub: "test-hub", recordIDs: batch.map(\.id), topic: topics.interval, snapshot: nil,
                                      now: UTCTimestamp.now()) { index, sequence, previous in
                try IntervalMessage.make(record: batch[index], sequence: sequence, previousHash: previous,
                                         kpiDefinitions: KPIDefinitions.version, agentVersion: "test")
            }
        }
        try commit(records[0..<2])

        var agentOptions = MQTTClient.Options(clientID: "hubmeter-test-hub")
        agentOptions.reconnectDelayMax = .seconds(1)
        let agentClient = try MQTTClient(options: agentOptions)
        defer { agentClient.stop() }
        let link = MQTTLink(client: agentClient, store: store, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, birth: nil)
        let linkTask = Task { await link.run() }
        defer { linkTask.cancel() }
        try agentClient.start(host: "127.0.0.1", port: broker.port)
        try await Self.waitUntil("first two records acknowledged") { try store.statistics().count.isEmpty }

        // The broker goes away; three more quarter hours are settled meanwhile.
        broker.stop()
        try commit(records[2..<5])
        try await Task.sleep(for: .milliseconds(500))
        #expect(try store.statistics().count == [.interval: 3])
        try await broker.start()
        try await Self.waitUntil("outbox drained after the outage") { try store.statistics().count.isEmpty }
        try await Self.waitUntil("all five records at the subscriber (got \(received.all.count) messages)") { Set(received.all.compactMap { try? IntervalMessage.parse($0.payload).0.sequence }).count == 5 }

        // Every record arrived, in order, and repeats (allowed after a reconnect) are byte-identical.
        let parsed = try received.all.map { try IntervalMessage.parse($0.payload).0 }
        var firstBySequence: [Int64: IntervalMessage] = [:]
        var order: [Int64] = []
        for message in parsed {
            if let earlier = firstBySequence[message.sequence] {
                #expect(earlier == message)
            } else {
                firstBySequence[message.sequence] = message
                order.append(message.sequence)
            }
        }
        #expect(order == [1, 2, 3, 4, 5])
        for sequence in 2...5 {
            #expect(firstBySequence[Int64(sequence)]?.previousHash == firstBySequence[Int64(sequence - 1)]?.hash)
        }
        #expect(firstBySequence[1]?.recordID == records[0].id)
        let counters = await link.counters
        #expect(counters.outboxAcknowledged == 5)
        #expect(counters.connects == 2)
    }
}
