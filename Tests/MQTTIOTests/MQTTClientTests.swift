import Foundation
import HubSupport
import MQTTIO
import Synchronization
import Testing
import TestSupport

/// libmosquitto wrapper against a real mosquitto broker started for each test.
@Suite struct MQTTClientTests {
    @Test func publishesQoS1AndReceivesItsOwnMessage() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let client = try MQTTClient(options: .init(clientID: "test-roundtrip"))
        defer { client.stop() }
        var events = EventRecorder(client)
        try client.start(host: "127.0.0.1", port: broker.port)
        let sessionPresent = try await EventWaiter.first(&events) { event -> Bool? in
            if case .connected(let present) = event { return present }
            return nil
        }
        #expect(sessionPresent == false)
        let subscription = try client.subscribe("hubmeter/test/#", qos: 1)
        let granted = try await EventWaiter.first(&events) { event -> [Int32]? in
            if case .subscribed(let id, let qos) = event, id == subscription { return qos }
            return nil
        }
        #expect(granted == [1])

        let payload = Array("{\"w\":1234.5}".utf8)
        let messageID = try client.publish(MQTTMessage(topic: "hubmeter/test/a", payload: payload, qos: 1))
        var acknowledged = false
        var received: MQTTMessage?
        while !acknowledged || received == nil {
            let event = try await EventWaiter.first(&events) { $0 }
            switch event {
            case .published(let id, let reason) where id == messageID:
                #expect(reason == 0)
                acknowledged = true
            case .message(let message):
                received = message
            default:
                break
            }
        }
        #expect(received == MQTTMessage(topic: "hubmeter/test/a", payload: payload, qos: 1, retain: false))
    }

    @Test func startsWhileTheBrokerIsDownAndConnectsWhenItComesUp() async throws {
        let broker = try await MosquittoBroker()
        broker.stop()
        var options = MQTTClient.Options(clientID: "test-late-broker")
        options.reconnectDelay = .seconds(1)
        options.reconnectDelayMax = .seconds(1)
        let client = try MQTTClient(options: options)
        defer { client.stop() }
        var events = EventRecorder(client)
        // loop_start before connect_async: this must not fail although nothing listens yet.
        try client.start(host: "127.0.0.1", port: broker.port)
        try await Task.sleep(for: .milliseconds(1500))
        try await broker.start()
        _ = try await EventWaiter.first(&events, timeout: .seconds(15)) { event -> Bool? in
            if case .connected = event { return true }
            return nil
        }

        // The broker goes away: the loss is reported, and publishing fails loudly (libmosquitto
        // keeps no offline queue once a connection was lost; durability is the outbox's job).
        broker.stop()
        let disconnect = try await EventWaiter.first(&events) { event -> Int32? in
            if case .disconnected(let reason, _) = event { return reason }
            return nil
        }
        #expect(disconnect != 0)
        let publishWhileDown = #expect(throws: MQTTError.self) {
            try client.publish(MQTTMessage(topic: "t", text: "x", qos: 1))
        }
        #expect(publishWhileDown?.code == "mqtt.library.4")
        #expect(publishWhileDown?.description == "MQTT publish to t failed: The client is not currently connected.")

        try await broker.start()
        _ = try await EventWaiter.first(&events, timeout: .seconds(15)) { event -> Bool? in
            if case .connected = event { return true }
            return nil
        }
        #expect(try client.publish(MQTTMessage(topic: "t", text: "x", qos: 1)) > 0)
    }

    @Test func wrongPasswordIsRefusedWithAReadableReason() async throws {
        let directory = try RepositoryPaths.makeTemporaryDirectory("mqtt-auth")
        let passwords = directory + "/passwords"
        let made = try runCommand("/usr/bin/mosquitto_passwd", ["-c", "-b", passwords, "agent", "correct horse"])
        #expect(made.status == 0, "\(made.stderr)")
        let broker = try await MosquittoBroker(extraConfiguration: "allow_anonymous false\npassword_file \(passwords)\n")
        defer { broker.stop() }

        var wrong = MQTTClient.Options(clientID: "test-wrong-password")
        wrong.username = "agent"
        wrong.password = Secret("battery staple", origin: "test")
        let refusedClient = try MQTTClient(options: wrong)
        defer { refusedClient.stop() }
        var refusedEvents = EventRecorder(refusedClient)
        try refusedClient.start(host: "127.0.0.1", port: broker.port)
        let reason = try await EventWaiter.first(&refusedEvents) { event -> String? in
            if case .connectionRefused(_, let text) = event { return text }
            return nil
        }
        #expect(reason == "Bad user name or password" || reason == "Not authorized" || reason == "bad user name or password")

        var right = wrong
        right.clientID = "test-right-password"
        right.password = Secret("correct horse", origin: "test")
        let client = try MQTTClient(options: right)
        defer { client.stop() }
        var events = EventRecorder(client)
        try client.start(host: "127.0.0.1", port: broker.port)
        let connected = try await EventWaiter.first(&events) { event -> Bool? in
            if case .connected = event { return true }
            return nil
        }
        #expect(connected)
    }

    @Test func lastWillIsPublishedWhenTheConnectionBreaks() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let watcher = try MQTTClient(options: .init(clientID: "test-watcher"))
        defer { watcher.stop() }
        var watcherEvents = EventRecorder(watcher)
        try watcher.start(host: "127.0.0.1", port: broker.port)
        _ = try await EventWaiter.first(&watcherEvents) { event -> Bool? in
            if case .connected = event { return true }
            return nil
        }
        let subscription = try watcher.subscribe("hubmeter/v1/test-hub/status", qos: 1)
        _ = try await EventWaiter.first(&watcherEvents) { event -> Bool? in
            if case .subscribed(let id, _) = event, id == subscription { return true }
            return nil
        }

        // A separate process holds the will-carrying connection so it can die without a DISCONNECT.
        let subscriberWithWill = try ChildProcess(executable: "/usr/bin/mosquitto_sub", arguments: [
            "-h", "127.0.0.1", "-p", String(broker.port), "-i", "test-dying", "-t", "unused",
            "--will-topic", "hubmeter/v1/test-hub/status", "--will-payload", "{\"state\":\"offline\"}", "--will-qos", "1",
        ])
        try await Task.sleep(for: .milliseconds(500))
        subscriberWithWill.stop(signal: SIGKILL)
        let will = try await EventWaiter.first(&watcherEvents) { event -> MQTTMessage? in
            if case .message(let message) = event { return message }
            return nil
        }
        #expect(will.text == "{\"state\":\"offline\"}")
    }

    @Test func subscriptionsAreRestoredAfterABrokerRestartWithoutSession() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        var options = MQTTClient.Options(clientID: "test-resubscribe")
        options.reconnectDelayMax = .seconds(1)
        let subscriber = try MQTTClient(options: options)
        defer { subscriber.stop() }
        var events = EventRecorder(subscriber)
        try subscriber.start(host: "127.0.0.1", port: broker.port)
        _ = try await EventWaiter.first(&events) { event -> Bool? in
            if case .connected = event { return true }
            return nil
        }
        try subscriber.subscribe("restore/#", qos: 1)
        _ = try await EventWaiter.first(&events) { event -> Bool? in
            if case .subscribed = event { return true }
            return nil
        }
        // The broker forgets everything (no persistence); the client must subscribe again by itself.
        broker.stop()
        try await broker.start()
        _ = try await EventWaiter.first(&events, timeout: .seconds(15)) { event -> Bool? in
            if case .connected(let sessionPresent) = event { return sessionPresent == false ? true : nil }
            return nil
        }
        _ = try await EventWaiter.first(&events) { event -> Bool? in
            if case .subscribed = event { return true }
            return nil
        }
        let published = try runCommand("/usr/bin/mosquitto_pub", ["-p", String(broker.port), "-q", "1", "-t", "restore/x", "-m", "again"])
        #expect(published.status == 0)
        let message = try await EventWaiter.first(&events) { event -> MQTTMessage? in
            if case .message(let message) = event { return message }
            return nil
        }
        #expect(message.topic == "restore/x")
        #expect(message.text == "again")
    }

    @Test func tlsWithTheRightCAConnectsAndAWrongCAIsRefusedClearly() async throws {
        let certificates = try TestCertificates(name: "hub-ca")
        let stranger = try TestCertificates(name: "other-ca")
        let broker = try await MosquittoBroker(extraConfiguration: certificates.brokerConfiguration)
        defer { broker.stop() }

        var good = MQTTClient.Options(clientID: "test-tls-good")
        good.tls = .init(caFile: certificates.caFile)
        let client = try MQTTClient(options: good)
        defer { client.stop() }
        var events = EventRecorder(client)
        try client.start(host: "127.0.0.1", port: broker.port)
        _ = try await EventWaiter.first(&events) { event -> Bool? in
            if case .connected = event { return true }
            return nil
        }

        var wrong = MQTTClient.Options(clientID: "test-tls-wrong")
        wrong.tls = .init(caFile: stranger.caFile)
        wrong.reconnectDelayMax = .seconds(1)
        let refused = try MQTTClient(options: wrong)
        defer { refused.stop() }
        var refusedEvents = EventRecorder(refused)
        try refused.start(host: "127.0.0.1", port: broker.port)
        // libmosquitto reports the verification failure through its log; it never connects.
        let logLine = try await EventWaiter.first(&refusedEvents) { event -> String? in
            if case .connected = event { return "connected" }
            if case .log(_, let text) = event, text.contains("certificate verify failed") { return text }
            return nil
        }
        #expect(logLine.contains("certificate verify failed"))
        // And it keeps trying (with backoff) instead of giving up.
        let retry = try await EventWaiter.first(&refusedEvents, timeout: .seconds(10)) { event -> String? in
            if case .log(_, let text) = event, text.contains("certificate verify failed") { return text }
            return nil
        }
        #expect(retry.contains("certificate verify failed"))
    }

    @Test func optionsAreValidatedByTheLibrary() throws {
        var options = MQTTClient.Options(clientID: "test-tls")
        options.tls = .init(caFile: "/nonexistent/ca.pem")
        let error = #expect(throws: MQTTError.self) { _ = try MQTTClient(options: options) }
        #expect(error?.description.hasPrefix("MQTT configure TLS failed") == true)
    }
}

/// Records a client's events as they arrive, so that a test can wait for one with a real deadline.
final class EventRecorder: Sendable {
    private final class Storage: Sendable {
        let events = Mutex<[MQTTClient.Event]>([])
    }

    private let storage = Storage()
    private let cursor = Mutex(0)
    private let task: Task<Void, Never>

    init(_ client: MQTTClient) {
        let storage = self.storage
        task = Task {
            for await event in client.events { storage.events.withLock { $0.append(event) } }
        }
    }

    deinit { task.cancel() }

    /// The next unseen event, or nil.
    func next() -> MQTTClient.Event? {
        cursor.withLock { index in
            storage.events.withLock { list in
                guard index < list.count else { return nil }
                defer { index += 1 }
                return list[index]
            }
        }
    }
}

/// Waits for the first unseen event that matches, failing after the deadline instead of hanging.
enum EventWaiter {
    static func first<T>(_ events: inout EventRecorder, timeout: Duration = .seconds(10),
                         _ match: (MQTTClient.Event) -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            while let event = events.next() {
                if let value = match(event) { return value }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestSupportError("no matching MQTT event within \(timeout)")
    }
}
