import Acquisition
import DeviceProfiles
import Foundation
import HubDomain
import HubSimulator
import ModbusIO
import Testing
import TestSupport

/// Every simulated device over real Modbus TCP, decoded by hubmeter's own acquisition (the code
/// and data the agent uses) and read by pymodbus as an independent peer.
@Suite(.serialized) struct SimulatedDeviceTests {
    /// Decoded canonical values equal the physics state within register resolution.
    @Test func everyDeviceDecodesToThePhysicsState() async throws {
        let clock = ManualClock(Fixtures.noon)
        let simulator = try HubSimulator(scenario: Fixtures.demoScenario(), catalog: Fixtures.catalog, clock: clock, logger: Fixtures.logger)
        defer { simulator.stop() }
        clock.advance(milliseconds: 90_500)
        simulator.refresh()
        for device in simulator.scenario.devices {
            let snapshot = try await Fixtures.read(device, simulator: simulator)
            let state = try #require(simulator.state(device.id))
            #expect(snapshot.health.state == .online, "\(device.id): \(snapshot.health.lastError ?? "")")
            // Resolution: float maps are exact to float32; int maps to their scale factor (10 W, 1 Wh, 0.1 %).
            switch device.role {
            case .gridMeter:
                #expect(near(snapshot.canonicalValue(.gridPower), state.watts, within: 10), "\(device.id)")
                #expect(near(snapshot.canonicalValue(.gridImportEnergy), state.importWh, within: 1), "\(device.id)")
                #expect(near(snapshot.canonicalValue(.gridExportEnergy), state.exportWh, within: 1), "\(device.id)")
            case .pvInverter:
                #expect(state.watts > 1000, "\(device.id) should produce at noon")
                #expect(near(snapshot.canonicalValue(.pvPower), state.watts, within: 10), "\(device.id)")
                #expect(near(snapshot.canonicalValue(.pvEnergy), state.producedWh, within: 1), "\(device.id)")
                #expect(snapshot.sunspecModels.map(\.id) == [1, device.map == .sunspecInverter ? 103 : 113, 120, 123, 160])
                #expect(near(snapshot.value("120.WRtg")?.value, device.pv!.ratedWatts, within: 10))
                let modules = (0..<device.pv!.modules).compactMap { snapshot.value("160.module[\($0)].DCW")?.value }
                #expect(modules.count == device.pv!.modules)
                #expect(near(modules.reduce(0, +), state.watts / 0.97, within: 10 * Double(modules.count)))
            case .battery:
                #expect(snapshot.sunspecModels.map(\.id) == [1, 701, 124, 802])
                #expect(near(snapshot.canonicalValue(.batteryPower), state.watts, within: 10), "\(device.id)")
                #expect(near(snapshot.canonicalValue(.batterySoC), state.soc, within: 0.05), "\(device.id)")
                #expect(near(snapshot.canonicalValue(.batteryChargeEnergy), state.chargedWh, within: 1), "\(device.id)")
                #expect(near(snapshot.canonicalValue(.batteryDischargeEnergy), state.dischargedWh, within: 1), "\(device.id)")
                #expect(near(snapshot.value("802.W")?.value, state.watts, within: 10))
                #expect(near(snapshot.value("124.ChaState")?.value, state.soc, within: 0.05))
            }
            #expect(snapshot.value("1.SN")?.text == (device.map == .eastronSDM630 ? nil : device.id))
        }
        // The hub battery charges on its midday schedule; the logistics battery covers its company.
        #expect(try #require(simulator.state("hub-battery")).watts < 0)
    }

    /// pymodbus reads the same registers as hubmeter's client, and they decode to the same state.
    @Test func pymodbusReadsTheSameRegisters() async throws {
        let clock = ManualClock(Fixtures.noon)
        let simulator = try HubSimulator(scenario: Fixtures.demoScenario(), catalog: Fixtures.catalog, clock: clock, logger: Fixtures.logger)
        defer { simulator.stop() }
        for device in simulator.scenario.devices {
            let port = try #require(simulator.ports[device.server])
            let (kind, address, count) = device.map == .eastronSDM630 ? ("input", 0, 76) : ("holding", 40000, 125)
            let result = try runCommand(RepositoryPaths.systemPython, [RepositoryPaths.path("Tests/Peers/pymodbus_peer.py"), "client-tcp",
                "--port", "\(port)", "--unit", "\(device.unitID)", "--kind", kind, "--address", "\(address)", "--count", "\(count)"])
            #expect(result.status == 0, "\(device.id): \(result.stdout) \(result.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let peer = try #require(json?["registers"] as? [Int]).map { UInt16($0) }
            let connection = try Fixtures.connection(simulator, server: device.server)
            let ours = try await connection.readRegisters(kind == "input" ? .input : .holding, address: address, count: count, unit: device.unitID)
            await connection.close()
            #expect(peer == ours, "\(device.id)")
            let state = try #require(simulator.state(device.id))
            if device.map == .eastronSDM630 {
                // total_power at 0x34 (float32 ABCD), import kWh at 0x48
                let power = Double(Float(bitPattern: UInt32(peer[0x34]) << 16 | UInt32(peer[0x35])))
                #expect(near(power, state.watts, within: 0.01 * max(1, abs(state.watts)) / 100))
                let imported = Double(Float(bitPattern: UInt32(peer[0x48]) << 16 | UInt32(peer[0x49]))) * 1000
                #expect(near(imported, state.importWh, within: 16))
            } else {
                #expect(Array(peer[0..<4]) == [0x5375, 0x6E53, 1, 66]) // "SunS", model 1, L = 66
            }
        }
    }

    /// A battery setpoint written to model 124 and a PV limit written to model 123 change later
    /// readings (and the company's grid meter), and revert when their timers expire.
    @Test func writtenSetpointsChangeReadingsAndRevert() async throws {
        let clock = ManualClock(Fixtures.noon)
        let simulator = try HubSimulator(scenario: Fixtures.demoScenario(), catalog: Fixtures.catalog, clock: clock, logger: Fixtures.logger)
        defer { simulator.stop() }
        let scenario = simulator.scenario
        let battery = try #require(scenario.device("hub-battery"))
        let pv = try #require(scenario.device("kantoor-pv"))
        let meter = try #require(scenario.device("kantoor-grid"))
        let library = Fixtures.catalog.library
        let model124 = try #require(library[124]), model123 = try #require(library[123])
        func offset(_ model: SunSpecModelDefinition, _ point: String) throws -> Int { try #require(model.points.first { $0.name == point }).offset }

        let before = try await Fixtures.read(battery, simulator: simulator)
        #expect(near(before.canonicalValue(.batteryPower), -100_000, within: 10)) // midday schedule: charging
        let base124 = try #require(before.sunspecModels.first { $0.id == 124 }).address
        let batteryConnection = try Fixtures.connection(simulator, server: battery.server)
        // Discharge at 40 % of 150 kW for 60 s: OutWRte, then revert timer, then StorCtl_Mod = DISCHARGE.
        try await batteryConnection.writeRegister(address: base124 + offset(model124, "OutWRte"), value: 40, unit: battery.unitID)
        try await batteryConnection.writeRegister(address: base124 + offset(model124, "InOutWRte_RvrtTms"), value: 60, unit: battery.unitID)
        try await batteryConnection.writeRegister(address: base124 + offset(model124, "StorCtl_Mod"), value: 2, unit: battery.unitID)
        let during = try await Fixtures.read(battery, simulator: simulator)
        #expect(near(during.canonicalValue(.batteryPower), 60_000, within: 10))
        #expect(during.value("124.StorCtl_Mod")?.value == 2)
        #expect(during.value("124.OutWRte")?.value == 40)

        let pvBefore = try await Fixtures.read(pv, simulator: simulator)
        let meterBefore = try await Fixtures.read(meter, simulator: simulator)
        let available = try #require(pvBefore.canonicalValue(.pvPower))
        #expect(available > 6000)
        let base123 = try #require(pvBefore.sunspecModels.first { $0.id == 123 }).address
        let pvConnection = try Fixtures.connection(simulator, server: pv.server)
        // Limit to 20 % of 30 kW for 120 s: WMaxLimPct, its revert timer, then WMaxLim_Ena.
        try await pvConnection.writeRegister(address: base123 + offset(model123, "WMaxLimPct"), value: 20, unit: pv.unitID)
        try await pvConnection.writeRegister(address: base123 + offset(model123, "WMaxLimPct_RvrtTms"), value: 120, unit: pv.unitID)
        try await pvConnection.writeRegister(address: base123 + offset(model123, "WMaxLim_Ena"), value: 1, unit: pv.unitID)
        let limited = try await Fixtures.read(pv, simulator: simulator)
        #expect(near(limited.canonicalValue(.pvPower), 6000, within: 10))
        #expect(limited.value("103.St")?.value == 5) // THROTTLED
        let meterLimited = try await Fixtures.read(meter, simulator: simulator)
        let gridBefore = try #require(meterBefore.canonicalValue(.gridPower)), gridLimited = try #require(meterLimited.canonicalValue(.gridPower))
        #expect(near(gridLimited - gridBefore, available - 6000, within: 10)) // 103 W resolution: 10 W // the office now imports what the PV no longer gives

        clock.advance(milliseconds: 59_000)
        simulator.refresh()
        #expect(near(try await Fixtures.read(battery, simulator: simulator).canonicalValue(.batteryPower), 60_000, within: 10))
        clock.advance(milliseconds: 2_000)
        simulator.refresh()
        let reverted = try await Fixtures.read(battery, simulator: simulator)
        #expect(near(reverted.canonicalValue(.batteryPower), -100_000, within: 10))
        #expect(reverted.value("124.StorCtl_Mod")?.value == 0)
        #expect(near(try await Fixtures.read(pv, simulator: simulator).canonicalValue(.pvPower), 6000, within: 10))
        clock.advance(milliseconds: 60_000)
        simulator.refresh()
        let released = try await Fixtures.read(pv, simulator: simulator)
        #expect(try #require(released.canonicalValue(.pvPower)) > 6010)
        #expect(released.value("123.WMaxLim_Ena")?.value == 0)
        await batteryConnection.close()
        await pvConnection.close()
    }

    /// Over a simulated hour at 3600× on the scaled wall clock, the counters read over Modbus
    /// grow by exactly the integral of the power the inputs dictate.
    @Test func countersAgreeWithIntegratedPowerOverASimulatedHour() async throws {
        let scenario = try Fixtures.demoScenario()
        let realStart = SystemWallClock().now.rawValue
        // Shift the real clock so that simulated time starts at 11:30 UTC today-of-the-test.
        let origin = UTCMillisecondsShift.noonToday(realStart) - 1_800_000
        let clock = ScaledWallClock(origin: UTCMilliseconds(origin), speed: 3600, base: ShiftedClock(offset: origin - realStart))
        let simulator = try HubSimulator(scenario: scenario, catalog: Fixtures.catalog, clock: clock, origin: UTCMilliseconds(origin), logger: Fixtures.logger)
        defer { simulator.stop() }
        let watched = ["kantoor-grid", "metaalwerk-grid", "bakkerij-grid", "metaalwerk-pv-roof", "metaalwerk-pv-hall", "kantoor-pv"]
        var start: [String: DeviceSnapshot] = [:]
        let startTime = simulator.physics.time
        for id in watched { start[id] = try await Fixtures.read(scenario.device(id)!, simulator: simulator) }
        #expect(simulator.physics.time == startTime) // nothing moved while reading
        let loop = Task { await simulator.run(refreshInterval: .milliseconds(20)) }
        while simulator.physics.time < origin + 3_600_000 { try await Task.sleep(for: .milliseconds(20)) }
        loop.cancel()
        await loop.value
        let end = simulator.physics.time
        let physics = simulator.physics
        // Independent integration of the pure inputs: power is constant within each 1 s step.
        var expected: [String: Double] = [:]
        var time = startTime
        while time < end {
            let stepStart = time / 1000 * 1000
            let next = min(stepStart + 1000, end)
            let hours = Double(next - time) / 3_600_000
            for group in scenario.groups where ["metaalwerk", "kantoor", "bakkerij"].contains(group.id) {
                let pv = group.devices.filter { $0.role == .pvInverter }.map { physics.availablePVWatts($0, at: stepStart) }
                for (device, watts) in zip(group.devices.filter { $0.role == .pvInverter }, pv) { expected[device.id, default: 0] += watts * hours }
                let grid = physics.loadWatts(group, at: stepStart) - pv.reduce(0, +)
                let meter = group.devices.first { $0.role == .gridMeter }!.id
                expected[meter + "/import", default: 0] += max(0, grid) * hours
                expected[meter + "/export", default: 0] += max(0, -grid) * hours
            }
            time = next
        }
        for id in watched {
            let device = scenario.device(id)!
            let after = try await Fixtures.read(device, simulator: simulator)
            let before = try #require(start[id])
            if device.role == .pvInverter {
                let delta = try #require(after.canonicalValue(.pvEnergy)) - (try #require(before.canonicalValue(.pvEnergy)))
                #expect(delta > 1000)
                #expect(near(delta, expected[id] ?? 0, within: 1.01), "\(id)")
            } else {
                // SDM630 counters are float32 kWh: resolution about 8 Wh at these readings.
                let tolerance = device.map == .eastronSDM630 ? 16.0 : 1.01
                let imported = try #require(after.canonicalValue(.gridImportEnergy)) - (try #require(before.canonicalValue(.gridImportEnergy)))
                let exported = try #require(after.canonicalValue(.gridExportEnergy)) - (try #require(before.canonicalValue(.gridExportEnergy)))
                #expect(near(imported, expected[id + "/import"] ?? 0, within: tolerance), "\(id) import")
                #expect(near(exported, expected[id + "/export"] ?? 0, within: tolerance), "\(id) export")
                #expect(imported + exported > 1000)
            }
        }
    }
}

/// The real clock moved by a fixed offset (so a test at any hour can simulate noon).
struct ShiftedClock: UTCClock {
    let offset: Int64
    var now: UTCMilliseconds { UTCMilliseconds(SystemWallClock().now.rawValue + offset) }
}

enum UTCMillisecondsShift {
    static func noonToday(_ now: Int64) -> Int64 { now / 86_400_000 * 86_400_000 + 12 * 3_600_000 }
}
