import ConfigReading
import HubConfiguration
import HubSupport
import HubmeterCommands
import Testing
import TestSupport

@Suite struct ExampleConfigTests {
    static let environment = SecretEnvironment(variables: ["HUBMETER_MQTT_PASSWORD": "s3cret-example"]) { path in
        throw TestSupportError("unexpected secret file \(path)")
    }

    @Test func agentExampleIsValidAndComplete() throws {
        let configuration = try AgentConfiguration.load(path: RepositoryPaths.path("Config/agent.example.yaml"), environment: Self.environment)
        #expect(configuration.hub.id == "elsmoat-enter")
        #expect(configuration.hub.participants.map(\.id) == ["metaalwerk", "logistiek", "kantoor"])
        #expect(configuration.hub.sharedAssets.first?.owners == ["metaalwerk": 0.5, "logistiek": 0.3, "kantoor": 0.2])
        #expect(configuration.hub.allocation.key == .proRataConsumption)
        #expect(configuration.buses.count == 4)
        #expect(configuration.mqtt.port == 8883)
        #expect(configuration.mqtt.tls?.verifyServer == true)
        #expect(configuration.mqtt.clientID == "hubmeter-elsmoat-enter")
        #expect(configuration.polling.cycle == .seconds(1))
        #expect(configuration.http == ListenAddress(host: "127.0.0.1", port: 9464))
        let kantoor = configuration.hub.devices.first { $0.id == "kantoor-grid" }
        #expect(kantoor?.invertPower == true)
        #expect(kantoor?.writable == false)
        #expect(configuration.hub.participants[0].joined == UTCTimestamp.parse(iso8601: "2026-01-01T00:00:00Z"))
    }

    @Test func aggregatorExampleIsValid() throws {
        let configuration = try AggregatorConfiguration.load(path: RepositoryPaths.path("Config/aggregator.example.yaml"), environment: Self.environment)
        #expect(configuration.region.id == "twente")
        #expect(configuration.subscription.shareGroup == "aggregators")
        #expect(configuration.storage == .sqlite(path: "/var/lib/hubmeter/aggregator.sqlite"))
        #expect(configuration.tokens.map(\.role) == [.auditor, .hubTeam])
        #expect(configuration.maxMessageBytes == 256 << 10)
    }

    @Test(arguments: ["Config/agent.example.yaml", "Config/aggregator.example.yaml"])
    func checkConfigAcceptsExamples(_ file: String) throws {
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["check-config", "--data-directory", RepositoryPaths.path("Config"), RepositoryPaths.path(file)],
                                    environment: ["HUBMETER_MQTT_PASSWORD": "x"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("valid"))
    }

    @Test func secretsNeverAppearInDescriptions() throws {
        let configuration = try AgentConfiguration.load(path: RepositoryPaths.path("Config/agent.example.yaml"), environment: Self.environment)
        let password = try #require(configuration.mqtt.password)
        #expect(password.withRevealedValue { $0 } == "s3cret-example")
        #expect(!String(describing: configuration).contains("s3cret-example"))
        #expect(!String(reflecting: configuration).contains("s3cret-example"))
        #expect(String(describing: password) == "<secret from $HUBMETER_MQTT_PASSWORD>")
    }

    @Test func passwordFileDropsOneTrailingNewline() throws {
        let yaml = """
        hub:
          id: h
          participants:
            - id: a
              devices: [{ id: g, role: grid_meter, bus: lan, unit_id: 1, profile: sunspec }]
        buses: [{ id: lan, transport: tcp, host: 127.0.0.1 }]
        mqtt: { host: 127.0.0.1, username: u, password_file: /run/secret }
        """
        let environment = SecretEnvironment(variables: [:]) { path in
            #expect(path == "/run/secret")
            return "pa ss\n"
        }
        let configuration = try AgentConfiguration.parse(yaml, file: "inline.yaml", environment: environment)
        #expect(configuration.mqtt.password?.withRevealedValue { $0 } == "pa ss")
        #expect(configuration.mqtt.port == 1883)
    }

    @Test func allocationKeysAreRead() throws {
        func key(_ allocation: String) throws -> AllocationSettings.Key {
            let yaml = """
            hub:
              id: h
              allocation: \(allocation)
              participants:
                - { id: a, devices: [{ id: ga, role: grid_meter, bus: lan, unit_id: 1, profile: sunspec }] }
                - { id: b, devices: [{ id: gb, role: grid_meter, bus: lan, unit_id: 2, profile: sunspec }] }
            buses: [{ id: lan, transport: tcp, host: 127.0.0.1 }]
            mqtt: { host: 127.0.0.1 }
            """
            return try AgentConfiguration.parse(yaml, file: "inline.yaml", environment: Self.environment).hub.allocation.key
        }
        #expect(try key("{ key: equal_shares }") == .equalShares)
        #expect(try key("{ key: priority, order: [b, a] }") == .priority(["b", "a"]))
        #expect(try key("{ key: static_shares, shares: { a: 0.25, b: 0.5 }, remainder: redistributed }")
                == .staticShares(["a": 0.25, "b": 0.5], remainder: .redistributed))
        #expect(try key("{ key: static_shares, shares: { a: 0.25 } }") == .staticShares(["a": 0.25], remainder: .exported))
    }
}
