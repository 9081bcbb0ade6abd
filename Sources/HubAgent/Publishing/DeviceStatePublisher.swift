import Acquisition
import DeviceProfiles
import HubContract
import HubDomain
import HubSupport
import MQTTIO

/// Publishes each device's state message (`device/{device}/state`) from the thread that polled
/// the device, as soon as its cycle ends.
///
/// Encoding a state message is most of the per-device work of a cycle (about 45 µs for a
/// 40-point meter); done on the bus threads, in parallel, it stays out of the core actor, whose
/// serial work per device is then the balance input and the ledger only.
public struct DeviceStatePublisher: Sendable {
    public let hub: String
    public let topics: Topics
    public let link: MQTTLink
    public let store: AgentStore
    /// Queue states in the outbox while the broker is away (else they are dropped, counted).
    public let queueWhileDisconnected: Bool

    public init(hub: String, link: MQTTLink, store: AgentStore, queueWhileDisconnected: Bool) {
        self.hub = hub
        self.topics = Topics(hub: hub)
        self.link = link
        self.store = store
        self.queueWhileDisconnected = queueWhileDisconnected
    }

    public func publish(_ snapshot: DeviceSnapshot, now: UTCMilliseconds) {
        let payload = Self.message(snapshot, hub: hub, now: now).payload
        let topic = topics.deviceState(snapshot.device)
        if queueWhileDisconnected, !link.isConnected {
            try? store.enqueue(kind: .deviceState, topic: topic, payload: Array(payload), qos: 1, retain: false,
                               now: UTCTimestamp(millisecondsSinceEpoch: now.rawValue))
        } else {
            link.publishLive(MQTTMessage(topic: topic, payload: Array(payload)))
        }
    }

    /// The state message: every point with its value, unit and quality (values only when good or stale).
    static func message(_ snapshot: DeviceSnapshot, hub: String, now: UTCMilliseconds) -> DeviceStateMessage {
        var points: [String: DeviceStateMessage.Point] = [:]
        points.reserveCapacity(snapshot.values.count)
        // The points of one read block share their time: format each time once.
        var lastTime: (at: UTCMilliseconds, text: String)?
        func iso8601(_ at: UTCMilliseconds?) -> String? {
            guard let at else { return nil }
            if let lastTime, lastTime.at == at { return lastTime.text }
            lastTime = (at, at.iso8601)
            return lastTime?.text
        }
        for value in snapshot.values {
            var quality = "good", age: Int64?, error: String?
            switch value.quality {
            case .good: break
            case .stale(let ageMs): quality = "stale"; age = ageMs
            case .missing: quality = "missing"
            case .error(let code, let message): quality = "error"; error = "\(code): \(message)"
            }
            let shownValue: Double? = quality == "good" || quality == "stale" ? value.value : nil
            points[value.point] = DeviceStateMessage.Point(value: shownValue, text: value.text, unit: value.unit, quality: quality,
                                                           ageMs: age, error: error, acquiredAt: iso8601(value.acquiredAt))
        }
        var canonical: [String: String] = [:]
        for (quantity, value) in snapshot.canonical { canonical[quantity.rawValue] = value.point }
        return DeviceStateMessage(hub: hub, device: snapshot.device, profile: snapshot.profile,
                                  health: snapshot.health.state.rawValue, at: now.iso8601, points: points, canonical: canonical)
    }
}
