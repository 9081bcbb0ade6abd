import Acquisition
import DeviceProfiles
import HubDomain
import ModbusIO
import Synchronization
import Testing
import TestSupport

/// The shared loop of the Modbus TCP buses, on real servers over loopback: which buses it takes,
/// that a silent endpoint costs the others nothing, and that a late answer is never taken for
/// the next one.
@Suite(.serialized) struct TCPPollingLoopTests {
    static func device(_ id: String, _ profile: String, unit: Int = 1) -> AcquisitionDevice {
        AcquisitionDevice(id: id, unitID: unit, profile: Catalog.shared.profile(profile)!)
    }

    @Test func takesTCPBusesThatNeedNothingBlocking() throws {
        let meter = Self.device("meter", "eastron-sdm630")
        var paced = AcquisitionBus(id: "paced", endpoint: .tcp(host: "127.0.0.1", port: 1502), devices: [meter])
        paced.turnaroundDelay = .milliseconds(20)
        var slowDevice = meter
        slowDevice.requestDelay = .milliseconds(50)
        let buses = [
            AcquisitionBus(id: "plain", endpoint: .tcp(host: "127.0.0.1", port: 1502), devices: [meter]),
            paced,
            AcquisitionBus(id: "slow-unit", endpoint: .tcp(host: "127.0.0.1", port: 1503), devices: [slowDevice]),
            AcquisitionBus(id: "sunspec", endpoint: .tcp(host: "127.0.0.1", port: 1504), devices: [Self.device("inverter", "sunspec")]),
            AcquisitionBus(id: "rs485", endpoint: .rtu(.init(device: "/dev/ttyUSB0")), devices: [meter]),
        ]
        let service = try AcquisitionService(buses: buses, cadence: CadenceSettings(), library: Catalog.shared.library,
                                             clock: SystemWallClock(), metrics: AcquisitionMetrics(), logger: testLogger)
        #expect(service.sharedLoopBusIDs == ["plain", "sunspec"])
    }

    /// Three endpoints on the loop, the first one silent: the other two still answer right after
    /// every cycle start (a loop that waited for the silent one would deliver them 600 ms late).
    @Test func aSilentEndpointCostsTheOtherBusesNothing() async throws {
        let silentServer = try PollingBehaviourTests.fixtureImage("eastron-sdm630").server(policy: { _ in .ignore })
        let janitza = try PollingBehaviourTests.fixtureImage("janitza-umg96rm").server()
        let em24 = try PollingBehaviourTests.fixtureImage("carlo-gavazzi-em24").server()
        defer { silentServer.stop(); janitza.stop(); em24.stop() }
        func bus(_ id: String, _ port: Int, _ device: AcquisitionDevice) -> AcquisitionBus {
            AcquisitionBus(id: id, endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .milliseconds(600), devices: [device])
        }
        let service = try AcquisitionService(
            buses: [bus("silent", silentServer.port, Self.device("silent", "eastron-sdm630")),
                    bus("a", janitza.port, Self.device("umg", "janitza-umg96rm")),
                    bus("b", em24.port, Self.device("em24", "carlo-gavazzi-em24"))],
            cadence: CadenceSettings(cycle: .seconds(1), backoffLimit: .seconds(1)), library: Catalog.shared.library,
            clock: SystemWallClock(), metrics: AcquisitionMetrics(), logger: testLogger)
        #expect(service.sharedLoopBusIDs == ["silent", "a", "b"])
        let arrivals = Mutex<[String: [Int64]]>([:])
        let task = Task { await service.run { snapshot in
            let now = SystemWallClock().now.rawValue
            if snapshot.canonical[.gridPower]?.quality == .good { arrivals.withLock { $0[snapshot.device, default: []].append(now) } }
        } }
        try await Task.sleep(for: .milliseconds(3300))
        task.cancel()
        await task.value
        let seen = arrivals.withLock { $0 }
        for device in ["umg", "em24"] {
            let times = try #require(seen[device])
            #expect(times.count >= 3, "\(device): \(times.count) good snapshots")
            for time in times { #expect(time % 1000 < 300, "\(device) delivered \(time % 1000) ms after the cycle start") }
        }
        #expect(seen["silent"] == nil)
        #expect(await service.connection(bus: "silent")!.isConnected == false)
    }

    /// The first answer comes after the deadline: the read fails, the connection is dropped with
    /// it, and every later cycle reads the device's own values from a new connection.
    @Test func aLateAnswerIsDroppedWithItsConnection() async throws {
        let requests = Mutex(0)
        let server = try PollingBehaviourTests.fixtureImage("janitza-umg96rm").server(policy: { _ in
            requests.withLock { count in
                count += 1
                return count == 1 ? .delay(.milliseconds(400)) : .reply
            }
        })
        defer { server.stop() }
        let service = try AcquisitionService(
            buses: [AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(150),
                                   devices: [Self.device("umg", "janitza-umg96rm")])],
            cadence: CadenceSettings(cycle: .milliseconds(200), backoffLimit: .milliseconds(200)), library: Catalog.shared.library,
            clock: SystemWallClock(), metrics: AcquisitionMetrics(), logger: testLogger)
        let recorder = try await PollingBehaviourTests.run(service, for: .milliseconds(1500))
        let qualities = recorder[device: "umg"].compactMap { $0.canonical[.gridPower]?.quality }
        guard case .error(code: "modbus.timeout", _) = qualities.first else {
            Issue.record("the first read should time out, got \(qualities.first.map { "\($0)" } ?? "nothing")")
            return
        }
        let good = recorder[device: "umg"].filter { $0.canonical[.gridPower]?.quality == .good }
        #expect(good.count >= 3)
        for snapshot in good { #expect(close(snapshot.canonical[.gridPower]?.value, -2500.5)) }
        #expect(await service.connection(bus: "lan")!.connectionGeneration >= 2)
    }
    /// SunSpec devices are discovered on the loop, read by read, like any other cycle.
    @Test func sunSpecDevicesAreDiscoveredOnTheLoop() async throws {
        let (image, images) = SunSpecAcquisitionTests.makeImage()
        let server = try image.server()
        defer { server.stop() }
        let devices = [1, 3, 4].map { Self.device("unit\($0)", "sunspec", unit: $0) }
        let service = try AcquisitionService(
            buses: [AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .seconds(1), devices: devices)],
            cadence: CadenceSettings(cycle: .milliseconds(300), backoffLimit: .seconds(5)), library: Catalog.shared.library,
            clock: SystemWallClock(), metrics: AcquisitionMetrics(), logger: testLogger)
        #expect(service.sharedLoopBusIDs == ["lan"])
        let recorder = try await PollingBehaviourTests.run(service, for: .milliseconds(1000))
        let inverter = try #require(recorder[device: "unit1"].last)
        #expect(inverter.sunspecModels == images[1]?.models)
        #expect(inverter.health.state == .online)
        #expect(close(inverter.canonical[.pvPower]?.value, 123.4))
        let late = try #require(recorder[device: "unit3"].last)
        #expect(late.sunspecModels == images[3]?.models)
        #expect(late.health.state == .online)
        let none = try #require(recorder[device: "unit4"].last)
        #expect(none.health.state == .backingOff)
        #expect(none.health.lastError?.contains("no SunS marker at 40000, 0 or 50000") == true)
    }
}
