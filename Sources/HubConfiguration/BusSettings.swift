import ConfigReading

/// One Modbus bus: a TCP endpoint (one connection, several unit ids behind it) or a serial RTU line.
public struct BusSettings: Sendable, Equatable {
    public enum Transport: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case rtu(SerialLine)

        /// Unit ids that can be addressed: RTU 1–247 (0 is broadcast); TCP gateways and devices use 0–255.
        public var unitIDRange: ClosedRange<Int> {
            switch self {
            case .tcp: 0...255
            case .rtu: 1...247
            }
        }
    }

    public struct SerialLine: Sendable, Equatable {
        public enum Parity: String, Sendable, CaseIterable { case none, even, odd }
        public var device: String
        public var baud: Int
        public var parity: Parity
        public var dataBits: Int
        public var stopBits: Int
        /// Switch the port to RS-485 mode (TIOCSRS485) where the driver supports it.
        public var rs485: Bool
    }

    public var id: String
    public var transport: Transport
    /// How long to wait for a response before the transaction counts as a timeout.
    public var timeout: Duration
    /// Pause between the end of one transaction and the next on this bus (RTU turnaround, slow gateways).
    public var turnaroundDelay: Duration
    /// Pause after (re)connecting before the first request (some inverters need seconds).
    public var connectDelay: Duration

    static func read(_ node: ConfigNode) throws(ConfigError) -> BusSettings {
        let map = try node.mapping(keys: ["id", "transport", "host", "port", "device", "baud", "parity", "data_bits", "stop_bits",
                                          "rs485", "timeout", "turnaround_delay", "connect_delay"])
        enum Kind: String, CaseIterable { case tcp, rtu }
        let kind = try map.value("transport", expecting: "tcp or rtu") { node throws(ConfigError) in try node.choice(Kind.self) }
        let tcpKeys = ["host", "port"], rtuKeys = ["device", "baud", "parity", "data_bits", "stop_bits", "rs485"]
        for key in kind == .tcp ? rtuKeys : tcpKeys {
            if let stray = map.optional(key) {
                throw stray.error(.inconsistent, "'\(key)' does not apply to a \(kind.rawValue) bus")
            }
        }
        let transport: Transport
        switch kind {
        case .tcp:
            transport = .tcp(
                host: try map.value("host", expecting: "the device's or gateway's host name or address") { node throws(ConfigError) in try node.string() },
                port: try map.value("port", default: 502) { node throws(ConfigError) in try node.int(in: 1...65535) }
            )
        case .rtu:
            transport = .rtu(SerialLine(
                device: try map.value("device", expecting: "the serial device, for example /dev/ttyUSB0") { node throws(ConfigError) in try absolutePath(node) },
                baud: try map.value("baud", default: 9600) { node throws(ConfigError) in
                    let baud = try node.int()
                    let supported = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400]
                    guard supported.contains(baud) else {
                        throw node.error(.invalidValue, "\(baud) is not a supported baud rate; expected one of: \(supported.map(String.init).joined(separator: ", "))")
                    }
                    return baud
                },
                parity: try map.value("parity", default: .none) { node throws(ConfigError) in try node.choice(SerialLine.Parity.self) },
                dataBits: try map.value("data_bits", default: 8) { node throws(ConfigError) in try node.int(in: 5...8) },
                stopBits: try map.value("stop_bits", default: 1) { node throws(ConfigError) in try node.int(in: 1...2) },
                rs485: try map.value("rs485", default: false) { node throws(ConfigError) in try node.bool() }
            ))
        }
        let defaultTimeout: Duration = kind == .tcp ? .seconds(1) : .milliseconds(500)
        return BusSettings(
            id: try map.value("id", expecting: "an identifier for the bus") { node throws(ConfigError) in try node.identifier() },
            transport: transport,
            timeout: try map.value("timeout", default: defaultTimeout) { node throws(ConfigError) in try node.duration(in: .milliseconds(20)...(.seconds(30))) },
            turnaroundDelay: try map.value("turnaround_delay", default: kind == .rtu ? .milliseconds(5) : .zero) { node throws(ConfigError) in
                try node.duration(in: .zero...(.seconds(5)))
            },
            connectDelay: try map.value("connect_delay", default: .zero) { node throws(ConfigError) in try node.duration(in: .zero...(.seconds(60))) }
        )
    }
}
