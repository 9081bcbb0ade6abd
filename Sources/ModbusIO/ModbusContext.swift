import CModbus
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Owns one libmodbus context; frees it exactly once. Not thread-safe by design: only the
/// `ModbusConnection` actor that created it (on its own serial queue) ever touches it.
final class ModbusContext {
    let pointer: OpaquePointer
    private(set) var isOpen = false

    private init(pointer: OpaquePointer) {
        self.pointer = pointer
    }

    static func make(_ endpoint: ModbusEndpoint) -> ModbusContext? {
        let pointer: OpaquePointer?
        switch endpoint {
        case .tcp(let host, let port):
            // modbus_new_tcp_pi resolves host names and accepts IPv6; the service is the port as text.
            pointer = modbus_new_tcp_pi(host, String(port))
        case .rtu(let serial):
            let parity: CChar = switch serial.parity {
            case .none: CChar(UInt8(ascii: "N"))
            case .even: CChar(UInt8(ascii: "E"))
            case .odd: CChar(UInt8(ascii: "O"))
            }
            pointer = modbus_new_rtu(serial.device, Int32(serial.baud), parity, Int32(serial.dataBits), Int32(serial.stopBits))
        }
        // Constructors are not nullability-annotated: check, never force.
        guard let pointer else { return nil }
        return ModbusContext(pointer: pointer)
    }

    func markOpen(_ open: Bool) { isOpen = open }

    func close() {
        if isOpen {
            modbus_close(pointer)
            isOpen = false
        }
    }

    deinit {
        if isOpen { modbus_close(pointer) }
        modbus_free(pointer)
    }
}
