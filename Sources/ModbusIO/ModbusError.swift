import CModbus
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import HubSupport

/// A Modbus exception response from a device (Modbus Application Protocol 1.1b3, §7).
public enum ModbusException: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case illegalFunction = 0x01
    case illegalDataAddress = 0x02
    case illegalDataValue = 0x03
    case serverDeviceFailure = 0x04
    case acknowledge = 0x05
    case serverDeviceBusy = 0x06
    case negativeAcknowledge = 0x07
    case memoryParityError = 0x08
    case gatewayPathUnavailable = 0x0A
    case gatewayTargetFailedToRespond = 0x0B

    public var name: String {
        switch self {
        case .illegalFunction: "illegal function"
        case .illegalDataAddress: "illegal data address"
        case .illegalDataValue: "illegal data value"
        case .serverDeviceFailure: "server device failure"
        case .acknowledge: "acknowledge"
        case .serverDeviceBusy: "server device busy"
        case .negativeAcknowledge: "negative acknowledge"
        case .memoryParityError: "memory parity error"
        case .gatewayPathUnavailable: "gateway path unavailable"
        case .gatewayTargetFailedToRespond: "gateway target device failed to respond"
        }
    }

    public var description: String { "exception \(rawValue) (\(name))" }
}

/// A failed Modbus operation: what was tried, against which device, and libmodbus's verdict.
public struct ModbusError: HubError, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Could not open the TCP connection or serial port.
        case connectionFailed
        /// The device did not answer within the response timeout.
        case timeout
        /// The device answered with a Modbus exception.
        case exception(ModbusException)
        /// A serial frame failed its CRC check.
        case badCRC
        /// The response did not match the request (wrong unit, function, length or data).
        case invalidResponse
        /// The connection broke during the transaction.
        case connectionLost
        /// The call itself was invalid (too many registers, bad address), caught before sending.
        case invalidRequest
        /// A write was refused because the device is not configured writable.
        case writeNotAllowed
        /// A write was accepted but reading back gave another value.
        case verificationFailed
        case other
    }

    public let kind: Kind
    /// What was attempted, for example `read 2 holding registers at 40000`.
    public let operation: String
    /// Where: `tcp://127.0.0.1:502 unit 1`, `rtu:/dev/ttyUSB0 unit 3`.
    public let target: String
    /// errno right after the failing libmodbus call, 0 if none.
    public let errnoValue: Int32
    public let detail: String

    public init(_ kind: Kind, operation: String, target: String, errnoValue: Int32 = 0, detail: String = "") {
        self.kind = kind
        self.operation = operation
        self.target = target
        self.errnoValue = errnoValue
        self.detail = detail
    }

    public var code: String {
        switch kind {
        case .connectionFailed: "modbus.connection_failed"
        case .timeout: "modbus.timeout"
        case .exception(let exception): "modbus.exception.\(exception.rawValue)"
        case .badCRC: "modbus.bad_crc"
        case .invalidResponse: "modbus.invalid_response"
        case .connectionLost: "modbus.connection_lost"
        case .invalidRequest: "modbus.invalid_request"
        case .writeNotAllowed: "modbus.write_not_allowed"
        case .verificationFailed: "modbus.verification_failed"
        case .other: "modbus.other"
        }
    }

    /// Whether the connection should be closed and reopened before the next transaction.
    public var breaksConnection: Bool {
        switch kind {
        case .connectionFailed, .connectionLost: true
        case .invalidResponse, .badCRC: true // resynchronise the byte stream
        default: false
        }
    }

    public var description: String {
        var text = "\(operation) on \(target) failed: "
        switch kind {
        case .exception(let exception): text += "device answered Modbus \(exception)"
        case .timeout: text += "no response (timeout)"
        case .connectionFailed: text += "cannot connect"
        case .connectionLost: text += "connection lost"
        case .badCRC: text += "bad CRC in response"
        case .invalidResponse: text += "invalid response"
        case .invalidRequest: text += "invalid request"
        case .writeNotAllowed: text += "writes are disabled for this device (set writable: true to allow them)"
        case .verificationFailed: text += "read-back does not match the written value"
        case .other: text += "error"
        }
        if !detail.isEmpty { text += ": \(detail)" }
        if errnoValue != 0 && errnoValue < hubmeter_modbus_enobase() { text += " (\(ErrnoName.describe(errnoValue)))" }
        return text
    }

    /// Classifies errno after a failed libmodbus call. Must be called before anything else can touch errno.
    static func fromErrno(_ value: Int32, operation: String, target: String, connecting: Bool = false) -> ModbusError {
        let base = hubmeter_modbus_enobase()
        if value > base {
            let code = value - base
            if let exception = ModbusException(rawValue: UInt8(clamping: code)), code <= 0x0B {
                return ModbusError(.exception(exception), operation: operation, target: target, errnoValue: value)
            }
            if value == hubmeter_modbus_embbadcrc() {
                return ModbusError(.badCRC, operation: operation, target: target, errnoValue: value)
            }
            let detail: String
            switch value {
            case hubmeter_modbus_embbaddata(): detail = "data does not match the request"
            case hubmeter_modbus_embmdata(): detail = "too many data"
            case hubmeter_modbus_embbadexc(): detail = "invalid exception code"
            case hubmeter_modbus_embbadslave(): detail = "response from another unit id"
            case hubmeter_modbus_embunkexc(): detail = "unknown exception code"
            default: detail = "libmodbus error \(value)"
            }
            return ModbusError(.invalidResponse, operation: operation, target: target, errnoValue: value, detail: detail)
        }
        switch value {
        case ETIMEDOUT:
            return ModbusError(connecting ? .connectionFailed : .timeout, operation: operation, target: target, errnoValue: value)
        case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ENOENT, EACCES, ENODEV, ENXIO, EADDRNOTAVAIL:
            return ModbusError(.connectionFailed, operation: operation, target: target, errnoValue: value)
        case ECONNRESET, EPIPE, EBADF, ENOTCONN, ECONNABORTED, EIO:
            return ModbusError(connecting ? .connectionFailed : .connectionLost, operation: operation, target: target, errnoValue: value)
        case EINVAL:
            return ModbusError(.invalidRequest, operation: operation, target: target, errnoValue: value)
        default:
            return ModbusError(connecting ? .connectionFailed : .other, operation: operation, target: target, errnoValue: value)
        }
    }
}

/// Readable errno names without strerror (which is not thread-safe).
enum ErrnoName {
    static func describe(_ value: Int32) -> String {
        let names: [Int32: String] = [
            ETIMEDOUT: "ETIMEDOUT: timed out", ECONNREFUSED: "ECONNREFUSED: connection refused",
            EHOSTUNREACH: "EHOSTUNREACH: host unreachable", ENETUNREACH: "ENETUNREACH: network unreachable",
            ECONNRESET: "ECONNRESET: connection reset by peer", EPIPE: "EPIPE: broken pipe", EBADF: "EBADF: not connected",
            ENOENT: "ENOENT: no such file or device", EACCES: "EACCES: permission denied", EINVAL: "EINVAL: invalid argument",
            ENODEV: "ENODEV: no such device", EIO: "EIO: input/output error", ENOTCONN: "ENOTCONN: not connected",
            EADDRINUSE: "EADDRINUSE: address in use", ENXIO: "ENXIO: no such device or address",
        ]
        return names[value] ?? "errno \(value)"
    }
}
