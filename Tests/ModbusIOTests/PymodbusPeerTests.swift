import Foundation
import ModbusIO
import Testing
import TestSupport

/// Our client and server against an independent implementation: pymodbus (Debian's python3-pymodbus).
@Suite(.serialized) struct PymodbusPeerTests {
    static let peerScript = RepositoryPaths.path("Tests/Peers/pymodbus_peer.py")
    static let image = """
    {"units": {"1": {"holding": {"40000": [21365, 28243, 1, 66, 65535, 32768]}, "input": {"0": [7, 8, 9]}},
               "3": {"holding": {"100": [300, 301]}}}}
    """

    static func startPeerServer(extraArguments: [String]) async throws -> ChildProcess {
        let directory = try RepositoryPaths.makeTemporaryDirectory("pymodbus")
        try image.write(toFile: directory + "/image.json", atomically: true, encoding: .utf8)
        let peer = try ChildProcess(executable: RepositoryPaths.systemPython,
                                    arguments: [peerScript] + extraArguments + ["--image", directory + "/image.json"])
        let deadline = ContinuousClock.now + .seconds(15)
        while !peer.output.contains("READY") {
            guard peer.isRunning, ContinuousClock.now < deadline else {
                throw TestSupportError("pymodbus peer did not start: \(peer.output)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return peer
    }

    @Test func ourClientReadsAPymodbusTCPServer() async throws {
        let port = try freePort()
        let peer = try await Self.startPeerServer(extraArguments: ["server-tcp", "--port", String(port)])
        defer { peer.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: port), responseTimeout: .seconds(2))
        #expect(try await connection.readRegisters(.holding, address: 40000, count: 6, unit: 1) == [21365, 28243, 1, 66, 65535, 32768])
        #expect(try await connection.readRegisters(.input, address: 0, count: 3, unit: 1) == [7, 8, 9])
        #expect(try await connection.readRegisters(.holding, address: 100, count: 2, unit: 3) == [300, 301])
        let unmapped = await #expect(throws: ModbusError.self) {
            _ = try await connection.readRegisters(.holding, address: 5, count: 2, unit: 1)
        }
        #expect(unmapped?.kind == .exception(.illegalDataAddress))
        // pymodbus stays silent for a unit it does not serve: a timeout, not a hang.
        let silent = await #expect(throws: ModbusError.self) {
            _ = try await connection.readRegisters(.holding, address: 100, count: 1, unit: 9)
        }
        #expect(silent?.kind == .timeout)
        #expect(try await connection.readRegisters(.holding, address: 40003, count: 1, unit: 1) == [66])
    }

    @Test func pymodbusClientReadsOurServer() async throws {
        let memory = try #require(ModbusUnitMemory(holding: 40000..<40010, input: 30000..<30004))
        memory.set(.holding, at: 40000, [0x5375, 0x6E53, 1, 66])
        memory.set(.input, at: 30000, [1, 2, 3, 4])
        let server = try ModbusTCPServer(units: [5: memory])
        defer { server.stop() }
        let holding = try runCommand(RepositoryPaths.systemPython, [Self.peerScript, "client-tcp", "--port", String(server.port),
                                                                    "--unit", "5", "--address", "40000", "--count", "4"])
        #expect(holding.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"registers": [21365, 28243, 1, 66]}"#)
        let input = try runCommand(RepositoryPaths.systemPython, [Self.peerScript, "client-tcp", "--port", String(server.port),
                                                                  "--unit", "5", "--kind", "input", "--address", "30000", "--count", "4"])
        #expect(input.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"registers": [1, 2, 3, 4]}"#)
        let outside = try runCommand(RepositoryPaths.systemPython, [Self.peerScript, "client-tcp", "--port", String(server.port),
                                                                    "--unit", "5", "--address", "1", "--count", "1"])
        #expect(outside.status == 1)
        #expect(outside.stdout.contains(#""exception_code": 2"#))
    }

    @Test func rtuOverAPtyPairAgainstPymodbus() async throws {
        let directory = try RepositoryPaths.makeTemporaryDirectory("pty")
        let ourEnd = directory + "/hubmeter", peerEnd = directory + "/peer"
        let socat = try ChildProcess(executable: "/usr/bin/socat",
                                     arguments: ["pty,raw,echo=0,link=\(ourEnd)", "pty,raw,echo=0,link=\(peerEnd)"])
        defer { socat.stop() }
        let deadline = ContinuousClock.now + .seconds(5)
        while !(FileManager.default.fileExists(atPath: ourEnd) && FileManager.default.fileExists(atPath: peerEnd)) {
            guard ContinuousClock.now < deadline else { throw TestSupportError("socat made no pty pair: \(socat.output)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let peer = try await Self.startPeerServer(extraArguments: ["server-rtu", "--device", peerEnd, "--baud", "19200"])
        defer { peer.stop() }

        let bus = try ModbusConnection(endpoint: .rtu(.init(device: ourEnd, baud: 19200)), responseTimeout: .seconds(2))
        #expect(try await bus.readRegisters(.holding, address: 40000, count: 4, unit: 1) == [21365, 28243, 1, 66])
        #expect(try await bus.readRegisters(.holding, address: 100, count: 2, unit: 3) == [300, 301])
        // No device 9 on this bus: it times out and the bus keeps working for its neighbours.
        let silent = await #expect(throws: ModbusError.self) {
            _ = try await bus.readRegisters(.holding, address: 100, count: 1, unit: 9)
        }
        #expect(silent?.kind == .timeout)
        #expect(try await bus.readRegisters(.input, address: 0, count: 3, unit: 1) == [7, 8, 9])
    }

    @Test func missingSerialDeviceIsAConnectionError() async throws {
        let bus = try ModbusConnection(endpoint: .rtu(.init(device: "/dev/hubmeter-no-such-tty")))
        let error = await #expect(throws: ModbusError.self) { try await bus.connect() }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.errnoValue == ENOENT)
    }
}
