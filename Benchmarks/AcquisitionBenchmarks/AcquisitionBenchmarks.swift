import Acquisition
import Benchmark
import CModbusLoop
import DeviceProfiles
import Foundation
import HubDomain
import ModbusIO

/// Side by side against the same in-process libmodbus server, in one run:
/// - `libmodbus C loop`: modbus_read_registers from C, the baseline;
/// - `ModbusConnection.readRegisters`: our actor on its serial queue, one transaction;
/// - `DevicePoller fast cycle`: a whole device cycle of one read (plan selection, read, decode,
///   quality and time stamps, snapshot) — what the agent does per transaction.
/// And, allocation counts of the per-cycle decode path (planning happens once per device).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        warmupIterations: 200,
        maxDuration: .seconds(5),
        maxIterations: 1_000_000
    )

    // One Janitza-like unit: 78 holding registers at 19000 (the UMG 96RM plan is one read of 78).
    let memory = ModbusUnitMemory(holding: 19000..<19100)!
    for address in 19000..<19100 { memory[holding: address] = UInt16(address & 0xFFFF) }
    // Referenced from every benchmark below: the server's thread holds it unowned.
    let server = try! ModbusTCPServer(units: [1: memory])

    // Per transaction, 1000 transactions per sample, all on one thread: the C loop on the
    // benchmark thread, ours isolated to the connection (its serial queue), as the bus loop runs.
    let perTransaction = Benchmark.Configuration(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(8))

    Benchmark("libmodbus C loop: read 78 registers", configuration: perTransaction) { benchmark in
        guard let context = hubmeter_c_open("127.0.0.1", Int32(server.port), 1) else { fatalError("cannot connect") }
        defer { hubmeter_c_close(context) }
        var destination = [UInt16](repeating: 0, count: 125)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let result = destination.withUnsafeMutableBufferPointer { hubmeter_c_read(context, 19000, 78, $0.baseAddress) }
            precondition(result == 78)
        }
    }

    Benchmark("ModbusConnection.readRegisters on the bus executor: read 78 registers", configuration: perTransaction) { benchmark in
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        _ = try await connection.readRegisters(.holding, address: 19000, count: 78, unit: 1)
        benchmark.startMeasurement()
        try await readLoop(connection, count: benchmark.scaledIterations.count)
    }

    Benchmark("ModbusConnection.readRegisters from another task (one hop each way): read 78 registers") { benchmark in
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        _ = try await connection.readRegisters(.holding, address: 19000, count: 78, unit: 1)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await connection.readRegisters(.holding, address: 19000, count: 78, unit: 1))
        }
    }

    // The overhead target, measured so that load on the machine cannot favour either side:
    // C and Swift transactions alternate in blocks of 10 on the same thread (the connection's
    // executor), against the same server, and each sample reports both per-transaction times
    // and their ratio in per mille. Both clients hold their own TCP connection.
    let overheadMetrics: [BenchmarkMetric] = [
        .custom("C ns/transaction", polarity: .prefersSmaller, useScalingFactor: false),
        .custom("ours ns/transaction", polarity: .prefersSmaller, useScalingFactor: false),
        // ours ÷ C in per mille (1000 = the same time; the target is at most 1100).
        .custom("ours/C per mille", polarity: .prefersSmaller, useScalingFactor: false),
    ]
    Benchmark("Side by side, interleaved on one thread: C loop vs ModbusConnection, read 78 registers",
              configuration: .init(metrics: overheadMetrics, warmupIterations: 5, maxDuration: .seconds(20), maxIterations: 200)) { benchmark in
        guard let context = hubmeter_c_open("127.0.0.1", Int32(server.port), 1) else { fatalError("cannot connect") }
        defer { hubmeter_c_close(context) }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        for _ in benchmark.scaledIterations {
            let (c, ours) = try await interleavedBlocks(connection, context: CLoopContext(pointer: context), rounds: 50, block: 10)
            let transactions = 50 * 10
            let cNanoseconds = nanoseconds(c) / transactions
            let oursNanoseconds = nanoseconds(ours) / transactions
            benchmark.measurement(overheadMetrics[0], cNanoseconds)
            benchmark.measurement(overheadMetrics[1], oursNanoseconds)
            benchmark.measurement(overheadMetrics[2], oursNanoseconds * 1000 / max(cNanoseconds, 1))
        }
    }

    let profileText = try! String(contentsOfFile: hubmeterRepository + "/Config/profiles/janitza-umg96rm.yaml", encoding: .utf8)
    let janitza = try! ProfileParser.parse(profileText, file: "janitza-umg96rm.yaml", id: "janitza-umg96rm")

    Benchmark("DevicePoller fast cycle on the bus executor: 1 read of 78 registers + decode + snapshot", configuration: perTransaction) { benchmark in
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        let device = AcquisitionDevice(id: "umg", unitID: 1, profile: janitza)
        let poller = DevicePoller(device: device, busID: "lan", cadence: CadenceSettings(slowInterval: .seconds(3600)),
                                  library: SunSpecModelLibrary())
        benchmark.startMeasurement()
        await pollLoop(poller, connection, count: benchmark.scaledIterations.count)
    }

    // Decoding a cycle: allocation-free in steady state (precomputed plan, preallocated slots).
    let plans = DevicePlans(profile: janitza, limits: PlanningLimits(janitza.options))
    let registers = (0..<78).map { UInt16($0 * 7) }
    let succeeded = [true]
    Benchmark("Decode one cycle (Janitza, 14 points)", configuration: .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(2))) { benchmark in
        var decoder = ProfileDecoder(profile: janitza, imageCapacity: plans.all.imageSize)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            decoder.store(registers, request: 0, of: plans.fast)
            decoder.decode(plans.fast, succeeded: succeeded)
            blackHole(decoder.values[9].value)
        }
    }

    // A large SunSpec device: 19 models, about 1000 registers, 10 reads per cycle.
    let sunspecProfile = sunspecBenchmarkProfile()
    let sunspecPlans = DevicePlans(profile: sunspecProfile, limits: PlanningLimits())
    let sunspecImage = [UInt16](repeating: 1, count: sunspecPlans.all.imageSize)
    let sunspecSucceeded = [Bool](repeating: true, count: sunspecPlans.all.requests.count)
    Benchmark("Decode one cycle (SunSpec, \(sunspecProfile.points.count) points, \(sunspecPlans.fast.requests.count) reads)",
              configuration: .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(2))) { benchmark in
        var decoder = ProfileDecoder(profile: sunspecProfile, imageCapacity: sunspecPlans.all.imageSize)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for request in sunspecPlans.fast.requests.indices {
                let start = sunspecPlans.fast.imageOffsets[request]
                decoder.store(sunspecImage[start..<(start + sunspecPlans.fast.requests[request].count)], request: request, of: sunspecPlans.fast)
            }
            decoder.decode(sunspecPlans.fast, succeeded: sunspecSucceeded)
            blackHole(decoder.values[0].value)
        }
    }

    Benchmark("Plan a SunSpec device (once per device at setup)", configuration: .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(2))) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(DevicePlans(profile: sunspecProfile, limits: PlanningLimits()))
        }
    }
}

/// The repository root: Benchmarks/AcquisitionBenchmarks/File.swift → ../..
let hubmeterRepository: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

func sunspecBenchmarkProfile() -> DeviceProfile {
    let directory = hubmeterRepository + "/Config/sunspec/models"
    let files = try! FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.map { name in
        (name: name, contents: [UInt8](try! Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))))
    }
    let library = try! SunSpecModelLibrary(files: files)
    let ids = [1, 101, 102, 103, 111, 112, 113, 120, 121, 122, 123, 124, 160, 701, 702, 704, 713, 714, 802]
    var address = 40002
    var models: [DiscoveredModel] = []
    for id in ids {
        let definition = library[id]!
        let length = definition.fixedLength + 2 * (definition.repeating?.length ?? 0)
        models.append(DiscoveredModel(id: id, address: address, length: length))
        address += length + 2
    }
    let mapping = SunSpecProfileMapping(canonical: [.pvPower: [.init(model: 103, point: "W")]], staticModels: [1, 120, 121], slowModels: [122, 123, 702, 704])
    return SunSpecProfileBuilder.profile(id: "sunspec", name: "SunSpec", models: models, library: library, mapping: mapping)
}

/// Transactions as the bus loop issues them: isolated to the connection, no hop per call.
func readLoop(_ connection: isolated ModbusConnection, count: Int) throws {
    for _ in 0..<count {
        blackHole(try connection.readRegisters(.holding, address: 19000, count: 78, unit: 1))
    }
}

/// Alternating blocks of C and Swift transactions on the connection's own thread; returns the
/// total time of each side.
func interleavedBlocks(_ connection: isolated ModbusConnection, context: CLoopContext, rounds: Int, block: Int)
    throws -> (c: Duration, ours: Duration) {
    let clock = ContinuousClock()
    var destination = [UInt16](repeating: 0, count: 125)
    var c = Duration.zero
    var ours = Duration.zero
    for round in 0..<rounds {
        // Alternate which side goes first, so that neither always follows the other's wake-ups.
        for side in round.isMultiple(of: 2) ? [0, 1] : [1, 0] {
            let start = clock.now
            if side == 0 {
                for _ in 0..<block {
                    let result = destination.withUnsafeMutableBufferPointer { hubmeter_c_read(context.pointer, 19000, 78, $0.baseAddress) }
                    precondition(result == 78)
                }
                c += clock.now - start
            } else {
                for _ in 0..<block {
                    try connection.readRegisters(.holding, address: 19000, count: 78, unit: 1, into: &destination)
                }
                ours += clock.now - start
            }
        }
    }
    return (c, ours)
}

/// The C loop's libmodbus context, handed to the connection's thread; used by one thread at a time.
struct CLoopContext: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}

func nanoseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
}

func pollLoop(_ poller: DevicePoller, _ connection: isolated ModbusConnection, count: Int) async {
    let metrics = AcquisitionMetrics()
    let clock = SystemWallClock()
    _ = poller.poll(connection, metrics: metrics, wall: clock.now) // the static read after connect
    for _ in 0..<count {
        blackHole(poller.poll(connection, metrics: metrics, wall: clock.now))
    }
}
