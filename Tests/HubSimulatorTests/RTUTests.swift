import Acquisition
import DeviceProfiles
import Foundation
import HubSimulator
import ModbusIO
import Testing
import TestSupport

/// Devices on an RTU line (a pseudo-terminal the simulator opens): several units on one line,
/// read by hubmeter's acquisition and by pymodbus, written to, and silent for unknown units.
@Suite(.serialized) struct RTUTests {
    static func scenario(link: String) throws -> Scenario {
        try ScenarioParser.parse("""
            servers: [{ id: rs485, transport: rtu, link: \(link) }]
            companies:
              - id: werk
                load: { base_kw: 30, noise_kw: 5 }
                devices:
                  - { id: werk-grid, map: eastron-sdm630, server: rs485, unit_id: 1 }
                  - { id: werk-pv, map: sunspec-inverter, server: rs485, unit_id: 2, rated_kw: 40 }
                  - { id: werk-battery, map: sunspec-battery, server: rs485, unit_id: 3, capacity_kwh: 50, max_charge_kw: 20 }
            """, file: "rtu.yaml")
    }

    @Test func severalUnitsOnOneLine() async throws {
        let directory = try RepositoryPaths.makeTemporaryDirectory("simulator-rtu")
        let link = directory + "/ttySIM0"
        let clock = ManualClock(Fixtures.noon)
        let simulator = try HubSimulator(scenario: Self.scenario(link: link), catalog: Fixtures.catalog, clock: clock, logger: Fixtures.logger)
        defer { simulator.stop() }
        #expect(simulator.endpoints["rs485"] == .rtu(.init(device: link)))
        let scenario = simulator.scenario
        for device in scenario.devices {
            let snapshot = try await Fixtures.read(device, simulator: simulator)
            let state = try #require(simulator.state(device.id))
            #expect(snapshot.health.state == .online, "\(device.id): \(snapshot.health.lastError ?? "")")
            let quantity: CanonicalQuantity = switch device.role {
            case .gridMeter: .gridPower
            case .pvInverter: .pvPower
            case .battery: .batteryPower
            }
            #expect(near(snapshot.canonicalValue(quantity), state.watts, within: 10), "\(device.id)")
        }
        // pymodbus on the same line, alternating units.
        for (unit, kind, address) in [(2, "holding", 40000), (1, "input", 0x34), (3, "holding", 40000), (1, "input", 0x34)] {
            let result = try runCommand(RepositoryPaths.systemPython, [RepositoryPaths.path("Tests/Peers/pymodbus_peer.py"), "client-rtu",
                "--device", link, "--unit", "\(unit)", "--kind", kind, "--address", "\(address)", "--count", "2"])
            #expect(result.status == 0, "unit \(unit): \(result.stdout) \(result.stderr)")
            let registers = try #require((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["registers"] as? [Int])
            if kind == "holding" {
                #expect(registers == [0x5375, 0x6E53])
            } else {
                let watts = Double(Float(bitPattern: UInt32(registers[0]) << 16 | UInt32(registers[1])))
                #expect(near(watts, try #require(simulator.state("werk-grid")).watts, within: 0.01))
            }
        }
        // A setpoint written over RTU takes effect; an absent unit stays silent.
        let battery = try await Fixtures.read(try #require(scenario.device("werk-battery")), simulator: simulator)
        let base124 = try #require(battery.sunspecModels.first { $0.id == 124 }).address
        let model124 = try #require(Fixtures.catalog.library[124])
        let offset = { (name: String) in model124.points.first { $0.name == name }!.offset }
        let connection = try Fixtures.connection(simulator, server: "rs485", timeout: .milliseconds(500))
        try await connection.writeRegister(address: base124 + offset("InWRte"), value: 50, unit: 3)
        try await connection.writeRegister(address: base124 + offset("StorCtl_Mod"), value: 1, unit: 3)
        // (read back over the line: the server applies a write before it takes the next request)
        let charging = try await Fixtures.read(try #require(scenario.device("werk-battery")), simulator: simulator)
        #expect(near(charging.canonicalValue(.batteryPower), -10_000, within: 10))
        #expect(try #require(simulator.state("werk-battery")).watts == -10_000)
        do {
            _ = try await connection.readRegisters(.holding, address: 40000, count: 2, unit: 9)
            Issue.record("unit 9 answered")
        } catch {
            #expect(error.kind == .timeout)
        }
        await connection.close()
        simulator.stop()
        #expect(!FileManager.default.fileExists(atPath: link))
    }
}
