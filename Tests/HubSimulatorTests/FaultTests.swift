import Acquisition
import DeviceProfiles
import HubSimulator
import ModbusIO
import Testing
import TestSupport

/// Scripted faults as a client sees them: each one the expected ModbusError kind.
@Suite(.serialized) struct FaultTests {
    static let scenarioText = """
        servers: [{ id: a, port: 0 }, { id: b, port: 0 }, { id: c, port: 0 }, { id: d, port: 0 }, { id: e, port: 0 }]
        companies:
          - id: werk
            load: { base_kw: 20 }
            devices:
              - { id: meter, map: sunspec-meter, server: a, unit_id: 1 }
              - { id: silent-pv, map: sunspec-inverter, server: b, unit_id: 1, rated_kw: 10 }
              - { id: failing-pv, map: sunspec-inverter-float, server: c, unit_id: 7, rated_kw: 10 }
              - { id: slow-pv, map: sunspec-inverter, server: d, unit_id: 1, rated_kw: 10 }
              - { id: dropping-pv, map: sunspec-inverter, server: e, unit_id: 1, rated_kw: 10 }
        faults:
          - { device: silent-pv, kind: silent, at: 0s, duration: 10m }
          - { device: failing-pv, kind: exception, code: 4 }
          - { device: slow-pv, kind: slow, delay: 1500ms }
          - { device: dropping-pv, kind: disconnect, at: 0s, duration: 10m }
          - { device: meter, kind: counter_reset, at: 10m }
        """

    static func start(_ clock: ManualClock) throws -> HubSimulator {
        let scenario = try ScenarioParser.parse(scenarioText, file: "faults.yaml")
        return try HubSimulator(scenario: scenario, catalog: Fixtures.catalog, clock: clock, logger: Fixtures.logger)
    }

    static func readError(_ simulator: HubSimulator, server: String, unit: Int = 1, timeout: Duration = .milliseconds(500)) async throws -> ModbusError? {
        let connection = try Fixtures.connection(simulator, server: server, timeout: timeout)
        defer { Task { await connection.close() } }
        do {
            _ = try await connection.readRegisters(.holding, address: 40000, count: 2, unit: unit)
            return nil
        } catch {
            return error
        }
    }

    @Test func silentDeviceTimesOutUntilTheFaultEnds() async throws {
        let clock = ManualClock(Fixtures.noon)
        let simulator = try Self.start(clock)
        defer { simulator.stop() }
        let error = try await Self.readError(simulator, server: "b")
        #expect(error?.kind == .timeout)
        #expect(error?.code == "modbus.timeout")
        clock.advance(milliseconds: 600_000)
        #expect(try await Self.readError(simulator, server: "b") == nil)
        // The acquisition sees the same fault as a device error with that code.
        let snapshotClock = ManualClock(Fixtures.noon)
        let other = try Self.start(snapshotClock)
        defer { other.stop() }
        let snapshot = try await Fixtures.read(other.scenario.device("silent-pv")!, simulator: other, timeout: .milliseconds(300))
        #expect(snapshot.health.lastError?.contains("timeout") == true)
    }

    @Test func exceptionFaultAnswersWithItsCode() async throws {
        let simulator = try Self.start(ManualClock(Fixtures.noon))
        defer { simulator.stop() }
        let error = try await Self.readError(simulator, server: "c", unit: 7)
        #expect(error?.kind == .exception(.serverDeviceFailure))
        #expect(error?.code == "modbus.exception.4")
    }

    @Test func slowDeviceAnswersLate() async throws {
        let simulator = try Self.start(ManualClock(Fixtures.noon))
        defer { simulator.stop() }
        #expect(try await Self.readError(simulator, server: "d")?.kind == .timeout)
        try await Task.sleep(for: .milliseconds(1200)) // let the server finish the late reply
        let started = ContinuousClock.now
        #expect(try await Self.readError(simulator, server: "d", timeout: .seconds(4)) == nil)
        #expect(ContinuousClock.now - started >= .milliseconds(1400))
    }

    @Test func disconnectFaultDropsTheConnection() async throws {
        let clock = ManualClock(Fixtures.noon)
        let simulator = try Self.start(clock)
        defer { simulator.stop() }
        let error = try await Self.readError(simulator, server: "e")
        #expect(error?.kind == .connectionLost)
        #expect(error?.breaksConnection == true)
        clock.advance(milliseconds: 600_000)
        #expect(try await Self.readError(simulator, server: "e") == nil)
    }

    @Test func counterResetIsSeenAsAFallingCounter() async throws {
        let clock = ManualClock(Fixtures.noon)
        let simulator = try Self.start(clock)
        defer { simulator.stop() }
        // At noon the company exports (20 kW load, 4 × 10 kW PV): watch the export counter.
        let meter = simulator.scenario.device("meter")!
        let before = try #require(try await Fixtures.read(meter, simulator: simulator).canonicalValue(.gridExportEnergy))
        #expect(before >= 10_000)
        clock.advance(milliseconds: 599_000)
        simulator.refresh()
        let grown = try #require(try await Fixtures.read(meter, simulator: simulator).canonicalValue(.gridExportEnergy))
        #expect(grown > before)
        clock.advance(milliseconds: 61_000)
        simulator.refresh()
        let snapshot = try await Fixtures.read(meter, simulator: simulator)
        let after = try #require(snapshot.canonicalValue(.gridExportEnergy))
        let state = try #require(simulator.state("meter"))
        #expect(after < 1000)
        #expect(near(after, state.exportWh, within: 1))
        // The import counter restarted at 0, which SunSpec acc32 reads as "not implemented" until it moves.
        #expect(state.importWh == 0)
        #expect(snapshot.canonicalValue(.gridImportEnergy) == nil)
    }
}
