import Foundation
import HubAggregator
import HubContract
import HubDomain
import TestSupport
import Testing

/// The aggregator's JSON Schema validator against the v1 schema files: real agent messages pass,
/// broken ones are refused with the exact place and expectation, and Python's jsonschema (an
/// independent implementation) agrees on the same files.
@Suite("v1 message schemas")
struct SchemaValidationTests {
    static let schemas = Result { try AggregatorFixtures.schemas() }

    /// Valid messages as the agent produces them (records from the settlement ledger, chained).
    static func validIntervals() throws -> [[UInt8]] {
        try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 3)).map(\.payload) + (try outageIntervals())
    }

    /// Records around a 25-minute PV outage: missing and estimated figures, gap corrections.
    static func outageIntervals() throws -> [[UInt8]] {
        let start = AggregatorFixtures.start
        let outage = start.adding(milliseconds: 20 * 60_000)..<start.adding(milliseconds: 45 * 60_000)
        return try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 5, pvOutage: outage)).map(\.payload)
    }

    static func validStatus() throws -> [UInt8] {
        try MessageEncoding.encode(StatusMessage(hub: "park-a", state: "online", version: "0.1.0",
                                                 configurationHash: String(repeating: "ab", count: 32), startedAt: "2026-03-01T00:00:00.000Z"))
    }

    /// Sets (or, with nil, removes) the value at `path` (keys and array indices) of a JSON value.
    static func setting(_ path: ArraySlice<Any>, to value: Any?, in json: Any) -> Any {
        guard let step = path.first else { return value as Any }
        if let key = step as? String, var object = json as? [String: Any] {
            if path.count == 1 {
                object[key] = value
            } else {
                object[key] = setting(path.dropFirst(), to: value, in: object[key] as Any)
            }
            return object
        }
        if let index = step as? Int, var array = json as? [Any] {
            array[index] = setting(path.dropFirst(), to: value, in: array[index])
            return array
        }
        return json
    }

    static func mutate(_ payload: [UInt8], _ path: [Any], _ value: Any?) throws -> [UInt8] {
        let json = try JSONSerialization.jsonObject(with: Data(payload))
        return Array(try JSONSerialization.data(withJSONObject: setting(path[...], to: value, in: json), options: [.sortedKeys]))
    }

    struct BrokenCase: CustomStringConvertible, Sendable {
        let name: String
        let schema: String
        let path: [String]
        let value: String?
        let expected: String
        var description: String { name }
    }

    /// `value` is JSON text (nil removes the member); `path` uses "#N" for array index N.
    static let broken: [BrokenCase] = [
        .init(name: "sequence-zero", schema: "interval", path: ["sequence"], value: "0", expected: "/sequence: expected number ≥ 1, got 0"),
        .init(name: "sequence-text", schema: "interval", path: ["sequence"], value: "\"7\"", expected: "/sequence: expected integer, got string \"7\""),
        .init(name: "sequence-fraction", schema: "interval", path: ["sequence"], value: "1.5", expected: "/sequence: expected integer, got number 1.5"),
        .init(name: "hub-not-identifier", schema: "interval", path: ["hub"], value: "\"Park A\"",
              expected: "/hub: expected a string matching ^[a-z0-9][a-z0-9_-]{0,63}$, got \"Park A\""),
        .init(name: "hash-short", schema: "interval", path: ["hash"], value: "\"abc\"",
              expected: "/hash: expected a string matching ^[0-9a-f]{64}$, got \"abc\""),
        .init(name: "no-agent-version", schema: "interval", path: ["agentVersion"], value: nil, expected: "/: missing required property \"agentVersion\""),
        .init(name: "empty-agent-version", schema: "interval", path: ["agentVersion"], value: "\"\"",
              expected: "/agentVersion: expected a string of at least 1 character, got \"\""),
        .init(name: "extra-member", schema: "interval", path: ["signedBy"], value: "\"mallory\"",
              expected: "/signedBy: unexpected property (additionalProperties is false)"),
        .init(name: "other-version", schema: "interval", path: ["schema"], value: "\"hubmeter/v2/interval\"",
              expected: "/schema: expected \"hubmeter/v1/interval\", got \"hubmeter/v2/interval\""),
        .init(name: "record-id-off-quarter", schema: "interval", path: ["record", "id"], value: "\"park-a:2026-03-01T00:07:00.000Z\"",
              expected: "/record/id: expected a string matching ^[a-z0-9][a-z0-9_-]*:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:(00|15|30|45):00\\.000Z$, got \"park-a:2026-03-01T00:07:00.000Z\""),
        .init(name: "negative-tolerance", schema: "interval", path: ["record", "toleranceWh"], value: "-3",
              expected: "/record/toleranceWh: expected number ≥ 0, got -3"),
        .init(name: "negative-allocation", schema: "interval", path: ["record", "participants", "#1", "allocatedWh"], value: "-3",
              expected: "/record/participants/1/allocatedWh: expected number ≥ 0, got -3"),
        .init(name: "import-as-number", schema: "interval", path: ["record", "participants", "#0", "importWh"], value: "500",
              expected: "/record/participants/0/importWh: expected object, got number 500"),
        .init(name: "estimated-share-over-one", schema: "interval", path: ["record", "participants", "#0", "importWh", "quality"],
              value: "{\"estimated\":{\"share\":2}}",
              expected: "/record/participants/0/importWh/quality/estimated/share: expected number ≤ 1, got 2"),
        .init(name: "unknown-quality", schema: "interval", path: ["record", "quality"], value: "{\"guessed\":{}}",
              expected: "/record/quality: expected one of the 4 alternatives (oneOf) to match, got an object matching none"),
        .init(name: "unknown-hub-figure", schema: "interval", path: ["record", "hub", "bonusWh"], value: "1",
              expected: "/record/hub/bonusWh: property name \"bonusWh\" is not allowed: expected one of \"importWh\", \"exportWh\", \"participantPVWh\", \"consumptionWh\", \"collectivePVWh\", \"collectiveChargeWh\", \"collectiveDischargeWh\", \"netExchangeWh\", \"gridImportWh\", \"gridExportWh\", \"poolWh\", \"allocatedWh\", \"collectiveChargeFromPoolWh\", \"collectiveChargeFromGridWh\", \"exportedSurplusWh\", \"poolLocalFraction\", \"gridOriginToLoadWh\", got \"bonusWh\""),
        .init(name: "status-state", schema: "status", path: ["state"], value: "\"up\"",
              expected: "/state: expected one of \"online\", \"offline\", got \"up\""),
        .init(name: "status-hash", schema: "status", path: ["configurationHash"], value: "\"abc\"",
              expected: "/configurationHash: expected one of the 2 alternatives (anyOf) to match, got \"abc\" matching none"),
        .init(name: "status-started-without-ms", schema: "status", path: ["startedAt"], value: "\"2026-03-01T00:00:00Z\"",
              expected: "/startedAt: expected a string matching ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$, got \"2026-03-01T00:00:00Z\""),
    ]

    static func payload(_ broken: BrokenCase) throws -> [UInt8] {
        let base = broken.schema == "status" ? try validStatus() : try validIntervals()[0]
        let path: [Any] = broken.path.map { $0.hasPrefix("#") ? Int($0.dropFirst())! as Any : $0 as Any }
        let value = try broken.value.map { try JSONSerialization.jsonObject(with: Data($0.utf8), options: [.fragmentsAllowed]) }
        return try mutate(base, path, value)
    }

    static func validator(_ schema: String) throws -> JSONSchemaValidator {
        let schemas = try Self.schemas.get()
        return schema == "status" ? schemas.status : schemas.interval
    }

    @Test func outageRecordsCarryTheQualitiesTheSchemaDescribes() throws {
        let texts = try Self.outageIntervals().map { String(decoding: $0, as: UTF8.self) }
        #expect(texts.contains { $0.contains("\"missing\":{}") || $0.contains("\"estimated\":{") }, "\(texts)")
        #expect(texts.contains { !$0.contains("\"gapCorrections\":[]") } || texts.contains { $0.contains("\"isComplete\":false") })
    }

    @Test func agentMessagesAreValid() throws {
        for payload in try Self.validIntervals() {
            guard case .valid = try Self.validator("interval").validate(payload) else {
                Issue.record("rejected: \(String(decoding: payload, as: UTF8.self))")
                return
            }
        }
        guard case .valid = try Self.validator("status").validate(try Self.validStatus()) else {
            Issue.record("status rejected")
            return
        }
    }

    @Test(arguments: broken)
    func brokenMessageIsRefusedWithItsPlace(_ broken: BrokenCase) throws {
        let result = try Self.validator(broken.schema).validate(try Self.payload(broken))
        guard case .invalid(let violations) = result else {
            Issue.record("accepted: \(broken.name)")
            return
        }
        #expect(violations.first?.description == broken.expected)
    }

    /// In the ingest: a schema violation is rejected with its place, another version as wrong_schema,
    /// and a valid message still goes on to typed decoding and the hash check.
    @Test func ingestRejectsBeforeDecoding() throws {
        let ingest = IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 64 << 10, schemas: try Self.schemas.get())
        let now = AggregatorFixtures.start
        func outcome(_ name: String) throws -> Rejection? {
            let broken = try #require(Self.broken.first { $0.name == name })
            if case .rejected(let rejection) = ingest.classify(topic: AggregatorFixtures.topic(), payload: try Self.payload(broken), receivedAt: now) {
                return rejection
            }
            return nil
        }
        let negative = try #require(try outcome("negative-allocation"))
        #expect(negative.reason == .schemaViolation && negative.detail == "/record/participants/1/allocatedWh: expected number ≥ 0, got -3")
        #expect(try outcome("other-version")?.reason == .wrongSchema)
        let valid = try Self.validIntervals()[0]
        guard case .interval = ingest.classify(topic: AggregatorFixtures.topic(), payload: valid, receivedAt: now) else {
            Issue.record("a valid record was not accepted")
            return
        }
        // Valid against the schema, but the hash no longer matches: the later checks still run.
        let tampered = try Self.mutate(valid, ["sequence"], 2)
        if case .rejected(let rejection) = ingest.classify(topic: AggregatorFixtures.topic(), payload: tampered, receivedAt: now) {
            #expect(rejection.reason == .hashMismatch)
        } else {
            Issue.record("a tampered record was accepted")
        }
    }

    @Test func notJSONSaysWhere() throws {
        guard case .notJSON(let error) = try Self.validator("interval").validate(Array("{\"schema\":".utf8)) else {
            Issue.record("accepted")
            return
        }
        #expect(error.description == "not JSON at byte 10: unexpected end of the document")
        guard case .notJSON(let trailing) = try Self.validator("interval").validate(Array("{} x".utf8)) else {
            Issue.record("accepted")
            return
        }
        #expect(trailing.description == "not JSON at byte 3: unexpected data after the JSON value")
    }

    /// Python's jsonschema (Tests/Peers/validate_messages.py) on the same files: same verdict per
    /// file, and each of our violations lies at or under a place Python names.
    @Test func pythonJSONSchemaAgrees() throws {
        for schema in ["interval", "status"] {
            let cases = Self.broken.filter { $0.schema == schema }
            let valid = schema == "status" ? [try Self.validStatus()] : try Self.validIntervals()
            let payloads = valid + (try cases.map(Self.payload))
            let directory = try RepositoryPaths.makeTemporaryDirectory("schema-agreement")
            var files: [String] = []
            for (index, payload) in payloads.enumerated() {
                let file = directory + "/\(index).json"
                try Data(payload).write(to: URL(fileURLWithPath: file))
                files.append(file)
            }
            let result = try runCommand(RepositoryPaths.systemPython, [RepositoryPaths.path("Tests/Peers/validate_messages.py"),
                                                                       RepositoryPaths.path("Config/schemas/v1"), schema] + files)
            #expect(result.stdout.contains("\(payloads.count) validated"), "\(result.stdout)\(result.stderr)")
            for (index, file) in files.enumerated() {
                let pythonPaths = result.stdout.split(separator: "\n").filter { $0.hasPrefix(file + ": error at ") }
                    .map { line -> String in
                        let rest = line.dropFirst((file + ": error at ").count)
                        return String(rest[..<(rest.range(of: ": ")?.lowerBound ?? rest.endIndex)])
                    }
                let ours: [SchemaViolation]
                switch try Self.validator(schema).validate(payloads[index]) {
                case .valid: ours = []
                case .invalid(let violations): ours = violations
                case .notJSON(let error): Issue.record("\(error)"); continue
                }
                #expect(ours.isEmpty == pythonPaths.isEmpty, "file \(index): ours \(ours), python \(pythonPaths)")
                for violation in ours {
                    #expect(pythonPaths.contains { $0 == "/" || violation.pointer == $0 || violation.pointer.hasPrefix($0 + "/") },
                            "file \(index): \(violation) not under any of \(pythonPaths)")
                }
            }
        }
    }

    /// A `oneOf` of closed objects keyed by a property of their own (how the figures' quality is
    /// encoded) is evaluated by its key alone. The same alternatives, each wrapped in `allOf` so
    /// that the shortcut does not apply, judge every instance alike.
    @Test func aKeyedOneOfJudgesLikeEveryAlternativeTried() throws {
        let alternatives = [
            #"{"type":"object","required":["measured"],"additionalProperties":false,"properties":{"measured":{"type":"object","maxProperties":0}}}"#,
            #"{"type":"object","required":["estimated"],"additionalProperties":false,"properties":{"estimated":{"type":"object","required":["share"]}}}"#,
            #"{"type":"object","required":["stale","ageMs"],"additionalProperties":false,"properties":{"stale":{},"ageMs":{"type":"integer"}}}"#,
        ]
        let keyed = Array(#"{"oneOf":[\#(alternatives.joined(separator: ","))]}"#.utf8)
        let wrapped = Array(#"{"oneOf":[\#(alternatives.map { #"{"allOf":[\#($0)]}"# }.joined(separator: ","))]}"#.utf8)
        let fast = try #require(try JSONSchemaSet(documents: [("k.json", keyed)]).validator("k.json"))
        let generic = try #require(try JSONSchemaSet(documents: [("w.json", wrapped)]).validator("w.json"))
        let instances: [(String, Bool)] = [
            (#"{"measured":{}}"#, true), (#"{"estimated":{"share":0.5}}"#, true), (#"{"stale":1,"ageMs":3}"#, true),
            (#"{"ageMs":3,"stale":1}"#, true), (#"{"measured":{"x":1}}"#, false), (#"{"estimated":{}}"#, false),
            (#"{"measured":{},"estimated":{"share":1}}"#, false), (#"{"estimated":{"share":1},"measured":{}}"#, false),
            (#"{"ageMs":3}"#, false), (#"{"stale":1}"#, false), (#"{}"#, false), (#"{"other":{}}"#, false),
            (#"{"measured":{},"other":1}"#, false), (#"[]"#, false), (#""measured""#, false), (#"null"#, false),
        ]
        for (text, expected) in instances {
            func verdict(_ validator: JSONSchemaValidator) -> Bool? {
                switch validator.validate(Array(text.utf8)) {
                case .valid: true
                case .invalid: false
                case .notJSON: nil
                }
            }
            #expect(verdict(fast) == expected, "\(text)")
            #expect(verdict(generic) == expected, "\(text)")
        }
        // Alternatives that share their keys are all tried: an instance matching two is refused.
        let overlapping = Array(#"{"oneOf":[{"type":"object","required":["a"]},{"type":"object","required":["a"],"properties":{"a":{"type":"number"}}}]}"#.utf8)
        let both = try #require(try JSONSchemaSet(documents: [("o.json", overlapping)]).validator("o.json"))
        guard case .invalid(let violations) = both.validate(Array(#"{"a":1}"#.utf8)) else {
            Issue.record("an instance matching two alternatives of oneOf was accepted")
            return
        }
        #expect(violations.map(\.message) == ["expected exactly one of the 2 alternatives (oneOf) to match, 2 do"])
    }

    /// RFC 6901 in both directions: a reference with `~1`, and a violation under a key with `/` and `~`.
    @Test func pointersEscapeSlashAndTilde() throws {
        let document = Array(##"{"$defs":{"a/b":{"type":"number"}},"properties":{"x/y~z":{"$ref":"#/$defs/a~1b"}}}"##.utf8)
        let validator = try #require(try JSONSchemaSet(documents: [("p.json", document)]).validator("p.json"))
        guard case .invalid(let violations) = validator.validate(Array(#"{"x/y~z":"text"}"#.utf8)) else {
            Issue.record("accepted")
            return
        }
        #expect(violations.map(\.description) == [#"/x~1y~0z: expected number, got string "text""#])
    }

    @Test func unsupportedKeywordsAreRefusedWhenLoading() {
        let document = Array(#"{"$id":"x.json","type":"object","properties":{"a":{"uniqueItems":true}}}"#.utf8)
        #expect(throws: SchemaLoadError(document: "x.json", location: "/properties/a/uniqueItems",
                                        problem: "the keyword 'uniqueItems' is not supported by this validator")) {
            try JSONSchemaSet(documents: [("x.json", document)])
        }
        let lookbehind = Array(#"{"pattern":"(?<=a)b"}"#.utf8)
        #expect(throws: SchemaLoadError.self) { try JSONSchemaSet(documents: [("y.json", lookbehind)]) }
    }

    @Test(arguments: [
        ("^[a-z0-9][a-z0-9_-]{0,63}$", "park-a", true), ("^[a-z0-9][a-z0-9_-]{0,63}$", "-park", false),
        ("^[a-z0-9][a-z0-9_-]{0,63}$", String(repeating: "a", count: 65), false),
        ("T[0-9]{2}:(00|15|30|45):00", "2026-03-01T10:45:00.000Z", true), ("T[0-9]{2}:(00|15|30|45):00", "2026-03-01T10:44:00", false),
        ("^[a-z-]+/[0-9]+$", "pro-rata/1", true), ("^[a-z-]+/[0-9]+$", "pro-rata/", false), ("b+c?$", "abbb", true),
        ("^[^x]{2}$", "äö", true), ("^.$", "€", true), ("^a{2,}$", "a", false), ("^(ab)*$", "ababab", true), ("^(ab)*$", "aba", false),
    ])
    func patternsMatchLikeECMAScript(pattern: String, text: String, expected: Bool) throws {
        #expect(try SchemaPattern(pattern).matches(ArraySlice(Array(text.utf8))) == expected)
    }

    /// Cost per record of the validation the ingest adds, next to the typed decoding it already did.
    /// Printed for docs/performance.md; the bound only catches a pathological slowdown.
    @Test func validationCostPerRecord() throws {
        let payloads = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 50)).map(\.payload)
        let validator = try Self.validator("interval")
        let rounds = 20
        let clock = ContinuousClock()
        var valid = 0
        let validation = clock.measure {
            for _ in 0..<rounds {
                for payload in payloads { if case .valid = validator.validate(payload) { valid += 1 } }
            }
        }
        var decoded = 0
        let decoding = clock.measure {
            for _ in 0..<rounds {
                for payload in payloads { if (try? IntervalMessage.parse(payload)) != nil { decoded += 1 } }
            }
        }
        #expect(valid == payloads.count * rounds && decoded == payloads.count * rounds)
        let count = Double(payloads.count * rounds)
        func microseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
        }
        let perRecord = microseconds(validation) / count
        print("schema validation: \(String(format: "%.1f", perRecord)) µs per record (\(payloads[0].count) bytes); typed decoding and hash: \(String(format: "%.1f", microseconds(decoding) / count)) µs per record")
        #expect(perRecord < 2_000)
    }
}
