import Foundation
import HubAgent
import HubSupport
import ModbusIO
import MQTTIO
import Synchronization
import Testing
import TestSupport

/// The real `hubmeter agent` process against real parts: a libmodbus server with two Eastron
/// SDM630 register images, a mosquitto broker, and a subscriber in the test.
@Suite(.serialized) struct AgentProcessTests {
    /// Float32, big-endian words, as the SDM630 encodes its input registers.
    static func float32(_ value: Float) -> [UInt16] {
        let bits = value.bitPattern
        return [UInt16(bits >> 16), UInt16(bits & 0xFFFF)]
    }

    static func meter(powerW: Float, importKWh: Float, exportKWh: Float) throws -> ModbusUnitMemory {
        let memory = try #require(ModbusUnitMemory(holding: 0xFC00..<0xFC02, input: 0..<0x100))
        memory.set(.input, at: 0x0000, float32(230.1) + float32(230.2) + float32(229.9))
        memory.set(.input, at: 0x0034, float32(powerW))
        memory.set(.input, at: 0x0046, float32(50.0))
        memory.set(.input, at: 0x0048, float32(importKWh) + float32(exportKWh))
        memory.set(.holding, at: 0xFC00, [0x0001, 0xE240])
        return memory
    }

    final class Inbox: Sendable {
        private let messages = Mutex<[MQTTMessage]>([])
        func append(_ message: MQTTMessage) { messages.withLock { $0.append(message) } }
        func last(_ topic: String) -> MQTTMessage? { messages.withLock { $0.last { $0.topic == topic } } }
        func count(_ topic: String) -> Int { messages.withLock { $0.filter { $0.topic == topic }.count } }
        func json(_ topic: String) -> [String: Any]? {
            last(topic).flatMap { try? JSONSerialization.jsonObject(with: Data($0.payload)) as? [String: Any] }
        }
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw TestSupportError("\(what): not within \(timeout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func agentConfiguration(modbusPort: Int, brokerPort: Int, httpPort: Int, stateDirectory: String) -> String {
        """
        hub:
          id: test-hub
          participants:
            - id: alpha
              devices: [{ id: alpha-grid, role: grid_meter, bus: lan, unit_id: 1, profile: eastron-sdm630 }]
            - id: beta
              devices: [{ id: beta-grid, role: grid_meter, bus: lan, unit_id: 2, profile: eastron-sdm630 }]
        buses:
          - { id: lan, transport: tcp, host: 127.0.0.1, port: \(modbusPort), timeout: 300ms }
        mqtt: { host: 127.0.0.1, port: \(brokerPort), reconnect_delay_max: 2s }
        state_directory: \(stateDirectory)
        data_directory: \(RepositoryPaths.path("Config"))
        http: { listen: "127.0.0.1:\(httpPort)" }
        logging: { level: debug, format: plain }
        home_assistant: { discovery_prefix: homeassistant }
        """
    }

    @Test func agentPublishesStatesAndBalanceReportsHealthAndStopsGracefully() async throws {
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let silentBeta = Mutex(false)
        let server = try ModbusTCPServer(units: [1: try Self.meter(powerW: 2000, importKWh: 1234.5, exportKWh: 10),
                                                 2: try Self.meter(powerW: -1500, importKWh: 50, exportKWh: 4321)],
                                         policy: { request in request.unit == 2 && silentBeta.withLock { $0 } ? .ignore : .reply })
        defer { server.stop() }

        let subscriber = try MQTTClient(options: .init(clientID: "test-subscriber"))
        defer { subscriber.stop() }
        let inbox = Inbox()
        let events = Task {
            for await event in subscriber.events {
                if case .message(let message) = event { inbox.append(message) }
            }
        }
        defer { events.cancel() }
        try subscriber.start(host: "127.0.0.1", port: broker.port)
        try await Self.waitUntil("subscribed") { (try? subscriber.subscribe("hubmeter/v1/test-hub/#", qos: 1)) != nil }
        try subscriber.subscribe("homeassistant/#", qos: 1)

        let directory = try RepositoryPaths.makeTemporaryDirectory("agent-e2e")
        let configPath = directory + "/agent.yaml"
        let httpPort = try freePort()
        try Self.agentConfiguration(modbusPort: server.port, brokerPort: broker.port, httpPort: httpPort, stateDirectory: directory + "/state")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let agent = try ChildProcess(executable: RepositoryPaths.hubmeterBinary, arguments: ["agent", "--config", configPath])
        defer { agent.stop(signal: SIGKILL) }

        // Birth, live device values as decoded from the registers, and the balance.
        try await Self.waitUntil("status online (agent log: \(agent.output.suffix(2000)))") {
            inbox.json("hubmeter/v1/test-hub/status")?["state"] as? String == "online"
        }
        // A newcomer gets the status from the broker's retained store.
        #expect(try Self.retained(broker: broker, topic: "hubmeter/v1/test-hub/status").hasPrefix("1 {"))
        try await Self.waitUntil("alpha state") { inbox.json("hubmeter/v1/test-hub/device/alpha-grid/state") != nil }
        let state = try #require(inbox.json("hubmeter/v1/test-hub/device/alpha-grid/state"))
        let points = try #require(state["points"] as? [String: [String: Any]])
        #expect(points["total_power"]?["value"] as? Double == 2000)
        #expect(points["total_power"]?["quality"] as? String == "good")
        #expect(points["import_energy"]?["value"] as? Double == 1_234_500)
        #expect(points["total_power"]?["unit"] as? String == "W")
        #expect((state["canonical"] as? [String: String])?["grid_power"] == "total_power")

        try await Self.waitUntil("complete hub balance") {
            (inbox.json("hubmeter/v1/test-hub/balance")?["complete"] as? Bool) == true
        }
        let balance = try #require(inbox.json("hubmeter/v1/test-hub/balance"))
        #expect((balance["netGridPower"] as? [String: Any])?["value"] as? Double == 500)
        #expect((balance["netGridPower"] as? [String: Any])?["unit"] as? String == "W")
        try await Self.waitUntil("alpha balance") {
            (inbox.json("hubmeter/v1/test-hub/participant/alpha/balance")?["complete"] as? Bool) == true
        }
        let alpha = try #require(inbox.json("hubmeter/v1/test-hub/participant/alpha/balance"))
        // Pro rata: beta's 1500 W export is the pool, alpha imports 2000 W and gets all of it.
        #expect((alpha["allocationPower"] as? [String: Any])?["value"] as? Double == 1500)
        #expect((alpha["residualImportPower"] as? [String: Any])?["value"] as? Double == 500)

        // Every message type validates against its v1 schema (independent Python validator).
        for (topic, schema) in [("hubmeter/v1/test-hub/status", "status"), ("hubmeter/v1/test-hub/balance", "hub-balance"),
                                ("hubmeter/v1/test-hub/participant/alpha/balance", "participant-balance"),
                                ("hubmeter/v1/test-hub/device/alpha-grid/state", "device-state")] {
            let message = try #require(inbox.last(topic))
            try validateMessages([message.payload], schema: schema)
        }

        // Home Assistant discovery: power as a measurement, energy as total_increasing, retained.
        let powerTopic = "homeassistant/sensor/hubmeter_test-hub/alpha-grid_grid_power/config"
        try await Self.waitUntil("discovery") { inbox.json(powerTopic) != nil }
        let power = try #require(inbox.json(powerTopic))
        #expect(power["device_class"] as? String == "power")
        #expect(power["state_class"] as? String == "measurement")
        #expect(power["unit_of_measurement"] as? String == "W")
        #expect(power["state_topic"] as? String == "hubmeter/v1/test-hub/device/alpha-grid/state")
        let energy = try #require(inbox.json("homeassistant/sensor/hubmeter_test-hub/alpha-grid_grid_import_energy/config"))
        #expect(energy["state_class"] as? String == "total_increasing")
        #expect(energy["unit_of_measurement"] as? String == "Wh")
        #expect(try Self.retained(broker: broker, topic: powerTopic).hasPrefix("1 {"))

        // Health and metrics on the loopback port.
        let health = try httpGet(port: httpPort, path: "/health")
        #expect(health.status == 200, "\(health.body)")
        #expect(health.body.contains("\"broker\":\"connected\""))
        let metrics = try httpGet(port: httpPort, path: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("hubmeter_cycle_publish_duration_seconds"))
        #expect(try httpGet(port: httpPort, path: "/nope").status == 404)

        // Beta's meter goes silent: it becomes unavailable, the balance incomplete, alpha keeps its cadence.
        silentBeta.withLock { $0 = true }
        try await Self.waitUntil("beta offline") {
            inbox.json("hubmeter/v1/test-hub/device/beta-grid/availability")?["state"] as? String == "offline"
        }
        try validateMessages([try #require(inbox.last("hubmeter/v1/test-hub/device/beta-grid/availability")).payload], schema: "availability")
        try validateMessages([try #require(inbox.last("hubmeter/v1/test-hub/device/beta-grid/state")).payload], schema: "device-state")
        let availability = try Self.retained(broker: broker, topic: "hubmeter/v1/test-hub/device/beta-grid/availability")
        #expect(availability.hasPrefix("1 {"))
        #expect(availability.contains("\"state\":\"offline\""))
        #expect(availability.contains("modbus.timeout") || availability.contains("no response"))
        try await Self.waitUntil("incomplete balance") {
            (inbox.json("hubmeter/v1/test-hub/balance")?["complete"] as? Bool) == false
        }
        // Gaps are explicit nulls with their quality, and still schema-valid.
        let incomplete = try #require(inbox.last("hubmeter/v1/test-hub/balance"))
        try validateMessages([incomplete.payload], schema: "hub-balance")
        #expect(String(decoding: incomplete.payload, as: UTF8.self).contains("\"quality\":\"stale\"")
                || String(decoding: incomplete.payload, as: UTF8.self).contains("\"quality\":\"missing\""))
        #expect(String(decoding: incomplete.payload, as: UTF8.self).contains("\"value\":null"))
        let alphaStatesBefore = inbox.count("hubmeter/v1/test-hub/device/alpha-grid/state")
        try await Task.sleep(for: .seconds(3))
        #expect(inbox.count("hubmeter/v1/test-hub/device/alpha-grid/state") >= alphaStatesBefore + 2)
        let degraded = try httpGet(port: httpPort, path: "/health")
        #expect(degraded.status == 503)
        #expect(degraded.body.contains("beta-grid"))

        // SIGHUP with a broken file: the agent says why and keeps running.
        let good = try String(contentsOfFile: configPath, encoding: .utf8)
        try (good + "\nunknown_key: 1\n").write(toFile: configPath, atomically: true, encoding: .utf8)
        agent.send(signal: SIGHUP)
        try await Self.waitUntil("reload refused") { agent.output.contains("keeping the running one") }
        #expect(agent.isRunning)
        try good.write(toFile: configPath, atomically: true, encoding: .utf8)

        // SIGTERM: exit 0 within a few seconds, offline status retained.
        let stopStart = ContinuousClock.now
        agent.send(signal: SIGTERM)
        let exitStatus = agent.waitForExit(timeout: .seconds(10))
        #expect(exitStatus == 0, "agent log: \(agent.output.suffix(3000))")
        #expect(ContinuousClock.now - stopStart < .seconds(6))
        try await Self.waitUntil("status offline") {
            inbox.json("hubmeter/v1/test-hub/status")?["state"] as? String == "offline"
        }
    }

    /// What a new subscriber receives first on `topic`: "RETAINFLAG PAYLOAD".
    static func retained(broker: MosquittoBroker, topic: String) throws -> String {
        let result = try runCommand("/usr/bin/mosquitto_sub", ["-p", String(broker.port), "-t", topic, "-C", "1", "-W", "3", "-F", "%r %p"])
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func tlsBrokerAcceptsTheAgentAndAWrongCAIsReportedOnceWhileRetrying() async throws {
        let certificates = try TestCertificates(name: "regional-ca")
        let stranger = try TestCertificates(name: "wrong-ca")
        let broker = try await MosquittoBroker(extraConfiguration: certificates.brokerConfiguration)
        defer { broker.stop() }
        let server = try ModbusTCPServer(units: [1: try Self.meter(powerW: 1000, importKWh: 1, exportKWh: 0),
                                                 2: try Self.meter(powerW: 500, importKWh: 1, exportKWh: 0)])
        defer { server.stop() }
        let directory = try RepositoryPaths.makeTemporaryDirectory("agent-tls")

        func configuration(ca: String) -> String {
            Self.agentConfiguration(modbusPort: server.port, brokerPort: broker.port, httpPort: 0, stateDirectory: directory + "/state")
                .replacingOccurrences(of: "mqtt: { host: 127.0.0.1, port: \(broker.port), reconnect_delay_max: 2s }",
                                      with: "mqtt: { host: 127.0.0.1, port: \(broker.port), reconnect_delay_max: 1s, tls: { ca_file: \(ca) } }")
                .replacingOccurrences(of: "http: { listen: \"127.0.0.1:0\" }\n", with: "")
        }
        // Wrong CA: one clear line about the certificate, and the agent keeps running and retrying.
        try configuration(ca: stranger.caFile).write(toFile: directory + "/wrong.yaml", atomically: true, encoding: .utf8)
        let refused = try ChildProcess(executable: RepositoryPaths.hubmeterBinary, arguments: ["agent", "--config", directory + "/wrong.yaml"])
        defer { refused.stop(signal: SIGKILL) }
        try await Self.waitUntil("certificate error logged") { refused.output.contains("certificate verify failed") }
        try await Task.sleep(for: .seconds(4))
        #expect(refused.isRunning)
        let lines = refused.output.split(separator: "\n").filter { $0.contains("certificate verify failed") }
        #expect(lines.count == 1, "logged \(lines.count) times: \(lines)")
        refused.stop()

        // The right CA: the agent connects and says it is online.
        try configuration(ca: certificates.caFile).write(toFile: directory + "/right.yaml", atomically: true, encoding: .utf8)
        let agent = try ChildProcess(executable: RepositoryPaths.hubmeterBinary, arguments: ["agent", "--config", directory + "/right.yaml"])
        defer { agent.stop(signal: SIGKILL) }
        try await Self.waitUntil("connected over TLS (log: \(agent.output.suffix(1500)))") { agent.output.contains("connected to the MQTT broker") }
        let status = try runCommand("/usr/bin/mosquitto_sub", ["-p", String(broker.port), "--cafile", certificates.caFile, "-h", "127.0.0.1",
                                                               "-t", "hubmeter/v1/test-hub/status", "-C", "1", "-W", "5"])
        #expect(status.stdout.contains("\"state\":\"online\""), "\(status.stderr)")
    }

    @Test func invalidConfigurationExitsWithExConfig() throws {
        let directory = try RepositoryPaths.makeTemporaryDirectory("agent-bad")
        let path = directory + "/agent.yaml"
        try "hub: { id: x }\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["agent", "--config", path, "--data-directory", RepositoryPaths.path("Config")])
        #expect(result.status == 78)
        #expect(result.stderr.contains("\(path):1:6: hub.participants: missing; expected a list of participating companies"))
    }
}
