/// How a value is laid out in Modbus registers.
///
/// Multi-register types are assembled from 16-bit registers in the point's word order, each
/// register's two bytes in its byte order (see ``ByteOrder`` and ``WordOrder``).
public enum PointDataType: String, Sendable, Hashable, CaseIterable {
    case int16, uint16, int32, uint32, int64, uint64, float32, float64
    /// Text, `length` registers of two characters each, NUL-padded.
    case string
    /// A set of flags in one register (bit 0 is the least significant bit).
    case bitfield16
    /// A set of flags in two registers.
    case bitfield32
    /// One coil or discrete input: 0 or 1. The only type allowed on the bit tables.
    case boolean

    /// Registers occupied; strings take their declared length.
    public func registerCount(stringLength: Int) -> Int {
        switch self {
        case .int16, .uint16, .bitfield16, .boolean: 1
        case .int32, .uint32, .float32, .bitfield32: 2
        case .int64, .uint64, .float64: 4
        case .string: stringLength
        }
    }

    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }
    public var isSigned: Bool { self == .int16 || self == .int32 || self == .int64 }
}

/// Order of the two bytes inside one register. Modbus itself is big-endian (`big`, "AB");
/// a few devices swap them (`little`, "BA").
public enum ByteOrder: String, Sendable, Hashable, CaseIterable {
    case big, little
}

/// Order of the registers of a multi-register value: `big` puts the most significant word
/// first ("ABCD", SunSpec, Eastron); `little` puts it last ("CDAB", Carlo Gavazzi).
public enum WordOrder: String, Sendable, Hashable, CaseIterable {
    case big, little
}
