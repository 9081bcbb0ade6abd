import HubSupport
import Logging
import MQTTIO
import Synchronization

/// The agent's one connection to the broker: publishes live values when connected, drains the
/// durable outbox in order with QoS 1 (rows are deleted only when the broker acknowledged them),
/// keeps retained availability current across reconnects, and logs each connection state change
/// once with its cause.
public actor MQTTLink {
    public enum State: Sendable, Equatable {
        case connecting
        case connected
        case disconnected(reason: String)
    }

    public struct Counters: Sendable, Equatable {
        public var outboxPublished = 0
        public var outboxAcknowledged = 0
        public var livePublished = 0
        public var liveDroppedWhileDisconnected = 0
        public var connects = 0
        public var disconnects = 0
    }

    /// Read without entering the actor: live values are published from the caller's context,
    /// so 400 messages a cycle do not cost 400 actor hops. Atomics, not a lock: 200 bus threads
    /// publish their device states in the same millisecond.
    private let liveConnected = Atomic<Bool>(false)
    private let livePublished = Atomic<Int>(0)
    private let liveDropped = Atomic<Int>(0)

    private let client: MQTTClient
    private let store: AgentStore
    private let logger: Logger
    private let maxInFlight: Int
    private let birth: MQTTMessage?
    private(set) public var state: State = .connecting {
        didSet { liveConnected.store(state == .connected, ordering: .releasing) }
    }
    private var ownCounters = Counters()

    public var counters: Counters {
        var result = ownCounters
        result.livePublished = livePublished.load(ordering: .relaxed)
        result.liveDroppedWhileDisconnected = liveDropped.load(ordering: .relaxed)
        return result
    }
    /// message id → outbox row id, for QoS 1 outbox messages awaiting PUBACK.
    private var inFlight: [Int32: Int64] = [:]
    /// Highest outbox row id handed to the broker on this connection.
    private var lastSentRow: Int64 = 0
    /// Retained messages to restate after every reconnect (availability), by topic.
    private var retained: [String: MQTTMessage] = [:]
    /// Problems already logged since the last successful connection: each is said once per outage.
    private var loggedProblems: Set<String> = []
    private var stateWaiters: [CheckedContinuation<Void, Never>] = []

    public init(client: MQTTClient, store: AgentStore, logger: Logger, birth: MQTTMessage?, maxInFlight: Int = 20) {
        self.client = client
        self.store = store
        self.logger = logger
        self.birth = birth
        self.maxInFlight = maxInFlight
    }

    /// Consumes the client's events until the client stops. Run it as a task.
    public func run() async {
        for await event in client.events {
            handle(event)
        }
    }

    private func handle(_ event: MQTTClient.Event) {
        switch event {
        case .connected:
            ownCounters.connects += 1
            state = .connected
            loggedProblems.removeAll()
            logger.notice("connected to the MQTT broker", metadata: ["outbox": "\(pendingCount())"])
            inFlight.removeAll()
            lastSentRow = 0
            if let birth { _ = try? client.publish(birth) }
            for message in retained.values.sorted(by: { $0.topic < $1.topic }) { _ = try? client.publish(message) }
            drain()
            resumeWaiters()
        case .connectionRefused(let reason, let text):
            becomeDisconnected("broker refused the connection: \(text) (reason \(reason))")
        case .disconnected(let reason, let text):
            if reason != 0 { becomeDisconnected("connection lost: \(text)") }
        case .published(let messageID, let reason):
            guard let row = inFlight.removeValue(forKey: messageID) else { return }
            if reason >= 0x80 {
                // The broker refused this message (for example not authorised): keep it, log once.
                logOnce("broker refused an outbox message (reason \(reason)); it stays queued")
                return
            }
            do {
                try store.remove(ids: [row])
                ownCounters.outboxAcknowledged += 1
            } catch {
                logger.error("cannot remove an acknowledged outbox entry", metadata: ["error": "\(error)"])
            }
            drain()
        case .log(_, let text):
            // TLS verification failures and the like only show up here; say them once per outage.
            if state != .connected { logOnce("MQTT: \(text)") }
        case .subscribed, .message:
            break
        }
    }

    private func becomeDisconnected(_ reason: String) {
        if state == .connected { ownCounters.disconnects += 1 }
        state = .disconnected(reason: reason)
        inFlight.removeAll()
        lastSentRow = 0
        logOnce(reason)
        resumeWaiters()
    }

    private func logOnce(_ problem: String) {
        guard loggedProblems.insert(problem).inserted else { return }
        logger.warning("\(problem); retrying with backoff")
    }

    private func pendingCount() -> Int {
        ((try? store.statistics())?.count.values.reduce(0, +)) ?? -1
    }

    /// Sends outbox entries while there is room in the in-flight window.
    public func drain() {
        guard state == .connected else { return }
        while inFlight.count < maxInFlight {
            let entries: [AgentStore.Entry]
            do {
                entries = try store.pending(limit: maxInFlight - inFlight.count, after: lastSentRow)
            } catch {
                logger.error("cannot read the outbox", metadata: ["error": "\(error)"])
                return
            }
            if entries.isEmpty { return }
            for entry in entries {
                do {
                    let messageID = try client.publish(MQTTMessage(topic: entry.topic, payload: entry.payload, qos: max(1, entry.qos), retain: entry.retain))
                    inFlight[messageID] = entry.id
                    lastSentRow = entry.id
                    ownCounters.outboxPublished += 1
                } catch {
                    // Not connected after all; the connection event will restart the drain.
                    return
                }
            }
        }
    }

    /// Publishes a live value (QoS 0). While disconnected it is dropped and counted, unless the
    /// caller queued it in the outbox instead.
    public nonisolated func publishLive(_ message: MQTTMessage) {
        let sent = isConnected && (try? client.publish(message)) != nil
        if sent { livePublished.wrappingAdd(1, ordering: .relaxed) } else { liveDropped.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Whether the broker connection is up, without entering the actor.
    public nonisolated var isConnected: Bool { liveConnected.load(ordering: .acquiring) }

    /// Publishes a retained message now (if connected) and again after every reconnect.
    public func publishRetained(_ message: MQTTMessage) {
        retained[message.topic] = message
        if state == .connected { _ = try? client.publish(message) }
    }

    /// Number of outbox messages sent but not yet acknowledged.
    public var inFlightCount: Int { inFlight.count }

    /// Waits until the next connection state change (for tests and orderly shutdown).
    public func waitForStateChange() async {
        await withCheckedContinuation { stateWaiters.append($0) }
    }

    private func resumeWaiters() {
        let waiters = stateWaiters
        stateWaiters.removeAll()
        waiters.forEach { $0.resume() }
    }
}
