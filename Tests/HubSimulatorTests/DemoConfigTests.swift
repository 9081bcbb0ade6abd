import ConfigReading
import HubSimulator
import Testing
import TestSupport

/// The demo's agent and aggregator configurations are valid and match the demo scenario.
@Suite struct DemoConfigTests {
    @Test(arguments: ["Config/demo/agent.yaml", "Config/demo/aggregator.yaml"])
    func checkConfigAccepts(_ file: String) throws {
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["check-config", "--data-directory", RepositoryPaths.path("Config"), RepositoryPaths.path(file)])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    /// Every simulated device is in the agent's configuration with the same unit id, role and a
    /// bus on the simulator's port, and the agent has no device the simulator does not serve.
    @Test func agentConfigurationMatchesTheScenario() throws {
        let scenario = try ScenarioParser.load(path: Fixtures.demoScenarioPath)
        let document = try ConfigDocument.load(path: RepositoryPaths.path("Config/demo/agent.yaml"))
        let root = try document.root.dictionary()
        func child(_ entries: [(key: String, node: ConfigNode)], _ key: String) throws -> ConfigNode {
            guard let node = entries.first(where: { $0.key == key })?.node else { throw TestSupportError("agent.yaml has no \(key)") }
            return node
        }
        let hub = try child(root, "hub").dictionary()
        var busPorts: [String: Int] = [:]
        for bus in try child(root, "buses").sequence() {
            let entries = try bus.dictionary()
            busPorts[try child(entries, "id").string()] = try child(entries, "port").int()
        }
        var agentDevices: [String: [String: ConfigNode]] = [:]
        for key in ["participants", "shared_assets"] {
            for group in try child(hub, key).sequence() {
                for device in try child(group.dictionary(), "devices").sequence() {
                    let entries = try device.dictionary()
                    agentDevices[try child(entries, "id").string()] = Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.node) })
                }
            }
        }
        #expect(Set(agentDevices.keys) == Set(scenario.devices.map(\.id)))
        for device in scenario.devices {
            let entries = try #require(agentDevices[device.id])
            let server = try #require(scenario.servers.first { $0.id == device.server })
            #expect(try entries["unit_id"]?.int() == device.unitID, "\(device.id)")
            #expect(try entries["role"]?.string() == device.role.rawValue, "\(device.id)")
            #expect(try entries["profile"]?.string() == (device.map == .eastronSDM630 ? "eastron-sdm630" : "sunspec"), "\(device.id)")
            let bus = try entries["bus"]?.string() ?? ""
            #expect(busPorts[bus] == server.port, "\(device.id)")
        }
    }
}
