import Foundation
import HubAggregator
import HubContract
import HubDomain
import HubSupport
import Testing

/// The ingest's parsing path (one `JSONTape`, schema check, decoding from the tape, hash over the
/// record member's bytes) against the path it replaced (Foundation's `JSONDecoder`, canonical
/// re-encode): same results on real agent messages, same or stricter verdicts on broken ones.
@Suite("Interval message parsing")
struct IntervalParsingTests {
    /// Agent-made messages: the small fixture park, PV outages, and bigger parks under every allocation key.
    static func corpus() throws -> [IntervalMessage] {
        let start = AggregatorFixtures.start
        let outage = start.adding(milliseconds: 20 * 60_000)..<start.adding(milliseconds: 45 * 60_000)
        let shares = AllocationKey.staticShares(shares: ["company-0": 0.4, "company-1": 0.25, "company-2": 0.2, "company-3": 0.1],
                                                remainder: .redistributed)
        let order = AllocationKey.priority(order: (0..<5).reversed().map { ParticipantID("company-\($0)") })
        let recordSets: [[IntervalRecord]] = [
            try AggregatorFixtures.records(count: 3),
            try AggregatorFixtures.records(count: 5, pvOutage: outage),
            try AggregatorFixtures.parkRecords(participants: 5, records: 4),
            try AggregatorFixtures.parkRecords(participants: 5, records: 4, key: shares, pvOutage: outage),
            try AggregatorFixtures.parkRecords(participants: 5, records: 2, key: order),
            try AggregatorFixtures.parkRecords(participants: 5, records: 2, key: .equalShares, pvOutage: outage),
            try AggregatorFixtures.parkRecords(participants: 20, records: 3, key: shares, pvOutage: outage),
        ]
        return try recordSets.flatMap { try AggregatorFixtures.messages($0) }
    }

    /// The old path, kept here as the reference: `JSONDecoder` on the whole payload.
    struct FoundationEnvelope: Decodable {
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

    @Test func tapeDecodingEqualsJSONDecoderOnAgentMessages() throws {
        let messages = try Self.corpus()
        #expect(messages.count == 23)
        // The corpus covers what the decoder has to get right: optionals absent, qualities with
        // payloads, flags, gap corrections, allocation keys with dictionaries and arrays.
        let texts = messages.map { String(decoding: $0.payload, as: UTF8.self) }
        for fragment in ["\"estimated\":{\"share\":", "\"missing\":{}", "\"staticShares\":{", "\"priority\":{", "\"equalShares\":{}",
                         "\"gapCorrections\":[{", "\"battery\":{", "\"sharedBatteryContent\":{", "\"flows\":{", "\"end\":{"] {
            #expect(texts.contains { $0.contains(fragment) }, "no message has \(fragment)")
        }
        for message in messages {
            let reference = try MessageEncoding.decoder().decode(FoundationEnvelope.self, from: Data(message.payload))
            let (parsed, record) = try IntervalMessage.parse(message.payload)
            #expect(parsed == message)
            #expect(record == reference.record)
            #expect(parsed.hub == reference.hub && parsed.sequence == reference.sequence && parsed.hash == reference.hash
                    && parsed.previousHash == reference.previousHash && parsed.recordID == reference.recordID
                    && parsed.kpiDefinitions == reference.kpiDefinitions && parsed.agentVersion == reference.agentVersion)
            // Bit for bit, including the sign of zeros that == does not see: both encode to the published bytes.
            #expect(try MessageEncoding.encode(record) == parsed.recordJSON)
            #expect(try MessageEncoding.encode(reference.record) == parsed.recordJSON)
        }
    }

    /// The generic decoder on other shapes the agent writes: a hub model and a ledger snapshot
    /// (dictionaries keyed by identifiers, nested enums, optionals).
    @Test func tapeDecodingEqualsJSONDecoderOnOtherTypes() throws {
        let model = AggregatorFixtures.model
        let bytes = try MessageEncoding.encode(model)
        let tape = try JSONTape(parsing: bytes)
        #expect(try JSONTapeDecoder().decode(HubModel.self, from: tape) == MessageEncoding.decoder().decode(HubModel.self, from: Data(bytes)))

        let shares = AllocationKey.staticShares(shares: ["a": 0.5, "b/c~d": 0.25, "ü": 0.25], remainder: .exported)
        let keyBytes = try MessageEncoding.encode([shares, .priority(order: ["b", "a"]), .equalShares])
        #expect(try JSONTapeDecoder().decode([AllocationKey].self, from: JSONTape(parsing: keyBytes))
                == MessageEncoding.decoder().decode([AllocationKey].self, from: Data(keyBytes)))

        // Figures and qualities take a hand-written path: every case, absent and null values, an unknown extra name.
        let figures = Array(#"[{"quality":{"measured":{}},"value":1.5},{"quality":{"estimated":{"share":0.25}},"value":-0},{"quality":{"stale":{"ageMs":120000}}},{"quality":{"missing":{}},"value":null},{"quality":{"measured":{},"note":1},"value":2}]"#.utf8)
        #expect(try JSONTapeDecoder().decode([Figure].self, from: JSONTape(parsing: figures))
                == MessageEncoding.decoder().decode([Figure].self, from: Data(figures)))
        for (broken, message) in [(#"[{"quality":{"estimated":{}}}]"#, #"/0/quality/estimated: missing member "share""#),
                                  (#"[{"value":1}]"#, #"/0: missing member "quality""#),
                                  (#"[{"quality":{"stale":{"ageMs":1.5}}}]"#, "/0/quality/stale/ageMs: number 1.5 is not a whole number in the range of Int64"),
                                  (#"[{"quality":{"measured":[]}}]"#, "/0/quality/measured: expected an object, found an array"),
                                  (#"[{"quality":{}}]"#, "/0/quality: Invalid number of keys found, expected one.")] {
            #expect(throws: (any Error).self) { try MessageEncoding.decoder().decode([Figure].self, from: Data(broken.utf8)) }
            #expect(throws: JSONDecodingError(pointer: String(message.prefix { $0 != ":" }), message: String(message.drop { $0 != ":" }.dropFirst(2)))) {
                try JSONTapeDecoder().decode([Figure].self, from: JSONTape(parsing: Array(broken.utf8)))
            }
        }

        // Timestamps as ISO 8601 (the wire) or epoch milliseconds (older snapshots); integers beyond 2^53 exactly.
        let times = Array(#"["2026-03-01T00:15:00.000Z",1772324100000,"2026-03-01T00:15:00Z"]"#.utf8)
        let decoded = try JSONTapeDecoder().decode([UTCMilliseconds].self, from: JSONTape(parsing: times))
        #expect(decoded == [UTCMilliseconds(1_772_324_100_000), UTCMilliseconds(1_772_324_100_000), UTCMilliseconds(1_772_324_100_000)])
        let large = Array("[9007199254740993,-9223372036854775808,1e3]".utf8)
        #expect(try JSONTapeDecoder().decode([Int64].self, from: JSONTape(parsing: large)) == [9_007_199_254_740_993, Int64.min, 1000])
        let escaped = Array(#"["a\"b\\c\/d\n\u00fc\ud83d\ude00"]"#.utf8)
        #expect(try JSONTapeDecoder().decode([String].self, from: JSONTape(parsing: escaped))
                == MessageEncoding.decoder().decode([String].self, from: Data(escaped)))
    }

    /// The tape scans strings eight bytes at a time: a quote, backslash, escape, control character
    /// or non-ASCII byte at any position of a word is found as a byte-wise scan (Foundation's) finds it.
    @Test func tapeStringScanFindsEverySpecialByteAtEveryPosition() throws {
        let specials: [[UInt8]] = [[0x22], Array(#"\""#.utf8), Array(#"\\"#.utf8), Array(#"\n"#.utf8), Array(#"\u00fc"#.utf8),
                                   [0xC3, 0xBC], [0x01], [0x1F], [0x20], [0x7F], [0x5C]]
        var compared = 0
        for length in 1..<26 {
            for position in 0..<length {
                for special in specials {
                    var text = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    text.replaceSubrange(position..<position + 1, with: special)
                    let json = Array(#"[""#.utf8) + text + Array(#""]"#.utf8)
                    let foundation = try? MessageEncoding.decoder().decode([String].self, from: Data(json))
                    let tape = try? JSONTapeDecoder().decode([String].self, from: JSONTape(parsing: json))
                    #expect(tape == foundation, "\(String(decoding: json, as: UTF8.self).debugDescription)")
                    compared += foundation == nil ? 0 : 1
                }
            }
        }
        #expect(compared > 1000) // most are valid strings; the rest must be refused by both
    }

    /// Numbers beyond the tape's exact fast path (17 significant digits, large and tiny exponents)
    /// parse to the same bits as Swift's own `Double(String)`.
    @Test func tapeNumbersAreCorrectlyRounded() throws {
        var generator: UInt64 = 0x9E37_79B9_7F4A_7C15
        var texts: [String] = ["249.99999999996362", "0.1", "-0", "1e-320", "1.7976931348623157e308", "2.2250738585072014e-308",
                               "9007199254740993", "123456789012345678901234567890", "4.9e-324", "1E+2", "-3.0e-5"]
        for _ in 0..<5000 {
            generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let value = Double(bitPattern: generator >> 1)
            if value.isFinite { texts.append("\(value)") }
            texts.append("\(Double(generator >> 11) / 1024)")
        }
        let document = Array(("[" + texts.joined(separator: ",") + "]").utf8)
        let tape = try JSONTape(parsing: document)
        var index = 1
        for text in texts {
            let expected = try #require(Double(text))
            #expect(tape.nodes[index].number.bitPattern == expected.bitPattern, "\(text)")
            index += 1
        }
    }

    /// The hash covers the record member's bytes exactly as published: agent messages verify;
    /// the same record content written with other whitespace or key order does not.
    @Test func hashCoversTheRecordBytesAsPublished() throws {
        let message = try #require(try Self.corpus().first { $0.recordJSON.count > 2000 })
        let canonical = String(decoding: message.recordJSON, as: UTF8.self)
        let payload = String(decoding: message.payload, as: UTF8.self)
        #expect(try IntervalMessage.parse(message.payload).0.hash == message.hash)

        let spaced = canonical.replacingOccurrences(of: ",\"", with: ", \"")
        let encoder = JSONEncoder() // declaration order, not sorted
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let reordered = String(decoding: try encoder.encode(try IntervalMessage.parse(message.payload).1), as: UTF8.self)
        #expect(reordered != canonical)
        let schemas = try AggregatorFixtures.schemas()
        let ingest = IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 64 << 10, schemas: schemas)
        for variant in [spaced, reordered] {
            let bytes = Array(payload.replacingOccurrences(of: canonical, with: variant).utf8)
            // Same content: it decodes to the same record, and is valid against the schema.
            let reference = try MessageEncoding.decoder().decode(FoundationEnvelope.self, from: Data(bytes))
            #expect(try MessageEncoding.encode(reference.record) == message.recordJSON)
            let error = #expect(throws: IntervalMessageError.self) { try IntervalMessage.parse(bytes) }
            #expect(error?.kind == .hashMismatch)
            guard case .rejected(let rejection) = ingest.classify(topic: "hubmeter/v1/park-b/interval", payload: bytes, receivedAt: AggregatorFixtures.start) else {
                Issue.record("a record with other bytes than the hashed ones was accepted")
                continue
            }
            #expect(rejection.reason == .hashMismatch)

            // Hashed over these bytes instead, the same message verifies: the formula is over bytes, not content.
            let rehashed = IntervalMessage.chainHash(hub: message.hub, sequence: message.sequence, previousHash: message.previousHash,
                                                     recordJSON: Array(variant.utf8))
            let resigned = Array(payload.replacingOccurrences(of: canonical, with: variant).replacingOccurrences(of: message.hash, with: rehashed).utf8)
            let (parsed, record) = try IntervalMessage.parse(resigned)
            #expect(parsed.recordJSON == Array(variant.utf8))
            #expect(record == reference.record)
        }
    }

    struct BrokenCase: CustomStringConvertible, Sendable {
        let name: String
        let from: String
        let to: String
        let detail: String
        var description: String { name }
    }

    /// Text replacements on the first small fixture message, and the exact rejection detail.
    static let broken: [BrokenCase] = [
        .init(name: "figure-as-text", from: #""pvWh":{"quality":{"measured":{}},"value":0}"#,
              to: #""pvWh":{"quality":{"measured":{}},"value":"0"}"#,
              detail: #"/record/participants/0/pvWh/value: expected a number, found string "0""#),
        .init(name: "flow-missing", from: #""gridToLoadWh":500.00000000000864,"#, to: "",
              detail: #"/record/participants/0/flows: missing member "gridToLoadWh""#),
        .init(name: "participant-flag-missing", from: #""negativeConsumption":false,"participant":"alpha""#, to: #""participant":"alpha""#,
              detail: #"/record/participants/0: missing member "negativeConsumption""#),
        .init(name: "hub-figure-as-text", from: #""poolLocalFraction":1,"#, to: #""poolLocalFraction":"1","#,
              detail: #"/record/hub/poolLocalFraction: expected a number, found string "1""#),
        .init(name: "missing-hub-totals", from: #""hub":{"#, to: #""hubTotals":{"#, detail: #"/record: missing member "hub""#),
        .init(name: "missing-sequence", from: #","sequence":1}"#, to: "}", detail: #"/: missing member "sequence""#),
        .init(name: "fractional-sequence", from: #""sequence":1}"#, to: #""sequence":1.5}"#,
              detail: "/sequence: number 1.5 is not a whole number in the range of Int64"),
        .init(name: "sequence-null", from: #""sequence":1}"#, to: #""sequence":null}"#, detail: "/sequence: expected an integer, found null"),
        .init(name: "duplicate-hub", from: #""hub":"park-a","#, to: #""hub":"park-a","hub":"park-b","#,
              detail: #"/: member "hub" appears more than once"#),
        .init(name: "duplicate-in-record", from: #""isComplete":true,"#, to: #""isComplete":true,"isComplete":false,"#,
              detail: #"/record: member "isComplete" appears more than once"#),
        .init(name: "bad-timestamp", from: #""start":"2026-03-01T00:00:00.000Z""#, to: #""start":"2026-03-01""#,
              detail: "/record/interval/start: '2026-03-01' is not YYYY-MM-DDTHH:MM:SS[.mmm]Z"),
        .init(name: "two-qualities", from: #""quality":{"measured":{}},"schema":"hubmeter-interval/1""#,
              to: #""quality":{"measured":{},"missing":{}},"schema":"hubmeter-interval/1""#,
              detail: "/record/quality: Invalid number of keys found, expected one."),
        .init(name: "record-not-object", from: #""record":{"#, to: #""record":5,"x":{"#, detail: "/record: expected an object, found number 5"),
        .init(name: "lone-surrogate", from: #""agentVersion":"test""#, to: #""agentVersion":"t\ud800""#,
              detail: "/agentVersion: the string is not valid UTF-8 or has a lone surrogate escape"),
        .init(name: "not-json", from: #""sequence":1}"#, to: #""sequence":1"#, detail: "not JSON at byte 1: unexpected end of the document"),
    ]

    @Test(arguments: broken)
    func brokenPayloadIsRejectedWithItsPlace(_ broken: BrokenCase) throws {
        let message = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 1))[0]
        let payload = String(decoding: message.payload, as: UTF8.self)
        #expect(payload.contains(broken.from), "fixture changed: \(broken.from) not in \(payload)")
        let bytes = Array(payload.replacingOccurrences(of: broken.from, with: broken.to).utf8)
        // Foundation's decoder refuses it too (or, for duplicates, would silently keep one).
        if !broken.name.hasPrefix("duplicate") {
            #expect(throws: (any Error).self) { try MessageEncoding.decoder().decode(FoundationEnvelope.self, from: Data(bytes)) }
        }
        let error = #expect(throws: IntervalMessageError.self) { try IntervalMessage.parse(bytes) }
        #expect(error?.kind == .malformed)
        if broken.name == "not-json" {
            #expect(error?.detail.hasPrefix("not JSON at byte ") == true && error?.detail.hasSuffix("unexpected end of the document") == true)
        } else {
            #expect(error?.detail == broken.detail)
        }
    }

    @Test func invalidUTF8IsRefused() throws {
        let message = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 1))[0]
        let payload = String(decoding: message.payload, as: UTF8.self)
        var bytes = Array(payload.replacingOccurrences(of: #""agentVersion":"test""#, with: #""agentVersion":"teXt""#).utf8)
        let index = try #require(bytes.firstIndex(of: UInt8(ascii: "X")))
        bytes[index] = 0xFF
        let error = #expect(throws: IntervalMessageError.self) { try IntervalMessage.parse(bytes) }
        #expect(error?.detail == "/agentVersion: the string is not valid UTF-8")
    }
}
