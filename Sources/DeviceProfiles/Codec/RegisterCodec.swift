/// Converts between register images and numbers, without allocating.
public enum RegisterCodec {
    /// The raw bit pattern of a value of `registerCount` registers (at most 4) starting at
    /// `offset`, most significant bits first, after applying the byte and word order.
    @inlinable
    public static func bits(_ registers: UnsafeBufferPointer<UInt16>, at offset: Int, registerCount: Int,
                            byteOrder: ByteOrder, wordOrder: WordOrder) -> UInt64 {
        var result: UInt64 = 0
        for index in 0..<registerCount {
            let position = wordOrder == .big ? offset + index : offset + registerCount - 1 - index
            let word = byteOrder == .big ? registers[position] : registers[position].byteSwapped
            result = result << 16 | UInt64(word)
        }
        return result
    }

    /// The numeric value of a raw bit pattern of the given type (strings are not numbers: 0).
    @inlinable
    public static func number(bits: UInt64, type: PointDataType) -> Double {
        switch type {
        case .int16: Double(Int16(truncatingIfNeeded: bits))
        case .uint16, .bitfield16, .boolean: Double(UInt16(truncatingIfNeeded: bits))
        case .int32: Double(Int32(truncatingIfNeeded: bits))
        case .uint32, .bitfield32: Double(UInt32(truncatingIfNeeded: bits))
        case .int64: Double(Int64(bitPattern: bits))
        case .uint64: Double(bits)
        case .float32: Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .float64: Double(bitPattern: bits)
        case .string: 0
        }
    }

    /// The registers that encode `value` (already unscaled to the device's raw units) as `type`.
    /// Integers are rounded to the nearest whole number; nil when the value does not fit.
    public static func encode(_ value: Double, type: PointDataType, byteOrder: ByteOrder, wordOrder: WordOrder) -> [UInt16]? {
        guard value.isFinite || type.isFloatingPoint else { return nil }
        let rounded = value.rounded()
        let bits: UInt64
        switch type {
        case .int16:
            guard let v = Int16(exactly: rounded) else { return nil }
            bits = UInt64(UInt16(bitPattern: v))
        case .uint16, .bitfield16, .boolean:
            guard let v = UInt16(exactly: rounded) else { return nil }
            bits = UInt64(v)
        case .int32:
            guard let v = Int32(exactly: rounded) else { return nil }
            bits = UInt64(UInt32(bitPattern: v))
        case .uint32, .bitfield32:
            guard let v = UInt32(exactly: rounded) else { return nil }
            bits = UInt64(v)
        case .int64:
            guard let v = Int64(exactly: rounded) else { return nil }
            bits = UInt64(bitPattern: v)
        case .uint64:
            guard let v = UInt64(exactly: rounded) else { return nil }
            bits = v
        case .float32: bits = UInt64(Float(value).bitPattern)
        case .float64: bits = value.bitPattern
        case .string: return nil
        }
        let count = type.registerCount(stringLength: 0)
        var registers = [UInt16](repeating: 0, count: count)
        for index in 0..<count {
            // index 0 is the most significant word
            var word = UInt16(truncatingIfNeeded: bits >> UInt64(16 * (count - 1 - index)))
            if byteOrder == .little { word = word.byteSwapped }
            registers[wordOrder == .big ? index : count - 1 - index] = word
        }
        return registers
    }

    /// Text of a string point: two characters per register (high byte first for `big`),
    /// cut at the first NUL, trailing spaces removed. Nil when the first byte is NUL
    /// (SunSpec's "not implemented").
    public static func text(_ registers: UnsafeBufferPointer<UInt16>, at offset: Int, registerCount: Int, byteOrder: ByteOrder) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(registerCount * 2)
        for index in offset..<(offset + registerCount) {
            let word = byteOrder == .big ? registers[index] : registers[index].byteSwapped
            bytes.append(UInt8(word >> 8))
            bytes.append(UInt8(word & 0xFF))
        }
        guard let first = bytes.first, first != 0 else { return nil }
        if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
        while bytes.last == UInt8(ascii: " ") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Registers for a text, NUL-padded to `registerCount`; nil when it is too long.
    public static func encode(text: String, registerCount: Int, byteOrder: ByteOrder) -> [UInt16]? {
        let bytes = Array(text.utf8)
        guard bytes.count <= registerCount * 2 else { return nil }
        let padded = bytes + [UInt8](repeating: 0, count: registerCount * 2 - bytes.count)
        return (0..<registerCount).map { index in
            let word = UInt16(padded[2 * index]) << 8 | UInt16(padded[2 * index + 1])
            return byteOrder == .big ? word : word.byteSwapped
        }
    }
}
