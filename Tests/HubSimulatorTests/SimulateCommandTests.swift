import Foundation
import ModbusIO
import Testing
import TestSupport

/// `hubmeter simulate` as a child process: serves, stops cleanly on SIGTERM, rejects a broken scenario with 78.
@Suite(.serialized) struct SimulateCommandTests {
    @Test func servesUntilSIGTERM() async throws {
        let directory = try RepositoryPaths.makeTemporaryDirectory("simulate")
        let path = directory + "/scenario.yaml"
        try """
            seed: 3
            servers: [{ id: lan, port: 0 }]
            companies:
              - id: werk
                load: { base_kw: 20 }
                devices:
                  - { id: werk-grid, map: eastron-sdm630, server: lan, unit_id: 5 }
                  - { id: werk-pv, map: sunspec-inverter, server: lan, unit_id: 6, rated_kw: 40 }
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let child = try ChildProcess(executable: RepositoryPaths.hubmeterBinary,
                                     arguments: ["simulate", path, "--speed", "60", "--data-directory", RepositoryPaths.path("Config")])
        defer { child.stop() }
        let deadline = ContinuousClock.now + .seconds(20)
        while !child.output.contains("hubmeter simulate: ready") {
            guard child.isRunning, ContinuousClock.now < deadline else { throw TestSupportError("simulator did not start: \(child.output)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let line = try #require(child.output.split(separator: "\n").first { $0.contains("server lan: tcp://127.0.0.1:") })
        let port = try #require(Int(line.split(separator: ":").last!))
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: port), responseTimeout: .seconds(2))
        #expect(try await connection.readRegisters(.holding, address: 40000, count: 4, unit: 6) == [0x5375, 0x6E53, 1, 66])
        #expect(try await connection.readRegisters(.input, address: 0, count: 2, unit: 5).count == 2)
        await connection.close()
        child.send(signal: SIGTERM)
        #expect(child.waitForExit(timeout: .seconds(10)) == 0)
        #expect(child.output.contains("hubmeter simulate: stopped"))
    }

    @Test func invalidScenarioExits78WithPosition() throws {
        let directory = try RepositoryPaths.makeTemporaryDirectory("simulate")
        let path = directory + "/bad.yaml"
        try """
            servers: [{ id: lan, port: 0 }]
            companies:
              - id: werk
                load: { base_kw: 20, peak_kw: 3 }
                devices: []
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["simulate", path, "--data-directory", RepositoryPaths.path("Config")])
        #expect(result.status == 78)
        #expect(result.stderr.contains("\(path):4:26: companies[0].load.peak_kw: unknown key"), "\(result.stderr)")
    }
}
