import CMosquitto
import HubSupport

/// A failed libmosquitto call or a refused connection, with the library's code and errno.
public struct MQTTError: HubError, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A libmosquitto function returned an error code (`mosq_err_t`).
        case library(Int32)
        /// The broker refused the connection (CONNACK reason code).
        case refused(Int32)
    }

    public let kind: Kind
    public let operation: String
    public let errnoValue: Int32
    public let detail: String

    public init(_ kind: Kind, operation: String, errnoValue: Int32 = 0, detail: String = "") {
        self.kind = kind
        self.operation = operation
        self.errnoValue = errnoValue
        self.detail = detail
    }

    public var code: String {
        switch kind {
        case .library(let rc): "mqtt.library.\(rc)"
        case .refused(let reason): "mqtt.refused.\(reason)"
        }
    }

    public var description: String {
        var text = "MQTT \(operation) failed: "
        switch kind {
        case .library(let rc):
            text += rc == MOSQ_ERR_ERRNO.rawValue ? "system error (errno \(errnoValue))" : String(cString: mosquitto_strerror(rc))
        case .refused(let reason):
            text += "broker refused the connection: \(MQTTError.reasonText(reason))"
        }
        if !detail.isEmpty { text += " (\(detail))" }
        return text
    }

    /// The broker's reason code as text (MQTT 5 reason codes include the 3.1.1 CONNACK codes' meaning).
    public static func reasonText(_ reason: Int32) -> String {
        switch reason {
        case 1: return "unacceptable protocol version"
        case 2: return "identifier rejected"
        case 3: return "broker unavailable"
        case 4: return "bad user name or password"
        case 5: return "not authorised"
        default: return String(cString: mosquitto_reason_string(reason))
        }
    }

    static func check(_ rc: Int32, _ operation: String, detail: String = "") throws(MQTTError) {
        guard rc != MOSQ_ERR_SUCCESS.rawValue else { return }
        throw MQTTError(.library(rc), operation: operation, errnoValue: rc == MOSQ_ERR_ERRNO.rawValue ? hubmeter_mosq_errno() : 0, detail: detail)
    }
}
