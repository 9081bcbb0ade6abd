import Acquisition
import DeviceProfiles
import Foundation
import HubDomain
import ModbusIO
import Testing
import TestSupport

/// SunSpec discovery at 40000, 0 and 50000, and decoding of every listed model, driven by the
/// published JSON definitions, over real Modbus TCP (our server and pymodbus).
@Suite struct SunSpecAcquisitionTests {
    static let library = Catalog.shared.library

    /// Builds a SunSpec register map: "SunS", the models with deterministic point values, 0xFFFF.
    /// Every scale factor is −1; `sentinels` overrides points (by `model.point`) with raw registers.
    struct DeviceImage {
        var registers: [UInt16] = [0x5375, 0x6E53]
        var expected: [String: Double] = [:]
        var models: [DiscoveredModel] = []

        init(base: Int, models: [(id: Int, repetitions: Int)], sentinels: [String: [UInt16]]) {
            for (id, repetitions) in models {
                let definition = SunSpecAcquisitionTests.library[id]!
                let length = definition.fixedLength + repetitions * (definition.repeating?.length ?? 0)
                let start = registers.count
                self.models.append(DiscoveredModel(id: id, address: base + start, length: length))
                registers += [UInt16(id), UInt16(length)]
                func emit(_ point: SunSpecModelDefinition.Point, name: String) {
                    let (words, raw) = Self.value(for: point, repetitions: repetitions)
                    if let override = sentinels[name] {
                        registers += override
                        return
                    }
                    registers += words
                    if let raw {
                        expected[name] = point.scaleFactor == nil ? raw : raw / 10
                    }
                }
                for point in definition.points.dropFirst(2) { emit(point, name: "\(id).\(point.name)") }
                if let group = definition.repeating {
                    for repetition in 0..<repetitions {
                        for point in group.points { emit(point, name: "\(id).\(group.name)[\(repetition)].\(point.name)") }
                    }
                }
                precondition(registers.count - start == length + 2)
            }
            registers += [0xFFFF, 0]
        }

        /// Registers for a point and the number they stand for (nil for text and padding).
        static func value(for point: SunSpecModelDefinition.Point, repetitions: Int) -> ([UInt16], Double?) {
            func encode(_ value: Double, _ type: PointDataType) -> [UInt16] {
                RegisterCodec.encode(value, type: type, byteOrder: .big, wordOrder: .big)!
            }
            switch point.type {
            case "sunssf": return (encode(-1, .int16), -1 * 10) // reported unscaled; ×10 undoes the /10 below
            case "int16": return (encode(1234, .int16), 1234)
            case "count": return (encode(Double(repetitions), .uint16), Double(repetitions))
            case "uint16", "enum16", "bitfield16": return (encode(321, .uint16), 321)
            case "acc16": return (encode(77, .uint16), 77)
            case "int32": return (encode(-123_456, .int32), -123_456)
            case "uint32", "enum32", "bitfield32", "acc32", "ipaddr": return (encode(654_321, .uint32), 654_321)
            case "int64": return (encode(-9_876_543_210, .int64), -9_876_543_210)
            case "uint64", "acc64": return (encode(9_876_543_210, .uint64), 9_876_543_210)
            case "float32": return (encode(12.5, .float32), 12.5)
            case "float64": return (encode(-2.25, .float64), -2.25)
            case "string": return (RegisterCodec.encode(text: "hub", registerCount: point.size, byteOrder: .big)!, nil)
            default: return ([UInt16](repeating: 0x8000, count: point.size), nil)
            }
        }
    }

    static let inverterModels: [(id: Int, repetitions: Int)] = [(1, 0), (101, 0), (102, 0), (103, 0), (111, 0), (112, 0), (113, 0),
        (120, 0), (121, 0), (122, 0), (123, 0), (124, 0), (160, 2), (701, 0), (702, 0), (704, 0), (713, 0), (714, 2), (802, 0)]
    static let meterModels: [(id: Int, repetitions: Int)] = [(1, 0), (201, 0), (202, 0), (203, 0), (204, 0), (211, 0), (212, 0), (213, 0), (214, 0)]
    static let nan = Float.nan.bitPattern
    static let sentinels: [String: [UInt16]] = [
        "101.W": [0x8000], "113.W": [UInt16(nan >> 16), UInt16(nan & 0xFFFF)], "160.module[1].DCWH": [0, 0],
        "802.SoC_SF": [0x8000], "203.TotWhExp": [0, 0], "202.PhVphA": [0xFFFF],
    ]
    /// The sentinels above, and every point scaled by 802.SoC_SF (a missing scale factor makes them unusable).
    static let missing: Set<String> = ["101.W", "113.W", "160.module[1].DCWH", "802.SoC_SF", "802.SoC", "802.SoCMax", "802.SoCMin",
                                       "802.SocRsvMax", "802.SoCRsvMin", "203.TotWhExp"]

    /// Units 1 (inverter, battery, DER models at 40000), 2 (meters at 0), 3 (meter at 50000), 4 (no SunSpec).
    static func makeImage() -> (RegisterImage, [Int: DeviceImage]) {
        var image = RegisterImage()
        let inverter = DeviceImage(base: 40000, models: inverterModels, sentinels: sentinels)
        let meters = DeviceImage(base: 0, models: meterModels, sentinels: sentinels)
        let late = DeviceImage(base: 50000, models: [(1, 0), (203, 0)], sentinels: [:])
        image.put(unit: 1, at: 40000, inverter.registers)
        image.put(unit: 2, at: 0, meters.registers)
        image.put(unit: 3, at: 50000, late.registers)
        image.put(unit: 4, at: 0, [UInt16](repeating: 0, count: 10))
        return (image, [1: inverter, 2: meters, 3: late])
    }

    static func read(unit: Int, port: Int) async throws -> DeviceSnapshot {
        let profile = try #require(Catalog.shared.profile("sunspec"))
        let device = AcquisitionDevice(id: "unit\(unit)", unitID: unit, profile: profile)
        let bus = AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .seconds(2), devices: [device])
        let connection = try ModbusConnection(endpoint: bus.endpoint, responseTimeout: bus.timeout)
        return await AcquisitionService.readOnce(device, on: connection, bus: bus, library: library, clock: SystemWallClock(), metrics: AcquisitionMetrics())
    }

    static func checkEveryModel(port: Int, images: [Int: DeviceImage]) async throws {
        for unit in [1, 2, 3] {
            let snapshot = try await read(unit: unit, port: port)
            let expected = try #require(images[unit])
            #expect(snapshot.sunspecModels == expected.models, "unit \(unit)")
            #expect(snapshot.health.state == .online, "\(snapshot.health.lastError ?? "")")
            var checked = 0
            for value in snapshot.values {
                if Self.missing.contains(value.point) && unit != 3 {
                    #expect(value.quality == .missing && value.value == nil, "\(value.point) must be missing, not \(String(describing: value.value))")
                    continue
                }
                guard let number = expected.expected[value.point] else { continue }
                if value.point.hasSuffix("_SF") { continue }
                #expect(value.quality == .good, "\(value.point): \(value.quality)")
                #expect(close(value.value, number), "\(value.point): \(String(describing: value.value)) ≠ \(number)")
                checked += 1
            }
            #expect(checked > (unit == 1 ? 400 : unit == 2 ? 300 : 50))
        }
        let inverter = try await read(unit: 1, port: port)
        #expect(close(inverter.canonical[.pvPower]?.value, 123.4))       // 103.W, scale factor −1
        #expect(close(inverter.canonical[.pvEnergy]?.value, 65_432.1))   // 103.WH acc32
        #expect(close(inverter.canonical[.batteryPower]?.value, 123.4))  // 701.W
        #expect(inverter.canonical[.batterySoC]?.quality == .missing)    // 802.SoC without its scale factor
        #expect(inverter.canonical[.batterySoC]?.value == nil)
        #expect(inverter.value("160.module[1].DCW")?.quality == .good)
        #expect(inverter.value("714.Prt[1].DCW") != nil)
        let meters = try await read(unit: 2, port: port)
        #expect(close(meters.canonical[.gridPower]?.value, 123.4))
        #expect(close(meters.canonical[.gridImportEnergy]?.value, 65_432.1))
        #expect(meters.canonical[.gridExportEnergy]?.quality == .missing) // acc32 0 = not implemented
        let none = try await read(unit: 4, port: port)
        #expect(none.health.state == .backingOff)
        #expect(none.health.lastError?.contains("no SunS marker at 40000, 0 or 50000") == true)
    }

    @Test func discoversAndDecodesEveryListedModelFromOurServer() async throws {
        let (image, images) = Self.makeImage()
        let server = try image.server()
        defer { server.stop() }
        try await Self.checkEveryModel(port: server.port, images: images)
    }

    @Test func discoversAndDecodesEveryListedModelFromPymodbus() async throws {
        let (image, images) = Self.makeImage()
        let port = try freePort()
        let peer = try await Peer.start(image: image.json, arguments: ["server-tcp", "--port", String(port)])
        defer { peer.stop() }
        try await Self.checkEveryModel(port: port, images: images)
    }

    @Test func discoveryReadsTheChainWithFewTransactions() async throws {
        let (image, images) = Self.makeImage()
        let server = try image.server()
        defer { server.stop() }
        let connection = try ModbusConnection(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        let result = try #require(try await SunSpecDiscovery.discover(connection, unit: 3))
        #expect(result.base == 50000)
        #expect(result.models == images[3]!.models)
        // 40000 and 0 answer "illegal data address"; then marker, and ID + L per model.
        #expect(server.requestCount == 2 + 1 + 2 * 2 + 1)
    }
}
