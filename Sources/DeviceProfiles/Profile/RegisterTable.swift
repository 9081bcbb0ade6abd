/// The four Modbus data tables. Mirrors `ModbusIO.RegisterKind`, kept separate so that this
/// module stays free of I/O (the acquisition layer maps one onto the other).
public enum RegisterTable: String, Sendable, Hashable, CaseIterable {
    case holding
    case input
    case coil
    case discreteInput = "discrete_input"

    public var isBit: Bool { self == .coil || self == .discreteInput }
    /// The most items one read request may ask for (Modbus spec: 125 registers, 2000 bits).
    public var maxReadCount: Int { isBit ? 2000 : 125 }
}
