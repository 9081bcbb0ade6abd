import Foundation
import ModbusIO
import Synchronization
import Testing
import TestSupport

/// Our client against our in-process libmodbus server, over real TCP on loopback.
@Suite struct ModbusServerClientTests {
    static func makeServer(policy: @escaping ModbusTCPServer.Policy = { _ in .reply },
                           onWrite: ModbusTCPServer.WriteObserver? = nil) throws -> ModbusTCPServer {
        let unit1 = try #require(ModbusUnitMemory(holding: 40000..<40100, input: 0..<10, coils: 0..<16, discreteInputs: 0..<8))
        let unit7 = try #require(ModbusUnitMemory(holding: 0..<4))
        unit1.set(.holding, at: 40000, [0x5375, 0x6E53, 1, 66])
        unit1.set(.input, at: 0, [11, 22, 33])
        unit1[discreteInput: 3] = true
        unit7.set(.holding, at: 0, [7, 7, 7, 7])
        return try ModbusTCPServer(units: [1: unit1, 7: unit7], policy: policy, onWrite: onWrite)
    }

    @Test func readsHoldingAndInputRegistersOfSeveralUnitsOnOnePort() async throws {
        let server = try Self.makeServer()
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        #expect(try await connection.readRegisters(.holding, address: 40000, count: 4, unit: 1) == [0x5375, 0x6E53, 1, 66])
        #expect(try await connection.readRegisters(.input, address: 0, count: 3, unit: 1) == [11, 22, 33])
        #expect(try await connection.readRegisters(.holding, address: 0, count: 4, unit: 7) == [7, 7, 7, 7])
        #expect(try await connection.readBits(.discreteInput, address: 2, count: 3, unit: 1) == [false, true, false])
        #expect(server.requestCount == 4)
    }

    /// Waits until `fd` is ready for `events` (or `milliseconds` pass).
    static func wait(_ fd: Int32, for events: Int32, milliseconds: Int32 = 2000) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
        return poll(&entry, 1, milliseconds) == 1
    }

    /// The split form the shared TCP loop uses: connect without blocking, send, wait, receive.
    @Test func splitTransactionsReadWhatTheBlockingOnesRead() async throws {
        let server = try Self.makeServer(policy: { $0.unit == 7 ? .ignore : .reply })
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        let connecting = try await connection.startConnect()
        #expect(Self.wait(connecting, for: Int32(POLLOUT)))
        try await connection.finishConnect()
        #expect(await connection.isConnected)
        #expect(await connection.connectionGeneration == 1)
        let socket = await connection.socketDescriptor

        var buffer = [UInt16](repeating: 0, count: 3)
        try await connection.sendRead(.input, address: 0, count: 3, unit: 1)
        #expect(Self.wait(socket, for: Int32(POLLIN)))
        try await connection.receiveRead(into: &buffer)
        #expect(buffer == [11, 22, 33])

        try await connection.sendRead(.discreteInput, address: 2, count: 3, unit: 1)
        #expect(Self.wait(socket, for: Int32(POLLIN)))
        try await connection.receiveRead(into: &buffer)
        #expect(buffer == [0, 1, 0])

        // An exception is an answer: the connection stays.
        try await connection.sendRead(.holding, address: 30000, count: 2, unit: 1)
        #expect(Self.wait(socket, for: Int32(POLLIN)))
        let refused = await #expect(throws: ModbusError.self) { try await connection.receiveRead(into: &buffer) }
        #expect(refused?.kind == .exception(.illegalDataAddress))
        #expect(await connection.isConnected)

        // No answer: abandoning the read closes the connection, so a late answer is never read.
        try await connection.sendRead(.holding, address: 0, count: 4, unit: 7)
        #expect(!Self.wait(socket, for: Int32(POLLIN), milliseconds: 100))
        let timeout = await connection.abandonRead()
        #expect(timeout.kind == .timeout)
        #expect(timeout.description.contains("read 4 holding registers at 0"))
        #expect(await connection.isConnected == false)
        let closed = await #expect(throws: ModbusError.self) { try await connection.sendRead(.input, address: 0, count: 1, unit: 1) }
        #expect(closed?.kind == .connectionLost)
    }

    @Test func aRefusedNonBlockingConnectIsAConnectionFailure() async throws {
        let server = try Self.makeServer()
        let port = server.port
        server.stop()
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: port))
        let fd = try await connection.startConnect()
        #expect(Self.wait(fd, for: Int32(POLLOUT)))
        let refused = await #expect(throws: ModbusError.self) { try await connection.finishConnect() }
        #expect(refused?.kind == .connectionFailed)
        #expect(refused?.description.contains("ECONNREFUSED") == true)
        #expect(await connection.isConnected == false)
    }

    /// Several servers on one shared thread: each serves its own units, and one stopping leaves
    /// the others serving.
    @Test func serversSharingAThreadServeAndStopIndependently() async throws {
        let thread = try ModbusServerThread()
        defer { thread.finish() }
        func server(_ value: UInt16) throws -> ModbusTCPServer {
            let memory = try #require(ModbusUnitMemory(holding: 0..<2))
            memory.set(.holding, at: 0, [value, value + 1])
            return try ModbusTCPServer(units: [1: memory], thread: thread)
        }
        let first = try server(100), second = try server(200)
        defer { second.stop() }
        let toFirst = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: first.port))
        let toSecond = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: second.port))
        #expect(try await toFirst.readRegisters(.holding, address: 0, count: 2, unit: 1) == [100, 101])
        #expect(try await toSecond.readRegisters(.holding, address: 0, count: 2, unit: 1) == [200, 201])
        first.stop()
        let gone = await #expect(throws: ModbusError.self) { _ = try await toFirst.readRegisters(.holding, address: 0, count: 2, unit: 1) }
        #expect(gone?.kind == .connectionLost || gone?.kind == .connectionFailed)
        #expect(try await toSecond.readRegisters(.holding, address: 0, count: 2, unit: 1) == [200, 201])
        #expect(second.requestCount == 2)
    }

    @Test func writesAreObservedAndReadBack() async throws {
        let writes = Mutex<[ModbusServerRequest]>([])
        let server = try Self.makeServer(onWrite: { request in writes.withLock { $0.append(request) } })
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        try await connection.writeRegister(address: 40010, value: 1234, unit: 1)
        try await connection.writeRegisters(address: 40020, values: [1, 2, 3], unit: 1)
        try await connection.writeCoil(address: 5, value: true, unit: 1)
        #expect(try await connection.readRegisters(.holding, address: 40020, count: 3, unit: 1) == [1, 2, 3])
        #expect(server.withMemory(unit: 1) { $0[holding: 40010] } == 1234)
        #expect(try await connection.readBits(.coil, address: 5, count: 1, unit: 1) == [true])
        #expect(writes.withLock { $0 } == [
            ModbusServerRequest(unit: 1, function: 6, address: 40010, count: 1),
            ModbusServerRequest(unit: 1, function: 16, address: 40020, count: 3),
            ModbusServerRequest(unit: 1, function: 5, address: 5, count: 1),
        ])
    }

    @Test func exceptionResponsesAreNamed() async throws {
        let server = try Self.makeServer(policy: { request in
            request.address == 40050 ? .exception(.serverDeviceBusy) : .reply
        })
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        // Outside the unit's memory: libmodbus itself answers "illegal data address".
        let outside = await #expect(throws: ModbusError.self) {
            _ = try await connection.readRegisters(.holding, address: 30000, count: 2, unit: 1)
        }
        #expect(outside?.kind == .exception(.illegalDataAddress))
        #expect(outside?.code == "modbus.exception.2")
        #expect(outside?.description == "read 2 holding registers at 30000 on tcp://127.0.0.1:\(server.port) unit 1 failed: device answered Modbus exception 2 (illegal data address)")

        let busy = await #expect(throws: ModbusError.self) {
            _ = try await connection.readRegisters(.holding, address: 40050, count: 1, unit: 1)
        }
        #expect(busy?.kind == .exception(.serverDeviceBusy))

        // A unit the server does not have: the gateway says so rather than staying silent.
        let missing = await #expect(throws: ModbusError.self) {
            _ = try await connection.readRegisters(.holding, address: 0, count: 1, unit: 42)
        }
        #expect(missing?.kind == .exception(.gatewayTargetFailedToRespond))
        // Exceptions leave the connection usable.
        #expect(try await connection.readRegisters(.holding, address: 40002, count: 1, unit: 1) == [1])
    }

    @Test func silentDeviceTimesOutAndTheConnectionRecovers() async throws {
        let silent = Mutex(true)
        let server = try Self.makeServer(policy: { _ in silent.withLock { $0 } ? .ignore : .reply })
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port), responseTimeout: .milliseconds(200))
        let error = await #expect(throws: ModbusError.self) {
            _ = try await connection.readRegisters(.holding, address: 40000, count: 1, unit: 1)
        }
        #expect(error?.kind == .timeout)
        #expect(error?.code == "modbus.timeout")
        silent.withLock { $0 = false }
        #expect(try await connection.readRegisters(.holding, address: 40000, count: 1, unit: 1) == [0x5375])
    }

    @Test func connectionRefusedIsAConnectionError() async throws {
        let port = try freePort()
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: port))
        let error = await #expect(throws: ModbusError.self) {
            _ = try await connection.readRegisters(.holding, address: 0, count: 1, unit: 1)
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.errnoValue == ECONNREFUSED)
        #expect(error?.description.contains("ECONNREFUSED: connection refused") == true)
        #expect(await connection.isConnected == false)
    }

    @Test func droppedConnectionIsReportedThenReopened() async throws {
        let server = try Self.makeServer()
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        #expect(try await connection.readRegisters(.holding, address: 40003, count: 1, unit: 1) == [66])
        server.dropClients()
        try await Task.sleep(for: .milliseconds(50))
        // The first transaction after the drop finds the socket closed; the one after reconnects.
        var results: [Result<[UInt16], ModbusError>] = []
        for _ in 0..<2 {
            do {
                results.append(.success(try await connection.readRegisters(.holding, address: 40003, count: 1, unit: 1)))
            } catch {
                results.append(.failure(error))
            }
        }
        if case .failure(let error) = results[0] {
            #expect([.connectionLost, .timeout, .invalidResponse].contains(error.kind))
        }
        #expect(try results[1].get() == [66])
    }

    @Test func invalidRequestsAreRefusedBeforeSending() async throws {
        let server = try Self.makeServer()
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        let tooMany = await #expect(throws: ModbusError.self) {
            _ = try await connection.readRegisters(.holding, address: 40000, count: 126, unit: 1)
        }
        #expect(tooMany?.kind == .invalidRequest)
        #expect(server.requestCount == 0)
    }

    @Test func aSlowConnectionDoesNotDelayAnother() async throws {
        // The slow device holds its reply until the fast reads are done (or 10 s pass). If the
        // fast connection waited for the slow one, "slow" would finish first.
        let release = DispatchSemaphore(value: 0)
        let slowServer = try Self.makeServer(policy: { _ in
            _ = release.wait(timeout: .now() + 10)
            return .reply
        })
        let fastServer = try Self.makeServer()
        defer { release.signal(); slowServer.stop(); fastServer.stop() }
        let slow = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: slowServer.port), responseTimeout: .seconds(15))
        let fast = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: fastServer.port))
        let order = Mutex<[String]>([])
        async let slowRead: Void = {
            _ = try await slow.readRegisters(.holding, address: 40000, count: 1, unit: 1)
            order.withLock { $0.append("slow") }
        }()
        while slowServer.requestCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        for _ in 0..<5 {
            _ = try await fast.readRegisters(.holding, address: 40000, count: 1, unit: 1)
        }
        order.withLock { $0.append("fast") }
        release.signal()
        try await slowRead
        #expect(order.withLock { $0 } == ["fast", "slow"])
    }
}
