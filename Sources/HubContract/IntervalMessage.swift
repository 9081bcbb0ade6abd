import Foundation
import HubDomain
import HubSupport

/// The interval message (`hubmeter/v1/{hub}/interval`): one settlement record, numbered per hub
/// and chained by hash so that gaps and tampering can be detected downstream.
///
/// The chain hash is `SHA-256("hubmeter-chain/1\n{hub}\n{sequence}\n{previousHash}\n" ‖ recordBytes)`,
/// hex, where `recordBytes` are the bytes of the payload's `record` member exactly as published:
/// from its opening `{` to its closing `}`, nothing added, removed or re-encoded. The agent writes
/// them as canonical JSON (``MessageEncoding``: keys sorted, no whitespace) and splices them into
/// the payload verbatim, so a verifier needs no JSON encoder, only the member's byte range; the
/// same content with other whitespace or key order is other bytes and fails the check.
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
    /// The `record` member's bytes as published (canonical JSON when the agent made them); the hash covers exactly these.
    public var recordJSON: [UInt8]

    public static func chainHash(hub: String, sequence: Int64, previousHash: String, recordJSON: [UInt8]) -> String {
        let header = Array("\(chainVersion)\n\(hub)\n\(sequence)\n\(previousHash)\n".utf8)
        return SHA256.hexString(SHA256.digest(header, followedBy: recordJSON))
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
        let tape: JSONTape
        do { tape = try JSONTape(parsing: payload) } catch {
            throw IntervalMessageError(.malformed, error.description)
        }
        return try parse(tape)
    }

    /// Checks a payload that is already parsed (the aggregator validated this tape against the
    /// schema): decodes envelope and record from the tape and hashes the record member's bytes
    /// in place, so the payload is read once and the record never re-encoded.
    public static func parse(_ tape: JSONTape) throws(IntervalMessageError) -> (IntervalMessage, IntervalRecord) {
        // The envelope without the record: the record is decoded from its own node below, and its
        // byte range found from the same node, so what is hashed is exactly what is decoded.
        struct Envelope: Decodable {
            var schema: String
            var hub: String
            var sequence: Int64
            var previousHash: String
            var hash: String
            var kpiDefinitions: String
            var agentVersion: String
            var recordID: String
        }
        let decoder = JSONTapeDecoder()
        let envelope: Envelope
        let record: IntervalRecord
        let recordNode: Int
        do {
            envelope = try decoder.decode(Envelope.self, from: tape)
            guard let node = tape.member("record") else {
                throw JSONDecodingError(pointer: "", message: "missing member \"record\"")
            }
            recordNode = node
            record = try decoder.decode(IntervalRecord.self, from: tape, at: recordNode)
        } catch {
            throw IntervalMessageError(.malformed, "\(error)")
        }
        guard envelope.schema == schema else {
            throw IntervalMessageError(.wrongSchema, "expected schema \(schema), found \(envelope.schema)")
        }
        let recordJSON = Array(tape.rawBytes(of: recordNode))
        let message = IntervalMessage(hub: envelope.hub, sequence: envelope.sequence, previousHash: envelope.previousHash,
                                      hash: envelope.hash, kpiDefinitions: envelope.kpiDefinitions,
                                      agentVersion: envelope.agentVersion, recordID: envelope.recordID, recordJSON: recordJSON)
        let expected = chainHash(hub: envelope.hub, sequence: envelope.sequence, previousHash: envelope.previousHash, recordJSON: recordJSON)
        guard expected == envelope.hash else {
            throw IntervalMessageError(.hashMismatch, "hash \(envelope.hash) does not match the content (expected \(expected) over the record member's bytes as published)")
        }
        guard record.hubID.rawValue == envelope.hub, record.id == envelope.recordID else {
            throw IntervalMessageError(.inconsistent, "record \(record.id) of hub \(record.hubID.rawValue) does not match the envelope (\(envelope.recordID), \(envelope.hub))")
        }
        return (message, record)
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
