import Acquisition
import DeviceProfiles
import Foundation
import HubDomain
import ModbusIO
import Testing
import TestSupport

/// Every data type in every byte and word order, plus text, coils and discrete inputs, read
/// through a profile over real Modbus TCP from our server and from pymodbus.
@Suite struct DataTypeWireTests {
    static let values: [(PointDataType, Double)] = [
        (.int16, -12345), (.uint16, 54321), (.int32, -123_456_789), (.uint32, 4_000_000_000), (.int64, -9_000_000_000_123),
        (.uint64, 18_000_000_000_000_000_000), (.float32, 3.25), (.float64, -1234.5678), (.bitfield16, 0xA5A5), (.bitfield32, 0xDEAD_BEEF),
    ]

    static func make() -> (DeviceProfile, RegisterImage, [String: Double]) {
        var points: [PointDefinition] = []
        var image = RegisterImage()
        var expected: [String: Double] = [:]
        var address = 100
        for (type, value) in values {
            for byteOrder in ByteOrder.allCases {
                for wordOrder in WordOrder.allCases {
                    let name = "\(type.rawValue)_\(byteOrder.rawValue)_\(wordOrder.rawValue)"
                    let registers = RegisterCodec.encode(value, type: type, byteOrder: byteOrder, wordOrder: wordOrder)!
                    points.append(PointDefinition(name: name, table: .holding, address: address, type: type, byteOrder: byteOrder, wordOrder: wordOrder))
                    image.put(unit: 1, at: address, registers)
                    expected[name] = value
                    address += registers.count
                }
            }
        }
        points.append(PointDefinition(name: "text", table: .holding, address: address, type: .string, registerCount: 5, byteOrder: .big))
        image.put(unit: 1, at: address, RegisterCodec.encode(text: "hubmeter", registerCount: 5, byteOrder: .big)!)
        points.append(PointDefinition(name: "text_swapped", table: .input, address: 0, type: .string, registerCount: 2, byteOrder: .little))
        image.put(unit: 1, .input, at: 0, RegisterCodec.encode(text: "abcd", registerCount: 2, byteOrder: .little)!)
        points.append(PointDefinition(name: "relay", table: .coil, address: 3, type: .boolean))
        points.append(PointDefinition(name: "alarm", table: .discreteInput, address: 7, type: .boolean))
        image.put(unit: 1, .coil, at: 0, [0, 0, 0, 1])
        image.put(unit: 1, .discreteInput, at: 0, [0, 0, 0, 0, 0, 0, 0, 1])
        expected["relay"] = 1
        expected["alarm"] = 1
        return (DeviceProfile(id: "all-types", name: "All types", points: points), image, expected)
    }

    static func check(port: Int) async throws {
        let (profile, _, expected) = make()
        // 114 holding registers in 1 read, 1 input read, 1 coil read, 1 discrete-input read.
        let plans = DevicePlans(profile: profile, limits: PlanningLimits())
        #expect(plans.all.requests.map(\.table) == [.holding, .input, .coil, .discreteInput])
        let device = AcquisitionDevice(id: "types", unitID: 1, profile: profile)
        let bus = AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .seconds(2), devices: [device])
        let snapshot = await AcquisitionService.readOnce(device, on: try ModbusConnection(endpoint: bus.endpoint), bus: bus,
                                                         library: SunSpecModelLibrary(), clock: SystemWallClock(), metrics: AcquisitionMetrics())
        #expect(snapshot.health.state == .online, "\(snapshot.health.lastError ?? "")")
        for (name, value) in expected {
            #expect(snapshot.value(name)?.value == value, "\(name): \(String(describing: snapshot.value(name)?.value)) ≠ \(value)")
        }
        #expect(snapshot.value("text")?.text == "hubmeter")
        #expect(snapshot.value("text_swapped")?.text == "abcd")
    }

    @Test func everyTypeAndOrderFromOurServer() async throws {
        let server = try Self.make().1.server()
        defer { server.stop() }
        try await Self.check(port: server.port)
    }

    @Test func everyTypeAndOrderFromPymodbus() async throws {
        let port = try freePort()
        let peer = try await Peer.start(image: Self.make().1.json, arguments: ["server-tcp", "--port", String(port)])
        defer { peer.stop() }
        try await Self.check(port: port)
    }
}
