import Foundation
import ModbusIO
import Testing
import TestSupport

/// `hubmeter read` and `hubmeter scan` as an installer runs them, against our server.
@Suite struct CommandLineTests {
    @Test func readPrintsDecodedValuesAsJSONAndThePlan() async throws {
        let image = try PollingBehaviourTests.fixtureImage("carlo-gavazzi-em24")
        let server = try image.server()
        defer { server.stop() }
        let target = "tcp://127.0.0.1:\(server.port)"
        let json = try runCommand(RepositoryPaths.hubmeterBinary, ["read", target, "--unit", "1", "--profile", "carlo-gavazzi-em24", "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(document["health"] as? String == "online")
        let power = try #require((document["values"] as? [[String: Any]])?.first { $0["canonical"] as? String == "grid_power" })
        #expect(power["value"] as? Double == -3500)
        #expect(power["quality"] as? String == "good")

        let plan = try runCommand(RepositoryPaths.hubmeterBinary, ["read", target, "--unit", "1", "--profile", "carlo-gavazzi-em24", "--plan"])
        #expect(plan.stdout.contains("every cycle (fast): 2 reads, 70 registers"))
        #expect(plan.stdout.contains("input 92…93 (2): export_energy"))

        let unknown = try runCommand(RepositoryPaths.hubmeterBinary, ["read", target, "--unit", "1", "--profile", "no-such-meter"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("no profile 'no-such-meter'; available: carlo-gavazzi-em24, carlo-gavazzi-em340"))
    }

    @Test func readShowsThePlanOfAConfiguredDevice() throws {
        let result = try runCommand(RepositoryPaths.hubmeterBinary,
                                    ["read", "kantoor-grid", "--config", RepositoryPaths.path("Config/agent.example.yaml"), "--plan"],
                                    environment: ["HUBMETER_MQTT_PASSWORD": "x"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("kantoor-grid: profile eastron-sdm630"))
        #expect(result.stdout.contains("every cycle (fast): 1 read, 76 registers"))
        #expect(result.stdout.contains("after connect (all): 2 reads, 78 registers"))
        let missing = try runCommand(RepositoryPaths.hubmeterBinary,
                                     ["read", "no-such-device", "--config", RepositoryPaths.path("Config/agent.example.yaml"), "--plan"],
                                     environment: ["HUBMETER_MQTT_PASSWORD": "x"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("no device 'no-such-device'"))
    }

    @Test func scanFindsSunSpecModelsAndMatchingProfiles() async throws {
        var image = try PollingBehaviourTests.fixtureImage("janitza-umg96rm", unit: 2)
        let sunspec = SunSpecAcquisitionTests.DeviceImage(base: 40000, models: [(1, 0), (203, 0)], sentinels: [:])
        image.put(unit: 1, at: 40000, sunspec.registers)
        let server = try image.server()
        defer { server.stop() }
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["scan", "tcp://127.0.0.1:\(server.port)", "--units", "1-3", "--timeout", "200ms"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            unit 1: SunSpec at 40000: 1 (common), 203 (ac_meter_abcn)
            unit 2: serves the registers of janitza-umg96rm

            """)
    }
}
