import Acquisition
import DeviceProfiles
import Foundation
import HubDomain
import ModbusIO
import Synchronization
import Testing
import TestSupport

/// Verified writes (refused unless writable), and the metrics they and reads leave behind.
@Suite struct WriteAndMetricsTests {
    static func inverter(writable: Bool) -> AcquisitionDevice {
        var profile = Catalog.shared.profile("huawei-sun2000-inverter")!
        profile.options.connectDelay = .zero
        return AcquisitionDevice(id: "inverter", unitID: 1, profile: profile, writable: writable)
    }

    static func image() -> RegisterImage {
        var image = RegisterImage()
        image.put(unit: 1, at: 47415, [0, 0, 0, 1000])
        image.put(unit: 1, at: 40000, [0, 0])
        return image
    }

    @Test func aWriteIsRefusedUnlessTheDeviceIsWritable() async throws {
        let server = try Self.image().server()
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        let error = await #expect(throws: ModbusError.self) {
            try await DeviceWriter.write(50, to: "active_power_limit_percent", of: Self.inverter(writable: false), on: connection)
        }
        #expect(error?.kind == .writeNotAllowed)
        #expect(error?.description.contains("set writable: true to allow them") == true)
        #expect(server.requestCount == 0)
        let readOnly = await #expect(throws: ModbusError.self) {
            try await DeviceWriter.write(50, to: "active_power", of: Self.inverter(writable: true), on: connection)
        }
        #expect(readOnly?.detail == "point active_power is not writable in profile huawei-sun2000-inverter")
        #expect(server.requestCount == 0)
    }

    @Test func aWriteIsScaledSentAndVerifiedByReadingBack() async throws {
        let writes = Mutex<[ModbusServerRequest]>([])
        let server = try Self.image().server(onWrite: { request in writes.withLock { $0.append(request) } })
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        let readBack = try await DeviceWriter.write(55.5, to: "active_power_limit_percent", of: Self.inverter(writable: true), on: connection)
        #expect(close(readBack, 55.5))
        #expect(server.withMemory(unit: 1) { $0[holding: 47418] } == 555)
        #expect(writes.withLock { $0 } == [ModbusServerRequest(unit: 1, function: 6, address: 47418, count: 1)])
        // Two registers: function 16.
        let wide = AcquisitionDevice(id: "x", unitID: 1, profile: DeviceProfile(id: "wide", name: "Wide", points: [
            PointDefinition(name: "setpoint", table: .holding, address: 40000, type: .int32, unit: "W", writable: true),
        ]), writable: true)
        #expect(try await DeviceWriter.write(-70000, to: "setpoint", of: wide, on: connection) == -70000)
        #expect(writes.withLock { $0.last } == ModbusServerRequest(unit: 1, function: 16, address: 40000, count: 2))
    }

    @Test func aValueTheDeviceDoesNotKeepFailsVerification() async throws {
        let serverBox = Mutex<ModbusTCPServer?>(nil)
        // The device clamps the limit to 100.0 %, as real inverters do.
        let server = try Self.image().server(onWrite: { request in
            guard let server = serverBox.withLock({ $0 }) else { return }
            server.withMemory(unit: 1) { memory in memory[holding: request.address] = min(memory[holding: request.address], 1000) }
        })
        serverBox.withLock { $0 = server }
        defer { serverBox.withLock { $0 = nil }; server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        let error = await #expect(throws: ModbusError.self) {
            try await DeviceWriter.write(150, to: "active_power_limit_percent", of: Self.inverter(writable: true), on: connection)
        }
        #expect(error?.kind == .verificationFailed)
        #expect(error?.detail == "wrote [1500] but read back [1000]")
    }

    @Test func metricsCountTransactionsErrorsLatencyAndUtilisation() async throws {
        let metrics = AcquisitionMetrics()
        let timeout = ModbusError(.timeout, operation: "read", target: "x")
        metrics.recordTransaction(bus: "rs485", device: "meter", latency: .milliseconds(3), error: nil)
        metrics.recordTransaction(bus: "rs485", device: "meter", latency: .milliseconds(150), error: timeout)
        metrics.recordTransaction(bus: "rs485", device: "meter", latency: .milliseconds(4),
                                  error: ModbusError(.exception(.illegalDataAddress), operation: "read", target: "x"))
        metrics.recordBusCycle(bus: "rs485", busy: .milliseconds(250), elapsed: .seconds(1), overrun: false)
        let snapshot = metrics.snapshot()
        #expect(snapshot.devices["meter"]?.transactions == 3)
        #expect(snapshot.devices["meter"]?.errors == ["timeout": 1, "exception_2": 1])
        #expect(snapshot.buses["rs485"]?.utilisation == 0.25)
        let text = metrics.prometheusText()
        #expect(text.contains(#"hubmeter_modbus_transactions_total{bus="rs485",device="meter"} 3"#))
        #expect(text.contains(#"hubmeter_modbus_errors_total{bus="rs485",device="meter",kind="timeout"} 1"#))
        #expect(text.contains(#"hubmeter_modbus_latency_seconds_bucket{bus="rs485",device="meter",le="0.005"} 2"#))
        #expect(text.contains(#"hubmeter_modbus_latency_seconds_bucket{bus="rs485",device="meter",le="+Inf"} 3"#))
        #expect(text.contains(#"hubmeter_modbus_bus_utilisation_ratio{bus="rs485"} 0.25"#))
        #expect(text.hasPrefix("# TYPE hubmeter_modbus_transactions_total counter\n"))
        #expect(text.hasSuffix("\nhubmeter_modbus_bus_overruns_total{bus=\"rs485\"} 0\n") && !text.contains("\n\n"))
    }

    @Test func backoffDoublesFromOneCycleUpToItsLimit() {
        let cadence = CadenceSettings(cycle: .seconds(1), backoffLimit: .seconds(60))
        #expect((1...8).map { cadence.backoff(afterFailures: $0) } == [1, 2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) })
    }

    /// Pollers time back-off and slow points on the monotonic clock. Under a clock running 60×
    /// faster (tests, demos), one cycle of back-off must be 1/60 of the cycle in real time: in
    /// real time it left a 5-minute simulated gap after one failed cycle.
    @Test func cadenceInRealTimeFollowsAFasterClock() {
        let cadence = CadenceSettings(cycle: .seconds(6), slowInterval: .seconds(60), backoffLimit: .seconds(120))
        #expect(cadence.inRealTime(of: ScaledWallClock(origin: nil, speed: 60))
                == CadenceSettings(cycle: .milliseconds(100), slowInterval: .seconds(1), backoffLimit: .seconds(2)))
        #expect(cadence.inRealTime(of: SystemWallClock()) == cadence)
    }
}
