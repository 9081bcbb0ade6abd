import Foundation
import HubAggregator
import HubContract
import HubSupport
import MQTTIO
import TestSupport
import Testing
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The real `hubmeter aggregator` process.
@Suite("hubmeter aggregator command", .serialized)
struct AggregatorCommandTests {
    /// The password of the PostgreSQL configuration: trust authentication ignores it, and it must
    /// never appear in the output.
    static let postgresPassword = "pg-secret-never-logged-4711"

    @Test(.timeLimit(.minutes(1)), arguments: StoreBackend.allCases)
    func runsIngestsServesAndStopsOnSIGTERM(backend: StoreBackend) async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try RepositoryPaths.makeTemporaryDirectory("aggregator-command")
        let httpPort = try freePort()
        let file = directory + "/aggregator.yaml"
        var environment = ProcessInfo.processInfo.environment
        let storage: String
        var dropDatabase: (@Sendable () async throws -> Void)?
        switch backend {
        case .sqlite:
            storage = "{ backend: sqlite, path: \(directory)/data/aggregator.sqlite }"
        case .postgres:
            let server = try PostgresTestServer()
            let database = try await server.createDatabase()
            dropDatabase = { try await server.dropDatabase(database) }
            environment["HUBMETER_TEST_PG_PASSWORD"] = Self.postgresPassword
            storage = "{ backend: postgres, host: \(server.host), port: \(server.port), database: \(database), user: \(server.user), "
                + "password_env: HUBMETER_TEST_PG_PASSWORD, tls: disable }"
        }
        try """
            region: { id: west }
            mqtt: { host: 127.0.0.1, port: \(broker.port), client_id: agg-process }
            storage: \(storage)
            http: { listen: "127.0.0.1:\(httpPort)" }
            tokens:
              - { name: auditor, role: auditor, sha256: \(SHA256.hex("t0ken")) }
            logging: { level: debug, format: plain }
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let process = try ChildProcess(executable: RepositoryPaths.hubmeterBinary, arguments: ["aggregator", "--config", file],
                                       environment: environment)
        defer { process.stop(signal: SIGKILL) }
        try await AggregatorEndToEndTests.waitUntil { try AggregatorEndToEndTests.get(httpPort, "/health").status == 200 }

        let publisher = try MQTTClient(options: .init(clientID: "command-test-publisher"))
        defer { publisher.stop() }
        try publisher.start(host: "127.0.0.1", port: broker.port)
        let messages = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 3))
        for message in messages {
            try await AggregatorEndToEndTests.waitUntil(.seconds(10)) {
                (try? publisher.publish(MQTTMessage(topic: AggregatorFixtures.topic(), payload: message.payload, qos: 1))) != nil
            }
        }
        try await AggregatorEndToEndTests.waitUntil {
            try AggregatorEndToEndTests.get(httpPort, "/api/v1/locations/park-a/intervals.csv?from=2026-03-01&to=2026-03-02", token: "t0ken")
                .body.split(separator: "\n").count == 4
        }
        process.stop(signal: SIGTERM, grace: .seconds(10))
        #expect(process.poll() == 0, "\(process.output)")
        #expect(process.output.contains("aggregator starting"))
        #expect(!process.output.contains(Self.postgresPassword))
        if backend == .postgres {
            #expect(process.output.contains("opening the store storage=\"postgres "))
        }
        try await dropDatabase?()
    }
}
