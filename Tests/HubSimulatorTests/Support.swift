import Acquisition
import DeviceProfiles
import HubDomain
import HubSimulator
import Logging
import ModbusIO
import Synchronization
import Testing
import TestSupport

/// A clock the test moves by hand: the simulator only changes when the test says so.
final class ManualClock: UTCClock {
    private let current: Mutex<Int64>
    init(_ start: Int64) { current = Mutex(start) }
    var now: UTCMilliseconds { UTCMilliseconds(current.withLock { $0 }) }
    func advance(milliseconds: Int64) { current.withLock { $0 += milliseconds } }
}

enum Fixtures {
    static let catalog: ProfileCatalog = try! ProfileCatalog(dataDirectory: RepositoryPaths.path("Config"))
    static let demoScenarioPath = RepositoryPaths.path("Config/demo/scenario.yaml")
    static let logger = Logger(label: "hubmeter.simulator.test") { _ in SwiftLogNoOpLogHandler() }
    /// 2026-06-21T12:00:00Z: midsummer noon, PV at its best.
    static let noon: Int64 = 1_782_043_200_000

    /// The demo scenario with every server on a free port.
    static func demoScenario() throws -> Scenario {
        var scenario = try ScenarioParser.load(path: demoScenarioPath)
        for index in scenario.servers.indices { scenario.servers[index].port = 0 }
        return scenario
    }

    /// How the agent would read a simulated device: the same profiles, the same acquisition code.
    static func read(_ device: Scenario.Device, simulator: HubSimulator, timeout: Duration = .seconds(2)) async throws -> DeviceSnapshot {
        let endpoint = try #require(simulator.endpoints[device.server])
        let profile = try #require(catalog.profile(device.map == .eastronSDM630 ? "eastron-sdm630" : "sunspec"))
        let acquisitionDevice = AcquisitionDevice(id: device.id, unitID: device.unitID, profile: profile)
        let bus = AcquisitionBus(id: device.server, endpoint: endpoint, timeout: timeout, devices: [acquisitionDevice])
        let connection = try ModbusConnection(endpoint: bus.endpoint, responseTimeout: timeout)
        defer { Task { await connection.close() } }
        return await AcquisitionService.readOnce(acquisitionDevice, on: connection, bus: bus, library: catalog.library,
                                                 clock: SystemWallClock(), metrics: AcquisitionMetrics())
    }

    static func connection(_ simulator: HubSimulator, server: String, timeout: Duration = .seconds(2)) throws -> ModbusConnection {
        try ModbusConnection(endpoint: try #require(simulator.endpoints[server]), responseTimeout: timeout)
    }
}

/// |value − expected| within an absolute tolerance (register resolution).
func near(_ value: Double?, _ expected: Double, within tolerance: Double) -> Bool {
    guard let value else { return false }
    return abs(value - expected) <= tolerance
}

extension DeviceSnapshot {
    func canonicalValue(_ quantity: CanonicalQuantity) -> Double? { canonical[quantity]?.value }
}
