import DeviceProfiles
import Testing

/// Scaling, sentinels, scale-factor registers, sums and accumulator rollover, in the decoder.
@Suite struct DecoderTests {
    static let profile = DeviceProfile(id: "test", name: "Test", points: [
        PointDefinition(name: "W_SF", table: .holding, address: 10, type: .int16, notImplemented: [0x8000]),
        PointDefinition(name: "W", table: .holding, address: 11, type: .int16, scaleFactorPoint: "W_SF", unit: "W", notImplemented: [0x8000],
                        canonical: .gridPower),
        PointDefinition(name: "V", table: .holding, address: 12, type: .uint16, scale: 0.1, offset: 1, unit: "V", notImplemented: [0xFFFF]),
        PointDefinition(name: "P", table: .holding, address: 13, type: .int16, invert: true, unit: "W"),
        PointDefinition(name: "E", table: .holding, address: 14, type: .uint32, unit: "Wh", accumulator: true),
        PointDefinition(name: "F", table: .holding, address: 16, type: .float32),
        PointDefinition(name: "sum", table: .holding, address: 0, type: .float64, registerCount: 0, unit: "W", sumOf: ["P", "W"]),
    ])

    static func decode(_ registers: [UInt16], decoder: inout ProfileDecoder) -> ReadPlan {
        let plan = RequestPlanner.plan(profile, points: Array(profile.points.indices), limits: PlanningLimits())
        #expect(plan.requests == [ReadRequest(table: .holding, address: 10, count: 8)])
        decoder.store(registers, request: 0, of: plan)
        decoder.decode(plan, succeeded: [true])
        return plan
    }

    @Test func scalesOffsetsInvertsAndSums() {
        var decoder = ProfileDecoder(profile: Self.profile, imageCapacity: 8)
        let float: UInt32 = Float(2.5).bitPattern
        _ = Self.decode([UInt16(bitPattern: -2), 12345, 2301, 100, 0, 5, UInt16(float >> 16), UInt16(float & 0xFFFF)], decoder: &decoder)
        #expect(close(decoder.values[1].number, 123.45))
        #expect(close(decoder.values[2].number, 231.1))
        #expect(decoder.values[3].number == -100)
        #expect(decoder.values[4].number == 5)
        #expect(decoder.values[5].number == 2.5)
        #expect(close(decoder.values[6].number, 23.45))
    }

    @Test func sentinelsAreMissingNotZero() {
        var decoder = ProfileDecoder(profile: Self.profile, imageCapacity: 8)
        let nan = Float.nan.bitPattern
        _ = Self.decode([0, 0x8000, 0xFFFF, 1, 0, 0, UInt16(nan >> 16), UInt16(nan & 0xFFFF)], decoder: &decoder)
        #expect(decoder.values[1].status == .notImplemented)
        #expect(decoder.values[1].number == nil)
        #expect(decoder.values[2].status == .notImplemented)
        #expect(decoder.values[5].status == .notImplemented)
        // A sum with a missing term is missing.
        #expect(decoder.values[6].status == .notImplemented)
    }

    @Test func missingScaleFactorMakesThePointUnusable() {
        var decoder = ProfileDecoder(profile: Self.profile, imageCapacity: 8)
        _ = Self.decode([0x8000, 500, 0, 0, 0, 0, 0, 0], decoder: &decoder)
        #expect(decoder.values[0].status == .notImplemented)
        #expect(decoder.values[1].status == .scaleFactorMissing)
    }

    @Test func accumulatorsCarryAcrossTheirWrap() {
        var decoder = ProfileDecoder(profile: Self.profile, imageCapacity: 8)
        _ = Self.decode([0, 0, 0, 0, 0xFFFF, 0xFFF0, 0, 0], decoder: &decoder)
        #expect(decoder.values[4].number == 4_294_967_280)
        _ = Self.decode([0, 0, 0, 0, 0x0000, 0x0010, 0, 0], decoder: &decoder)
        #expect(close(decoder.values[4].number, 4_294_967_296 + 16))
        // A small step back is a meter reset, not a wrap.
        _ = Self.decode([0, 0, 0, 0, 0x0000, 0x0008, 0, 0], decoder: &decoder)
        #expect(close(decoder.values[4].number, 4_294_967_296 + 8))
    }
}

func close(_ value: Double?, _ expected: Double, tolerance: Double = 1e-9) -> Bool {
    guard let value else { return false }
    return abs(value - expected) <= tolerance * max(1, abs(expected))
}
