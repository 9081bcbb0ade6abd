import DeviceProfiles
import Testing

/// Every data type in every byte and word order, against bit patterns written out by hand.
@Suite struct CodecTests {
    static func decode(_ registers: [UInt16], _ type: PointDataType, byteOrder: ByteOrder = .big, wordOrder: WordOrder = .big) -> Double {
        registers.withUnsafeBufferPointer { buffer in
            RegisterCodec.number(bits: RegisterCodec.bits(buffer, at: 0, registerCount: registers.count, byteOrder: byteOrder, wordOrder: wordOrder), type: type)
        }
    }

    @Test func float32InAllFourOrders() {
        // 1.5 = 0x3FC00000: ABCD, CDAB (word swap), BADC (byte swap), DCBA (both).
        #expect(Self.decode([0x3FC0, 0x0000], .float32) == 1.5)
        #expect(Self.decode([0x0000, 0x3FC0], .float32, wordOrder: .little) == 1.5)
        #expect(Self.decode([0xC03F, 0x0000], .float32, byteOrder: .little) == 1.5)
        #expect(Self.decode([0x0000, 0xC03F], .float32, byteOrder: .little, wordOrder: .little) == 1.5)
    }

    @Test func integersOfEveryWidthAndSign() {
        #expect(Self.decode([0xFFFE], .int16) == -2)
        #expect(Self.decode([0xFFFE], .uint16) == 65534)
        #expect(Self.decode([0xFEFF], .int16, byteOrder: .little) == -2)
        #expect(Self.decode([0xFFFF, 0xFFFE], .int32) == -2)
        #expect(Self.decode([0xFFFE, 0xFFFF], .int32, wordOrder: .little) == -2)
        #expect(Self.decode([0x0001, 0x0000], .uint32) == 65536)
        #expect(Self.decode([0x0000, 0x0001], .uint32, wordOrder: .little) == 65536)
        #expect(Self.decode([0xFFFF, 0xFFFF, 0xFFFF, 0xFFF6], .int64) == -10)
        #expect(Self.decode([0xFFF6, 0xFFFF, 0xFFFF, 0xFFFF], .int64, wordOrder: .little) == -10)
        #expect(Self.decode([0x0000, 0x0001, 0x0000, 0x0000], .uint64) == 4_294_967_296)
        #expect(Self.decode([0x0100, 0x0000, 0x0000, 0x0000], .uint64, byteOrder: .little, wordOrder: .little) == 1)
        #expect(Self.decode([0x8001], .bitfield16) == 32769)
        #expect(Self.decode([0x8000, 0x0001], .bitfield32) == 2_147_483_649)
        #expect(Self.decode([1], .boolean) == 1)
    }

    @Test func float64InAllFourOrders() {
        // -2.5 = 0xC004000000000000
        #expect(Self.decode([0xC004, 0, 0, 0], .float64) == -2.5)
        #expect(Self.decode([0, 0, 0, 0xC004], .float64, wordOrder: .little) == -2.5)
        #expect(Self.decode([0x04C0, 0, 0, 0], .float64, byteOrder: .little) == -2.5)
        #expect(Self.decode([0, 0, 0, 0x04C0], .float64, byteOrder: .little, wordOrder: .little) == -2.5)
    }

    static let roundTripCases: [(PointDataType, Double)] = [
        (.int16, -12345), (.uint16, 54321), (.int32, -123_456_789), (.uint32, 4_000_000_000), (.int64, -9_000_000_000_123),
        (.uint64, 18_000_000_000_000_000_000), (.float32, 3.25), (.float64, -1234.5678), (.bitfield16, 0xA5A5), (.bitfield32, 0xDEADBEEF),
    ]

    @Test(arguments: ByteOrder.allCases, WordOrder.allCases)
    func encodeThenDecodeGivesTheValueBack(byteOrder: ByteOrder, wordOrder: WordOrder) throws {
        for (type, value) in Self.roundTripCases {
            let registers = try #require(RegisterCodec.encode(value, type: type, byteOrder: byteOrder, wordOrder: wordOrder))
            #expect(registers.count == type.registerCount(stringLength: 0))
            #expect(Self.decode(registers, type, byteOrder: byteOrder, wordOrder: wordOrder) == value, "\(type) \(byteOrder) \(wordOrder)")
        }
    }

    @Test func encodingRefusesValuesThatDoNotFit() {
        #expect(RegisterCodec.encode(70000, type: .uint16, byteOrder: .big, wordOrder: .big) == nil)
        #expect(RegisterCodec.encode(-1, type: .uint32, byteOrder: .big, wordOrder: .big) == nil)
        #expect(RegisterCodec.encode(.nan, type: .int16, byteOrder: .big, wordOrder: .big) == nil)
    }

    @Test func stringsAreCutAtNulAndNulFirstIsMissing() {
        let registers: [UInt16] = [0x5355, 0x4E32, 0x3030, 0x3000, 0x0000] // "SUN2000"
        registers.withUnsafeBufferPointer { buffer in
            #expect(RegisterCodec.text(buffer, at: 0, registerCount: 5, byteOrder: .big) == "SUN2000")
            #expect(RegisterCodec.text(buffer, at: 4, registerCount: 1, byteOrder: .big) == nil)
        }
        let swapped: [UInt16] = [0x5553, 0x324E]
        swapped.withUnsafeBufferPointer { buffer in
            #expect(RegisterCodec.text(buffer, at: 0, registerCount: 2, byteOrder: .little) == "SUN2")
        }
        #expect(RegisterCodec.encode(text: "AB", registerCount: 2, byteOrder: .big) == [0x4142, 0])
    }
}
