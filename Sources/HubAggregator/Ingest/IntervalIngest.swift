import HubContract
import HubDomain
import HubSupport

/// Checks one received MQTT message against the topic contract v1, without I/O: topic shape,
/// size limit, the v1 JSON Schema (``MessageSchemas``), typed decoding and hash (through
/// ``IntervalMessage/parse(_:)``, on the tape the schema was checked on), and that the hub in the payload is the hub of the topic. What passes becomes an ``AcceptedInterval`` for the store;
/// what fails becomes a ``Rejection`` that is counted and logged, never stored.
///
/// Sequence and chain bookkeeping needs the records already stored (they may arrive out of order,
/// or at another aggregator instance), so it happens in the store, in the same transaction as the insert.
public struct IntervalIngest: Sendable {
    public let topicPrefix: String
    public let maxMessageBytes: Int
    /// The compiled v1 schemas every message is validated against before it is decoded. The
    /// daemon always passes them; without them (unit tests of the store) only typed decoding checks.
    public let schemas: MessageSchemas?

    public init(topicPrefix: String, maxMessageBytes: Int, schemas: MessageSchemas? = nil) {
        self.topicPrefix = topicPrefix
        self.maxMessageBytes = maxMessageBytes
        self.schemas = schemas
    }

    /// What a message turned out to be.
    public enum Outcome: Sendable {
        case interval(AcceptedInterval)
        case status(hub: String, StatusMessage)
        /// A topic of the contract the aggregator does not store (balances, device states).
        case ignored
        case rejected(Rejection)
    }

    /// The topic filters to subscribe to; with a share group, as MQTT 5 shared subscriptions.
    public func subscriptions(shareGroup: String?) -> [String] {
        let filters = ["\(topicPrefix)/+/interval", "\(topicPrefix)/+/status"]
        guard let shareGroup else { return filters }
        return filters.map { "$share/\(shareGroup)/\($0)" }
    }

    public func classify(topic: String, payload: [UInt8], receivedAt: UTCMilliseconds) -> Outcome {
        guard topic.hasPrefix(topicPrefix + "/") else {
            return .rejected(Rejection(topic: topic, reason: .unknownTopic, detail: "outside \(topicPrefix)/", hub: nil))
        }
        let levels = topic.dropFirst(topicPrefix.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        guard let hubLevel = levels.first, !hubLevel.isEmpty, levels.count >= 2 else {
            return .rejected(Rejection(topic: topic, reason: .unknownTopic, detail: "no hub level", hub: nil))
        }
        let topicHub = String(hubLevel)
        let kind = levels.dropFirst().joined(separator: "/")
        guard kind == "interval" || kind == "status" else { return .ignored }
        guard payload.count <= maxMessageBytes else {
            return .rejected(Rejection(topic: topic, reason: .oversized,
                                       detail: "\(payload.count) bytes, limit \(maxMessageBytes)", hub: topicHub))
        }
        // Parsed once: the tape the schema was checked on is the one the message is decoded and hashed from.
        var validated: JSONTape?
        if let schemas {
            switch (kind == "status" ? schemas.status : schemas.interval).validate(payload) {
            case .valid(let tape):
                validated = tape
            case .notJSON(let error):
                return .rejected(Rejection(topic: topic, reason: .malformed, detail: error.description, hub: topicHub))
            case .invalid(let violations):
                // A message of another contract version is told apart from a broken one.
                let reason: Rejection.Reason = violations.first?.pointer == "/schema" ? .wrongSchema : .schemaViolation
                return .rejected(Rejection(topic: topic, reason: reason, detail: violations.map(\.description).joined(separator: "; "), hub: topicHub))
            }
        }
        if kind == "status" {
            let status: StatusMessage
            do {
                status = try JSONTapeDecoder().decode(StatusMessage.self, from: try validated ?? JSONTape(parsing: payload))
            } catch {
                return .rejected(Rejection(topic: topic, reason: .malformed, detail: "\(error)", hub: topicHub))
            }
            guard status.schema == StatusMessage.schema else {
                return .rejected(Rejection(topic: topic, reason: .wrongSchema, detail: "schema \(status.schema)", hub: topicHub))
            }
            guard status.hub == topicHub else {
                return .rejected(Rejection(topic: topic, reason: .hubMismatch,
                                           detail: "payload hub \(status.hub) published under hub \(topicHub)", hub: topicHub))
            }
            return .status(hub: topicHub, status)
        }
        let message: IntervalMessage
        let record: IntervalRecord
        do {
            if let validated {
                (message, record) = try IntervalMessage.parse(validated)
            } else {
                (message, record) = try IntervalMessage.parse(payload)
            }
        } catch {
            let reason: Rejection.Reason = switch error.kind {
            case .malformed: .malformed
            case .wrongSchema: .wrongSchema
            case .hashMismatch: .hashMismatch
            case .inconsistent: .inconsistent
            }
            return .rejected(Rejection(topic: topic, reason: reason, detail: error.detail, hub: topicHub))
        }
        guard message.hub == topicHub else {
            return .rejected(Rejection(topic: topic, reason: .hubMismatch,
                                       detail: "record of hub \(message.hub) published under hub \(topicHub)", hub: topicHub))
        }
        guard record.interval.start.isQuarterHourAligned, message.sequence > 0 else {
            return .rejected(Rejection(topic: topic, reason: .inconsistent,
                                       detail: "interval start \(record.interval.start) or sequence \(message.sequence) out of range", hub: topicHub))
        }
        return .interval(AcceptedInterval(message: message, record: record, payload: payload, receivedAt: receivedAt))
    }
}

/// A message that passed every check that needs no stored state, reduced to what the store
/// writes: the envelope, the interval, the hub's totals, the KPI sums and the payload as received.
/// The decoded record itself (hundreds of small objects) is not kept: it is freed where it was
/// decoded, by the classifier, not by the one writer that every record has to pass.
public struct AcceptedInterval: Sendable {
    public var message: IntervalMessage
    public var interval: SettlementInterval
    /// The hub's recorded totals (consumption, import, export, production parts).
    public var hubTotals: HubTotals
    /// The payload exactly as received, kept for audits.
    public var payload: [UInt8]
    /// The payload as an LZ4 frame (``PayloadFrame``), when the store asked for it in
    /// ``AggregatorStore/prepare(_:)``: compressed by the classifier, not by the writer.
    public internal(set) var payloadFrame: [UInt8]?
    public var receivedAt: UTCMilliseconds
    public var sums: IntervalSums

    public init(message: IntervalMessage, record: IntervalRecord, payload: [UInt8], receivedAt: UTCMilliseconds) {
        self.message = message
        self.interval = record.interval
        self.hubTotals = record.hub
        self.payload = payload
        self.receivedAt = receivedAt
        self.sums = IntervalSums(record: record)
    }

    /// The hub's production as recorded (companies' PV plus collective PV); nil when either part
    /// is missing, never a partial sum. Stored as `raw_production` by both stores.
    public var rawProductionWh: Double? {
        hubTotals.participantPVWh.flatMap { pv in hubTotals.collectivePVWh.map { pv + $0 } }
    }
}

/// A message that was counted, logged and dropped.
public struct Rejection: Sendable, Equatable {
    public enum Reason: String, Sendable, CaseIterable {
        case oversized, malformed
        /// Valid JSON that does not match the v1 JSON Schema; the detail says where and what was expected.
        case schemaViolation = "schema_violation"
        case wrongSchema = "wrong_schema"
        case hashMismatch = "hash_mismatch"
        case inconsistent
        /// The hub in the payload is not the hub of the topic (spoofing, or a misconfigured agent).
        case hubMismatch = "hub_mismatch"
        case unknownTopic = "unknown_topic"
    }

    public var topic: String
    public var reason: Reason
    public var detail: String
    /// The hub level of the topic, when there is one.
    public var hub: String?
}

import Foundation
