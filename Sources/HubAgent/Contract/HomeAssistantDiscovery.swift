import HubContract
import DeviceProfiles
import MQTTIO

/// Home Assistant MQTT discovery for the live values: one retained sensor config per canonical
/// quantity of a device, reading the device's state topic (power: measurement; energy:
/// total_increasing), with the device's availability topic.
public struct HomeAssistantDiscovery: Sendable {
    public let prefix: String
    public let topics: Topics

    public init(prefix: String, topics: Topics) {
        self.prefix = prefix
        self.topics = topics
    }

    struct SensorConfig: Encodable {
        struct Device: Encodable {
            var identifiers: [String]
            var name: String
            var manufacturer: String
            var model: String
        }

        var name: String
        var unique_id: String
        var object_id: String
        var state_topic: String
        var value_template: String
        var unit_of_measurement: String
        var device_class: String
        var state_class: String
        var availability_topic: String
        var availability_template: String
        var payload_available: String
        var payload_not_available: String
        var device: Device
    }

    /// The retained discovery messages for one device.
    public func messages(device: String, profile: String, canonical: [CanonicalQuantity: String]) -> [MQTTMessage] {
        let nodeID = Self.sanitized("hubmeter_\(topics.hub)")
        return canonical.sorted { $0.key.rawValue < $1.key.rawValue }.compactMap { quantity, point in
            let (deviceClass, stateClass, label): (String, String, String) = switch quantity {
            case .gridPower: ("power", "measurement", "Grid power")
            case .pvPower: ("power", "measurement", "PV power")
            case .batteryPower: ("power", "measurement", "Battery power")
            case .batterySoC: ("battery", "measurement", "Battery state of charge")
            case .gridImportEnergy: ("energy", "total_increasing", "Energy imported")
            case .gridExportEnergy: ("energy", "total_increasing", "Energy exported")
            case .pvEnergy: ("energy", "total_increasing", "PV energy")
            case .batteryChargeEnergy: ("energy", "total_increasing", "Battery energy charged")
            case .batteryDischargeEnergy: ("energy", "total_increasing", "Battery energy discharged")
            }
            let objectID = Self.sanitized("\(device)_\(quantity.rawValue)")
            let config = SensorConfig(
                name: label, unique_id: "\(nodeID)_\(objectID)", object_id: "\(nodeID)_\(objectID)",
                state_topic: topics.deviceState(device),
                // A missing or stale value renders as unknown in Home Assistant, never as 0.
                value_template: "{{ value_json.points['\(point)'].value if value_json.points['\(point)'].quality == 'good' else None }}",
                unit_of_measurement: quantity.unit, device_class: deviceClass, state_class: stateClass,
                availability_topic: topics.deviceAvailability(device), availability_template: "{{ value_json.state }}",
                payload_available: "online", payload_not_available: "offline",
                device: .init(identifiers: [Self.sanitized("\(nodeID)_\(device)")], name: device, manufacturer: "hubmeter", model: profile))
            guard let payload = try? MessageEncoding.encode(config) else { return nil }
            return MQTTMessage(topic: "\(prefix)/sensor/\(nodeID)/\(objectID)/config", payload: payload, qos: 1, retain: true)
        }
    }

    /// Home Assistant ids allow `[a-zA-Z0-9_-]`.
    static func sanitized(_ text: String) -> String {
        String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "_" })
    }
}
