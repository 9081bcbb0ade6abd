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

/// The real `hubmeter aggregator` process under a stand-in for systemd's notify socket:
/// READY, WATCHDOG at half of WATCHDOG_USEC, SIGHUP reloads, STOPPING and exit 0 on SIGTERM.
@Suite("hubmeter aggregator lifecycle", .serialized)
struct AggregatorLifecycleTests {
    static func configuration(brokerPort: Int, httpPort: Int, directory: String, tokens: [String], level: String = "info",
                              sha256: (String) -> String = { SHA256.hex($0) }) -> String {
        """
        region: { id: west }
        mqtt: { host: 127.0.0.1, port: \(brokerPort), client_id: agg-lifecycle }
        storage: { backend: sqlite, path: \(directory)/data/aggregator.sqlite }
        http: { listen: "127.0.0.1:\(httpPort)" }
        tokens:
        \(tokens.enumerated().map { "  - { name: holder-\($0.offset), role: auditor, sha256: \(sha256($0.element)) }" }.joined(separator: "\n"))
        logging: { level: \(level), format: plain }

        """
    }

    static func status(_ port: Int, token: String) -> Int {
        (try? AggregatorEndToEndTests.get(port, "/api/v1/locations", token: token).status) ?? -1
    }

    @Test(.timeLimit(.minutes(2)))
    func sighupReloadsTokensRefusesBrokenFilesAndSIGTERMStops() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try RepositoryPaths.makeTemporaryDirectory("aggregator-lifecycle")
        let httpPort = try freePort()
        let file = directory + "/aggregator.yaml"
        func write(_ text: String) throws { try text.write(toFile: file, atomically: true, encoding: .utf8) }
        try write(Self.configuration(brokerPort: broker.port, httpPort: httpPort, directory: directory, tokens: ["old-token"]))

        let notify = try NotifySocket()
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "400000" // pings every 200 ms
        environment.removeValue(forKey: "JOURNAL_STREAM")
        let process = try ChildProcess(executable: RepositoryPaths.hubmeterBinary, arguments: ["aggregator", "--config", file],
                                       environment: environment)
        defer { process.stop(signal: SIGKILL) }

        // READY once the HTTP server listens, then WATCHDOG=1 at half of WATCHDOG_USEC.
        let startup = notify.receive { $0 == "WATCHDOG=1" }
        #expect(startup.contains { $0.hasPrefix("READY=1") }, "\(startup) \(process.output)")
        let pingStart = ContinuousClock.now
        let pings = notify.receive(until: { _ in false }, timeout: .milliseconds(1100)).filter { $0 == "WATCHDOG=1" }.count
        #expect((3...7).contains(pings), "\(pings) pings in \(ContinuousClock.now - pingStart)")

        try await AggregatorEndToEndTests.waitUntil { Self.status(httpPort, token: "old-token") == 200 }
        #expect(Self.status(httpPort, token: "new-token") == 401)

        // The process validates against the schema files it found next to the binary: a record
        // with a negative tolerance is rejected with its place in the log.
        let publisher = try MQTTClient(options: .init(clientID: "lifecycle-publisher"))
        defer { publisher.stop() }
        try publisher.start(host: "127.0.0.1", port: broker.port)
        let record = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 1))[0].payload
        let broken = try SchemaValidationTests.mutate(record, ["record", "toleranceWh"], -3)
        try await AggregatorEndToEndTests.waitUntil(.seconds(10)) {
            (try? publisher.publish(MQTTMessage(topic: AggregatorFixtures.topic(), payload: broken, qos: 1))) != nil
        }
        try await AggregatorEndToEndTests.waitUntil { process.output.contains("message rejected") }
        #expect(process.output.contains("reason=schema_violation"))
        #expect(process.output.contains("detail=\"/record/toleranceWh: expected number ≥ 0, got -3\""), "\(process.output.suffix(1500))")

        // A new token file: after SIGHUP the new token is valid and the old one is not.
        try write(Self.configuration(brokerPort: broker.port, httpPort: httpPort, directory: directory, tokens: ["new-token"], level: "debug"))
        process.send(signal: SIGHUP)
        try await AggregatorEndToEndTests.waitUntil { Self.status(httpPort, token: "new-token") == 200 }
        #expect(Self.status(httpPort, token: "old-token") == 401)
        try await AggregatorEndToEndTests.waitUntil { process.output.contains("configuration reloaded") }
        #expect(process.output.contains("level=debug"))
        let reloadMessages = notify.receive { $0.hasPrefix("READY=1") }
        #expect(reloadMessages.contains("RELOADING=1") && reloadMessages.last?.hasPrefix("READY=1") == true, "\(reloadMessages)")

        // A change that needs a restart is named; the running address keeps serving.
        let otherPort = try freePort()
        try write(Self.configuration(brokerPort: broker.port, httpPort: otherPort, directory: directory, tokens: ["new-token"]))
        process.send(signal: SIGHUP)
        try await AggregatorEndToEndTests.waitUntil { process.output.contains("take effect only after a restart") }
        #expect(process.output.contains("settings=http.listen"))
        #expect(Self.status(httpPort, token: "new-token") == 200)
        #expect(!canConnect(host: "127.0.0.1", port: otherPort))

        // An invalid file: the log says where and why, and the running configuration stays.
        try write(Self.configuration(brokerPort: broker.port, httpPort: httpPort, directory: directory, tokens: ["new-token"],
                                     sha256: { _ in "not-a-hash" }))
        process.send(signal: SIGHUP)
        try await AggregatorEndToEndTests.waitUntil { process.output.contains("keeping the running one") }
        #expect(process.output.contains(
            "the new configuration is invalid; keeping the running one: \(file):6:46: tokens[0].sha256: expected the token's SHA-256 as 64 hex digits, found 10 characters"),
            "\(process.output.suffix(1500))")
        #expect(process.isRunning)
        #expect(Self.status(httpPort, token: "new-token") == 200)

        // SIGTERM: STOPPING=1, exit 0, quickly.
        let stopStart = ContinuousClock.now
        process.send(signal: SIGTERM)
        let exitStatus = process.waitForExit(timeout: .seconds(10))
        #expect(exitStatus == 0, "\(process.output.suffix(2000))")
        #expect(ContinuousClock.now - stopStart < .seconds(5))
        #expect(notify.receive { $0 == "STOPPING=1" }.last == "STOPPING=1")
    }
}
