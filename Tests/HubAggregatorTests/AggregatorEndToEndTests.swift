import ConfigReading
import Foundation
import HubAggregator
import HubConfiguration
import HubContract
import HubDomain
import HubSupport
import Logging
import MQTTIO
import ServiceLifecycle
import TestSupport
import Testing
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Real parts: mosquitto, two aggregator instances sharing one MQTT 5 subscription and one database
/// (an SQLite file, or a PostgreSQL database), the Hummingbird server on loopback.
@Suite("Aggregator end to end", .serialized)
struct AggregatorEndToEndTests {
    static let auditorToken = "auditor-secret-token"
    static let teamBToken = "park-b-team-token"

    static func configuration(brokerPort: Int, httpPort: Int, database: String, clientID: String) throws -> AggregatorConfiguration {
        let text = """
            region: { id: west, name: West Region }
            mqtt: { host: 127.0.0.1, port: \(brokerPort), client_id: \(clientID), share_group: aggregators }
            storage: { backend: sqlite, path: \(database) }
            http: { listen: "127.0.0.1:\(httpPort)" }
            hubs:
              - { id: park-a, name: Park A, location: Enter }
              - { id: park-b, name: Park B }
            tokens:
              - { name: regional auditor, role: auditor, sha256: \(SHA256.hex(auditorToken)) }
              - { name: park-b team, role: hub_team, hub: park-b, sha256: \(SHA256.hex(teamBToken)) }
            ingest: { max_message_size: 64KiB }
            logging: { level: error, format: plain }
            """
        return try AggregatorConfiguration.parse(text, file: "test.yaml", environment: SecretEnvironment.process([:]))
    }

    /// A GET with a bearer token or HTTP Basic credentials (TestSupport.httpGet underneath).
    static func get(_ port: Int, _ path: String, token: String? = nil, basic: String? = nil) throws -> (status: Int, body: String) {
        var headers: [String: String] = [:]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        if let basic { headers["Authorization"] = "Basic \(Data(basic.utf8).base64EncodedString())" }
        return try httpGet(port: port, path: path, headers: headers)
    }

    static func waitUntil(_ timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("condition not met within \(timeout)")
    }

    static func storedCount(_ metrics: String) -> Int {
        metrics.split(separator: "\n").filter { $0.hasPrefix("hubmeter_aggregator_messages_total{outcome=\"stored\"}") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) }.reduce(0, +)
    }

    /// Two instances, each with its own store on one database (SQLite file or PostgreSQL database).
    @Test(.timeLimit(.minutes(2)), arguments: StoreBackend.allCases)
    func twoInstancesIngestOverMosquittoAndServeTheAudit(backend: StoreBackend) async throws {
        try await backend.withStore { store, openAnother in
            try await twoInstancesIngestOverMosquittoAndServeTheAudit(store: store, instances: [try await openAnother(), try await openAnother()])
        }
    }

    func twoInstancesIngestOverMosquittoAndServeTheAudit(store: any AggregatorStore, instances: [any AggregatorStore]) async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try RepositoryPaths.makeTemporaryDirectory("aggregator-e2e")
        let database = directory + "/aggregator.sqlite" // in the configuration only: the stores are handed in
        let ports = (try freePort(), try freePort())
        let loggers = LoggerFactory(level: .error, format: .plain, sink: .standardError)
        let first = try Self.configuration(brokerPort: broker.port, httpPort: ports.0, database: database, clientID: "agg-1")
        let second = try Self.configuration(brokerPort: broker.port, httpPort: ports.1, database: database, clientID: "agg-2")
        let schemas = try AggregatorFixtures.schemas()
        let groups = try zip([first, second], instances).map { configuration, instanceStore in
            try AggregatorDaemon.makeServices(configuration: configuration, store: instanceStore,
                                              loggers: loggers, clock: AggregatorDaemon.systemClock, schemas: schemas)
        }
        let running = groups.map { group in Task { try await group.run() } }
        defer {
            for task in running { task.cancel() }
        }
        for port in [ports.0, ports.1] {
            try await Self.waitUntil { try Self.get(port, "/health").status == 200 }
        }

        // What the hub publishes: 10 chained records, sequence 3 lost; 1 and 2 replayed (same bytes);
        // a different record for sequence 5; a malformed, an oversized and a spoofed message.
        let messages = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 10))
        let different = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 10, pvW: 4000))
        var outgoing: [MQTTMessage] = messages.enumerated().filter { $0.offset != 2 }.map {
            MQTTMessage(topic: AggregatorFixtures.topic(), payload: $0.element.payload, qos: 1)
        }
        outgoing += [messages[0], messages[1], different[4]].map { MQTTMessage(topic: AggregatorFixtures.topic(), payload: $0.payload, qos: 1) }
        outgoing.append(MQTTMessage(topic: AggregatorFixtures.topic(), payload: Array("{\"schema\":".utf8), qos: 1))
        outgoing.append(MQTTMessage(topic: AggregatorFixtures.topic(), payload: Array(repeating: UInt8(ascii: "x"), count: 80_000), qos: 1))
        outgoing.append(MQTTMessage(topic: AggregatorFixtures.topic("park-b"), payload: messages[9].payload, qos: 1))
        let status = StatusMessage(hub: "park-a", state: "online", version: "test", configurationHash: "unknown", startedAt: "2026-03-01T00:00:00.000Z")
        outgoing.append(MQTTMessage(topic: "hubmeter/v1/park-a/status", payload: try MessageEncoding.encode(status), qos: 1, retain: false))

        let publisher = try MQTTClient(options: .init(clientID: "test-hub-publisher"))
        defer { publisher.stop() }
        try publisher.start(host: "127.0.0.1", port: broker.port)
        for message in outgoing {
            try await Self.waitUntil(.seconds(10)) { (try? publisher.publish(message)) != nil }
        }

        try await Self.waitUntil {
            let rejected = try await store.rejectionCounts().values.reduce(0, +)
            let conflicts = try await store.conflicts(hub: nil).count
            let received = try await store.sums(hub: "park-a", from: AggregatorFixtures.start, to: AggregatorDaemon.systemClock()).receivedIntervals
            let status = try await store.hubs().first { $0.hub == "park-a" }?.lastStatus
            return rejected == 3 && conflicts == 1 && received == 9 && status == "online"
        }
        try await Task.sleep(for: .milliseconds(300)) // nothing more may arrive
        #expect(try await store.sums(hub: "park-a", from: AggregatorFixtures.start, to: AggregatorDaemon.systemClock()).receivedIntervals == 9)
        #expect(try await store.rejectionCounts() == ["malformed": 1, "oversized": 1, "hub_mismatch": 1])
        #expect(try await store.sequenceGaps(hub: "park-a") == [SequenceGap(first: 3, last: 3)])
        #expect(try await store.hubs().first { $0.hub == "park-b" }?.records ?? 0 == 0)

        // Both instances took part, and no record was counted by both.
        let stored = try [ports.0, ports.1].map { Self.storedCount(try Self.get($0, "/metrics").body) }
        #expect(stored.reduce(0, +) == 9)
        #expect(stored.allSatisfy { $0 > 0 }, "shared subscription split: \(stored)")

        // The API, with roles.
        let port = ports.0
        #expect(try Self.get(port, "/api/v1/locations").status == 401)
        #expect(try Self.get(port, "/api/v1/locations", token: "wrong").status == 401)
        let all = try Self.get(port, "/api/v1/locations", token: Self.auditorToken)
        #expect(all.status == 200 && all.body.contains("\"park-a\"") && all.body.contains("\"park-b\""))
        let own = try Self.get(port, "/api/v1/locations", token: Self.teamBToken)
        #expect(own.status == 200 && !own.body.contains("\"park-a\"") && own.body.contains("\"park-b\""))
        #expect(try Self.get(port, "/api/v1/locations/park-a/kpis?from=2026-03-01&to=2026-03-02", token: Self.teamBToken).status == 403)
        #expect(try Self.get(port, "/api/v1/locations/park-b/kpis?from=2026-03-01&to=2026-03-02", token: Self.teamBToken).status == 200)

        let kpis = try Self.get(port, "/api/v1/locations/park-a/kpis?from=2026-03-01&to=2026-03-02", token: Self.auditorToken)
        #expect(kpis.status == 200)
        let report = try JSONDecoder().decode(LocationReport.self, from: Data(kpis.body.utf8))
        // 9 intervals: SS = 1 − (9 × 250)/(9 × 1000) = 0.75 (see AggregatorFixtures).
        #expect(abs((report.selfSufficiency.value ?? -1) - 0.75) < 1e-4)
        #expect(report.coverage.expectedIntervals == 96 && report.coverage.receivedIntervals == 9)
        #expect(report.coverage.gaps.first == IntervalGap(from: AggregatorFixtures.start.adding(milliseconds: 2 * UTCMilliseconds.quarterHourMs),
                                                          to: AggregatorFixtures.start.adding(milliseconds: 3 * UTCMilliseconds.quarterHourMs)))
        #expect(report.chain.open == 1 && report.chain.broken == 0 && report.chain.linked == 8)

        let gaps = try Self.get(port, "/api/v1/locations/park-a/gaps?from=2026-03-01&to=2026-03-02", token: Self.auditorToken)
        #expect(gaps.status == 200 && gaps.body.contains("\"sequenceGaps\":[{\"first\":3,\"last\":3}]"))
        let conflicts = try Self.get(port, "/api/v1/conflicts", token: Self.auditorToken)
        #expect(conflicts.status == 200 && conflicts.body.contains("\"sequence\":5"))
        #expect(try Self.get(port, "/api/v1/conflicts", token: Self.teamBToken).body.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let csv = try Self.get(port, "/api/v1/locations/park-a/intervals.csv?from=2026-03-01&to=2026-03-02", token: Self.auditorToken)
        #expect(csv.status == 200)
        #expect(csv.body.split(separator: "\n").count == 1 + 9)
        let intervals = try Self.get(port, "/api/v1/locations/park-a/intervals?from=2026-03-01&to=2026-03-02", token: Self.auditorToken)
        #expect(intervals.status == 200 && intervals.body.contains("\"sequence\":10"))
        // Each record exactly as the hub published it (through the pipeline; compressed in SQLite):
        // sequence 5 is the first of the two records that claimed it, the other is the conflict.
        for (sequence, message) in [(1, messages[0]), (5, messages[4]), (10, messages[9])] {
            let record = try Self.get(port, "/api/v1/locations/park-a/records/\(sequence)", token: Self.auditorToken)
            #expect(record.status == 200 && Array(record.body.utf8) == message.payload, "record \(sequence): \(record.status)")
        }
        #expect(try Self.get(port, "/api/v1/locations/park-a/records/3", token: Self.auditorToken).status == 404) // lost on the way
        #expect(try Self.get(port, "/api/v1/locations/park-a/records/three", token: Self.auditorToken).status == 400)
        #expect(try Self.get(port, "/api/v1/locations/park-a/records/1", token: Self.teamBToken).status == 403)

        // The pages: a browser sends the token as the Basic password; no script, inline SVG.
        let page = try Self.get(port, "/locations/park-a?from=2026-03-01&to=2026-03-02", basic: "auditor:\(Self.auditorToken)")
        #expect(page.status == 200)
        #expect(page.body.contains("<span class=\"ss\">75.0 %</span>"))
        #expect(page.body.contains("<svg") && !page.body.contains("<script"))
        #expect(page.body.contains("Missing sequence numbers: 3"))
        #expect(try Self.get(port, "/locations/park-a").status == 401)
        let overview = try Self.get(port, "/", basic: "auditor:\(Self.auditorToken)")
        #expect(overview.status == 200 && overview.body.contains("Park A (Enter)") && overview.body.contains("West Region"))

        for group in groups { await group.triggerGracefulShutdown() }
        for task in running { try await task.value }
    }
}
