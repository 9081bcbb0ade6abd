import Acquisition
import DeviceProfiles
import Foundation
import HubDomain
import ModbusIO
import Synchronization
import Testing
import TestSupport

/// The poll loop on real Modbus: exceptions, timeouts, backoff, stale values, dropped
/// connections, wall-clock alignment, and a dead device on a shared RTU bus.
@Suite(.serialized) struct PollingBehaviourTests {
    static func fixtureImage(_ profile: String, unit: Int? = nil) throws -> RegisterImage {
        let path = RepositoryPaths.path("Tests/AcquisitionTests/Fixtures/profile-images/\(profile).json")
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var image = RegisterImage(json: document["image"]!)
        if let unit, let only = image.units.first {
            image.units = [unit: only.value]
        }
        return image
    }

    static func merge(_ images: RegisterImage...) -> RegisterImage {
        var merged = RegisterImage()
        for image in images { merged.units.merge(image.units) { first, _ in first } }
        return merged
    }

    /// Collects snapshots per device while a service runs for `duration`.
    final class Recorder: Sendable {
        let snapshots = Mutex<[String: [DeviceSnapshot]]>([:])
        func record(_ snapshot: DeviceSnapshot) { snapshots.withLock { $0[snapshot.device, default: []].append(snapshot) } }
        subscript(device device: String) -> [DeviceSnapshot] { snapshots.withLock { $0[device] ?? [] } }
    }

    static func run(_ service: AcquisitionService, for duration: Duration, while body: @Sendable () async throws -> Void = {}) async throws -> Recorder {
        let recorder = Recorder()
        let task = Task { await service.run { recorder.record($0) } }
        try await body()
        try await Task.sleep(for: duration)
        task.cancel()
        await task.value
        return recorder
    }

    @Test func anExceptionSpoilsOnlyItsOwnBlock() async throws {
        let image = try Self.fixtureImage("eastron-sdm630")
        // Two blocks: the measurements (input registers) and the serial number (holding register).
        let server = try image.server(policy: { $0.function == 3 && $0.address == 0xFC00 ? .exception(.serverDeviceBusy) : .reply })
        defer { server.stop() }
        let device = AcquisitionDevice(id: "meter", unitID: 1, profile: Catalog.shared.profile("eastron-sdm630")!)
        let bus = AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: server.port), devices: [device])
        let snapshot = await AcquisitionService.readOnce(device, on: try ModbusConnection(endpoint: bus.endpoint), bus: bus,
                                                         library: Catalog.shared.library, clock: SystemWallClock(), metrics: AcquisitionMetrics())
        #expect(snapshot.health.state == .online)
        #expect(snapshot.value("serial_number")?.quality == .error(code: "modbus.exception.6",
            message: "read 2 holding registers at 64512 on tcp://127.0.0.1:\(server.port) unit 1 failed: device answered Modbus exception 6 (server device busy)"))
        #expect(snapshot.value("serial_number")?.value == nil)
        #expect(snapshot.canonical[.gridPower]?.quality == .good)
        #expect(snapshot.value("voltage_l1")?.quality == .good)
    }

    @Test func aSilentDeviceBacksOffGoesStaleAndIsReprobed() async throws {
        let silent = Mutex(true)
        let image = Self.merge(try Self.fixtureImage("eastron-sdm630"), try Self.fixtureImage("carlo-gavazzi-em24", unit: 9))
        let server = try image.server(policy: { request in request.unit == 9 && silent.withLock { $0 } ? .ignore : .reply })
        defer { server.stop() }
        let good = AcquisitionDevice(id: "good", unitID: 1, profile: Catalog.shared.profile("eastron-sdm630")!)
        let dead = AcquisitionDevice(id: "dead", unitID: 9, profile: Catalog.shared.profile("carlo-gavazzi-em24")!)
        let metrics = AcquisitionMetrics()
        let service = try AcquisitionService(
            buses: [AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(100), devices: [good, dead])],
            cadence: CadenceSettings(cycle: .milliseconds(200), slowInterval: .seconds(1), backoffLimit: .milliseconds(800)),
            library: Catalog.shared.library, clock: SystemWallClock(), metrics: metrics, logger: testLogger)
        let recorder = try await Self.run(service, for: .milliseconds(2900))
        let goodSnapshots = recorder[device: "good"], deadSnapshots = recorder[device: "dead"]
        #expect(goodSnapshots.count >= 10) // about 14 cycles; slack for a loaded test machine
        // The neighbour kept its cadence: good in every cycle but the first reconnect after a timeout.
        let goodCycles = goodSnapshots.filter { $0.canonical[.gridPower]?.quality == .good }.count
        #expect(goodCycles >= goodSnapshots.count - 2)
        // The dead device cost a timeout only when probed: backoff 200, 400, 800, 800 ms.
        let deadTransactions = metrics.snapshot().devices["dead"]?.transactions ?? 0
        #expect(deadTransactions >= 3 && deadTransactions <= 6, "\(deadTransactions) probes")
        #expect(metrics.snapshot().devices["dead"]?.errors["timeout"] == deadTransactions)
        let last = try #require(deadSnapshots.last)
        #expect(last.health.state == .backingOff)
        #expect(last.health.consecutiveFailures >= 3)
        #expect(last.canonical[.gridPower]?.value == nil)

        // Revived: it is found again at the next probe, within the backoff limit.
        silent.withLock { $0 = false }
        let revived = try await Self.run(service, for: .milliseconds(1500))
        #expect(revived[device: "dead"].last?.canonical[.gridPower]?.quality == .good)
        #expect(close(revived[device: "dead"].last?.canonical[.gridPower]?.value, -3500))
    }

    @Test func valuesTurnStaleWithTheirAgeWhileTheDeviceBacksOff() async throws {
        let silent = Mutex(false)
        let image = try Self.fixtureImage("janitza-umg96rm")
        let server = try image.server(policy: { _ in silent.withLock { $0 } ? .ignore : .reply })
        defer { server.stop() }
        let device = AcquisitionDevice(id: "umg", unitID: 1, profile: Catalog.shared.profile("janitza-umg96rm")!)
        let service = try AcquisitionService(
            buses: [AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(100), devices: [device])],
            cadence: CadenceSettings(cycle: .milliseconds(200), backoffLimit: .seconds(5)),
            library: Catalog.shared.library, clock: SystemWallClock(), metrics: AcquisitionMetrics(), logger: testLogger)
        let recorder = try await Self.run(service, for: .milliseconds(1700)) {
            try await Task.sleep(for: .milliseconds(500))
            silent.withLock { $0 = true }
        }
        let snapshots = recorder[device: "umg"]
        let qualities = snapshots.compactMap { $0.canonical[.gridPower]?.quality }
        #expect(qualities.first == .good)
        #expect(qualities.contains { if case .error(code: "modbus.timeout", _) = $0 { true } else { false } })
        // Between probes the last good value is served, flagged stale with its age.
        let stale = snapshots.filter { if case .stale = $0.canonical[.gridPower]?.quality { true } else { false } }
        #expect(!stale.isEmpty, "expected stale values while backing off, got \(qualities)")
        for snapshot in stale {
            guard case .stale(let age) = snapshot.canonical[.gridPower]?.quality else { continue }
            #expect(age >= 200)
            #expect(close(snapshot.canonical[.gridPower]?.value, -2500.5))
        }
    }

    @Test func cyclesAreAlignedToTheWallClock() async throws {
        let image = try Self.fixtureImage("janitza-umg96rm")
        let server = try image.server()
        defer { server.stop() }
        let device = AcquisitionDevice(id: "umg", unitID: 1, profile: Catalog.shared.profile("janitza-umg96rm")!)
        let service = try AcquisitionService(
            buses: [AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: server.port), devices: [device])],
            cadence: CadenceSettings(cycle: .milliseconds(250)), library: Catalog.shared.library, clock: SystemWallClock(),
            metrics: AcquisitionMetrics(), logger: testLogger)
        let recorder = try await Self.run(service, for: .milliseconds(1400))
        let times = recorder[device: "umg"].compactMap { $0.canonical[.gridPower]?.acquiredAt?.rawValue }
        #expect(times.count >= 4)
        for time in times { #expect(time % 250 < 60, "cycle started \(time % 250) ms after its boundary") }
        // One read per cycle, none skipped: consecutive cycle numbers.
        for (earlier, later) in zip(times, times.dropFirst()) { #expect(later / 250 - earlier / 250 == 1) }
    }

    @Test func aDroppedConnectionIsReopenedAndStaticPointsReadAgain() async throws {
        let image = try Self.fixtureImage("eastron-sdm630")
        let server = try image.server()
        defer { server.stop() }
        let device = AcquisitionDevice(id: "meter", unitID: 1, profile: Catalog.shared.profile("eastron-sdm630")!)
        let service = try AcquisitionService(
            buses: [AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(200), devices: [device])],
            cadence: CadenceSettings(cycle: .milliseconds(200), backoffLimit: .milliseconds(200)), library: Catalog.shared.library,
            clock: SystemWallClock(), metrics: AcquisitionMetrics(), logger: testLogger)
        let dropAt = Mutex<UTCMilliseconds?>(nil)
        let recorder = try await Self.run(service, for: .milliseconds(1500)) {
            try await Task.sleep(for: .milliseconds(500))
            dropAt.withLock { $0 = SystemWallClock().now }
            server.dropClients()
        }
        let drop = try #require(dropAt.withLock { $0 })
        let last = try #require(recorder[device: "meter"].last)
        #expect(last.canonical[.gridPower]?.quality == .good)
        let serial = try #require(last.value("serial_number"))
        #expect(serial.value == 12_345_678)
        #expect(try #require(serial.acquiredAt) > drop, "the static serial number is read again after the reconnect")
        #expect(await service.connection(bus: "lan")!.connectionGeneration == 2)
    }

    @Test func aDeadDeviceOnASharedRTUBusDoesNotStealItsNeighboursCadence() async throws {
        let (ours, theirs, socat) = try await Peer.ptyPair()
        defer { socat.stop() }
        let image = Self.merge(try Self.fixtureImage("eastron-sdm630"), try Self.fixtureImage("carlo-gavazzi-em24", unit: 2))
        let peer = try await Peer.start(image: image.json, arguments: ["server-rtu", "--device", theirs, "--baud", "19200"])
        defer { peer.stop() }
        let devices = [
            AcquisitionDevice(id: "sdm", unitID: 1, profile: Catalog.shared.profile("eastron-sdm630")!),
            AcquisitionDevice(id: "absent", unitID: 3, profile: Catalog.shared.profile("carlo-gavazzi-em340")!),
            AcquisitionDevice(id: "em24", unitID: 2, profile: Catalog.shared.profile("carlo-gavazzi-em24")!, requestDelay: .milliseconds(5)),
        ]
        let metrics = AcquisitionMetrics()
        let service = try AcquisitionService(
            buses: [AcquisitionBus(id: "rs485", endpoint: .rtu(.init(device: ours, baud: 19200)), timeout: .milliseconds(150),
                                   turnaroundDelay: .milliseconds(5), devices: devices)],
            cadence: CadenceSettings(cycle: .milliseconds(500), backoffLimit: .seconds(2)),
            library: Catalog.shared.library, clock: SystemWallClock(), metrics: metrics, logger: testLogger)
        let recorder = try await Self.run(service, for: .milliseconds(4200))
        for neighbour in ["sdm", "em24"] {
            let snapshots = recorder[device: neighbour]
            #expect(snapshots.count >= 7, "\(neighbour): \(snapshots.count) cycles")
            let times = snapshots.compactMap { $0.canonical[.gridPower]?.quality == .good ? $0.canonical[.gridPower]?.acquiredAt?.rawValue : nil }
            #expect(times.count == snapshots.count, "\(neighbour) missed a cycle")
            // Read in every cycle (consecutive cycle numbers), at most one timeout after the boundary.
            for (earlier, later) in zip(times, times.dropFirst()) { #expect(later / 500 - earlier / 500 == 1, "\(neighbour) skipped a cycle") }
            for time in times { #expect(time % 500 < 250, "\(neighbour) read \(time % 500) ms into its cycle") }
        }
        #expect(close(recorder[device: "em24"].last?.canonical[.gridPower]?.value, -3500))
        let absent = metrics.snapshot().devices["absent"]
        #expect((absent?.transactions ?? 0) <= 4, "the absent device was probed \(absent?.transactions ?? 0) times in 8 cycles")
        #expect(absent?.errors["timeout"] == absent?.transactions)
        #expect(recorder[device: "absent"].last?.health.state == .backingOff)
        let bus = try #require(metrics.snapshot().buses["rs485"])
        #expect(bus.utilisation > 0 && bus.utilisation < 0.8)
        #expect(bus.overruns == 0)
    }
}
