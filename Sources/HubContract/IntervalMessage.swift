import Foundation
import HubDomain
import HubSupport

/// The interval message (`hubmeter/v1/{hub}/interval`): one settlement record, numbered per hub
/// and chained by hash so that gaps and tampering can be detected downstream.
///
/// The record is embedded as canonical JSON bytes (see `MessageEncoding`); the chain hash is
/// `SHA-256("hubmeter-chain/1\n{hub}\n{sequence}\n{previous_hash}\n{record bytes}")`, hex.
/// A verifier decodes the record, re-encodes it canonically (or takes the member's raw bytes),
/// and recomputes.
public struct IntervalMessage: Sendable, Equatable {
    public static let schema = "hubmeter/v1/interval"
    public static let chainVersion = "hubmeter-chain/1"
    /// previous_hash of the first record a hub ever publishes.
    public static let genesisHash = String(repeating: "0", count: 64)

    public var hub: String
    public var sequence: Int64
    public var previousHash: String
    public var hash: String
    public var kpiDefinitions: String
    public var agentVersion: String
    public var recordID: String
    /// Canonical JSON of the `IntervalRecord`.
    public var recordJSON: [UInt8]

    public static func chainHash(hub: String, sequence: Int64, previousHash: String, recordJSON: [UInt8]) -> String {
        let header = Array("\(chainVersion)\n\(hub)\n\(sequence)\n\(previousHash)\n".utf8)
        return SHA256.hex(header + recordJSON)
    }

    /// Builds the message that follows `previousHash` in the chain.
    public static func make(record: IntervalRecord, sequence: Int64, previousHash: String,
                            kpiDefinitions: String, agentVersion: String) throws -> IntervalMessage {
        let recordJSON = try MessageEncoding.encode(record)
        return IntervalMessage(
            hub: record.hubID.rawValue, sequence: sequence, previousHash: previousHash,
            hash: chainHash(hub: record.hubID.rawValue, sequence: sequence, previousHash: previousHash, recordJSON: recordJSON),
            kpiDefinitions: kpiDefinitions, agentVersion: agentVersion, recordID: record.id, recordJSON: recordJSON
        )
    }

    /// The payload: envelope fields sorted by key, with the record's canonical bytes spliced in verbatim.
    public var payload: [UInt8] {
        func quoted(_ text: String) -> String {
            // Every field here is an identifier, hex or version text; escape defensively anyway.
            var escaped = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
                default: escaped.unicodeScalars.append(scalar)
                }
            }
            return "\"\(escaped)\""
        }
        var bytes = Array("{\"agentVersion\":\(quoted(agentVersion)),\"hash\":\(quoted(hash)),\"hub\":\(quoted(hub)),".utf8)
        bytes += Array("\"kpiDefinitions\":\(quoted(kpiDefinitions)),\"previousHash\":\(quoted(previousHash)),\"record\":".utf8)
        bytes += recordJSON
        bytes += Array(",\"recordID\":\(quoted(recordID)),\"schema\":\(quoted(Self.schema)),\"sequence\":\(sequence)}".utf8)
        return bytes
    }

    /// Parses and checks a received payload: envelope fields present, record decodable, hash correct.
    public static func parse(_ payload: [UInt8]) throws(IntervalMessageError) -> (IntervalMessage, IntervalRecord) {
        struct Envelope: Decodable {
            var schema: String
            var hub: String
            var sequence: Int64
            var previousHash: String
            var hash: String
            var kpiDefinitions: String
            var agentVersion: String
            var recordID: String
            var record: IntervalRecord
        }
        let envelope: Envelope
        do {
            envelope = try MessageEncoding.decoder().decode(Envelope.self, from: Data(payload))
        } catch {
            throw IntervalMessageError(.malformed, String(describing: error))
        }
        guard envelope.schema == schema else {
            throw IntervalMessageError(.wrongSchema, "expected schema \(schema), found \(envelope.schema)")
        }
        let recordJSON: [UInt8]
        do {
            recordJSON = try MessageEncoding.encode(envelope.record)
        } catch {
            throw IntervalMessageError(.malformed, "record cannot be re-encoded: \(error)")
        }
        let message = IntervalMessage(hub: envelope.hub, sequence: envelope.sequence, previousHash: envelope.previousHash,
                                      hash: envelope.hash, kpiDefinitions: envelope.kpiDefinitions,
                                      agentVersion: envelope.agentVersion, recordID: envelope.recordID, recordJSON: recordJSON)
        let expected = chainHash(hub: envelope.hub, sequence: envelope.sequence, previousHash: envelope.previousHash, recordJSON: recordJSON)
        guard expected == envelope.hash else {
            throw IntervalMessageError(.hashMismatch, "hash \(envelope.hash) does not match the content (expected \(expected))")
        }
        guard envelope.record.hubID.rawValue == envelope.hub, envelope.record.id == envelope.recordID else {
            throw IntervalMessageError(.inconsistent, "record \(envelope.record.id) of hub \(envelope.record.hubID.rawValue) does not match the envelope (\(envelope.recordID), \(envelope.hub))")
        }
        return (message, envelope.record)
    }
}

public struct IntervalMessageError: HubError, Equatable {
    public enum Kind: String, Sendable { case malformed, wrongSchema = "wrong_schema", hashMismatch = "hash_mismatch", inconsistent }
    public let kind: Kind
    public let detail: String

    init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var code: String { "interval.\(kind.rawValue)" }
    public var description: String { "interval message rejected (\(kind.rawValue)): \(detail)" }
}
