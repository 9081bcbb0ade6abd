/// Where a Modbus connection goes.
public enum ModbusEndpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case rtu(SerialParameters)

    public struct SerialParameters: Sendable, Hashable {
        public enum Parity: Sendable, Hashable { case none, even, odd }
        public var device: String
        public var baud: Int
        public var parity: Parity
        public var dataBits: Int
        public var stopBits: Int
        public var rs485: Bool

        public init(device: String, baud: Int = 9600, parity: Parity = .none, dataBits: Int = 8, stopBits: Int = 1, rs485: Bool = false) {
            self.device = device
            self.baud = baud
            self.parity = parity
            self.dataBits = dataBits
            self.stopBits = stopBits
            self.rs485 = rs485
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        case .rtu(let serial): "rtu:\(serial.device)"
        }
    }
}

/// The four Modbus data tables.
public enum RegisterKind: String, Sendable, Hashable, CaseIterable, Codable {
    case holding
    case input
    case coil
    case discreteInput = "discrete_input"

    public var isBit: Bool { self == .coil || self == .discreteInput }
    /// At most this many items in one read request (Modbus spec: 125 registers, 2000 bits).
    public var maxReadCount: Int { isBit ? 2000 : 125 }
}
