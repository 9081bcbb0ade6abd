import HubSupport

/// A JSON Schema (draft 2020-12) validator for the subset the message schemas use, compiled once
/// from the schema documents and then run on every received message.
///
/// Keywords: `type`, `properties`, `required`, `additionalProperties`, `propertyNames`,
/// `minProperties`, `maxProperties`, `items`, `minItems`, `maxItems`, `enum`, `const`
/// (scalars), `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`,
/// `maxLength`, `pattern` (``SchemaPattern``), `format: date-time`, `$ref` (JSON pointers into
/// the same document or another document of the set, resolved against `$id`), `allOf`, `anyOf`,
/// `oneOf`, `not`, `if`/`then`/`else`, and boolean schemas. Annotations (`title`, `description`,
/// `$comment`, `default`, `examples`) are skipped. Any other keyword is refused when the schema
/// is compiled: an unknown keyword is never silently ignored.
///
/// `format: date-time` is asserted (RFC 3339 with a `Z` or numeric offset); note that Python's
/// jsonschema only asserts formats when given a format checker. The v1 schemas use `pattern` for
/// timestamps instead, so both validators agree on them.
public struct JSONSchemaSet: Sendable {
    let schemas: [Keywords]
    let roots: [String: Int]

    /// Compiles every document (`name` is the file name, e.g. `interval.schema.json`); references
    /// between them resolve through their `$id`s, or their file names when a document has no `$id`.
    public init(documents: [(name: String, bytes: [UInt8])]) throws(SchemaLoadError) {
        var compiler = SchemaCompiler()
        for (name, bytes) in documents {
            let tape: JSONTape
            do { tape = try JSONTape(parsing: bytes) } catch {
                throw SchemaLoadError(document: name, location: "", problem: error.description)
            }
            compiler.add(name: name, tape: tape)
        }
        var roots: [String: Int] = [:]
        for index in compiler.documents.indices {
            roots[compiler.documents[index].name] = try compiler.compile(document: index, node: 0, pointer: "")
        }
        var keywords = compiler.compiled.map { $0! }
        for index in keywords.indices {
            keywords[index].present = keywords[index].groups
            if !keywords[index].oneOf.isEmpty {
                keywords[index].oneOfKeys = Keywords.discriminatingKeys(of: keywords[index].oneOf, in: keywords)
            }
        }
        self.schemas = keywords
        self.roots = roots
    }

    public var documentNames: [String] { roots.keys.sorted() }

    /// The validator for one document of the set, by file name.
    public func validator(_ name: String) -> JSONSchemaValidator? {
        roots[name].map { JSONSchemaValidator(schemas: schemas, root: $0) }
    }
}

/// A schema document cannot be used; says which document, where in it, and why.
public struct SchemaLoadError: HubError, Equatable {
    public let document: String
    /// JSON pointer inside the document.
    public let location: String
    public let problem: String

    public init(document: String, location: String, problem: String) {
        self.document = document
        self.location = location
        self.problem = problem
    }

    public var code: String { "schema.unusable" }
    public var description: String { "\(document)#\(location): \(problem)" }
}

/// One way in which a message does not match its schema: where (a JSON pointer into the
/// message, `/` for the whole message) and what was expected.
public struct SchemaViolation: Sendable, Equatable, CustomStringConvertible {
    public let pointer: String
    public let message: String
    public var description: String { "\(pointer.isEmpty ? "/" : pointer): \(message)" }
}

/// The outcome of checking one payload.
public enum SchemaValidation: Sendable {
    case valid(JSONTape)
    case notJSON(JSONSyntaxError)
    /// At most ``JSONSchemaValidator/maximumViolations``, in document order.
    case invalid([SchemaViolation])
}

public struct JSONSchemaValidator: Sendable {
    let schemas: [Keywords]
    let root: Int
    public static let maximumViolations = 10

    /// Parses and checks a payload. A valid one costs one pass without building messages; only
    /// an invalid one is checked again to say where and why.
    public func validate(_ payload: [UInt8]) -> SchemaValidation {
        let tape: JSONTape
        do { tape = try JSONTape(parsing: payload) } catch { return .notJSON(error) }
        return validate(tape)
    }

    public func validate(_ tape: JSONTape) -> SchemaValidation {
        // The evaluation reads nodes, bytes and schemas through pointers: no reference counting per access.
        tape.nodes.withUnsafeBufferPointer { nodes in
            tape.bytes.withUnsafeBufferPointer { bytes in
                schemas.withUnsafeBufferPointer { schemas in
                    var fast = Evaluation(tape: tape, nodes: nodes, bytes: bytes, schemas: schemas, collecting: false)
                    if fast.check(root, 0) { return .valid(tape) }
                    var detailed = Evaluation(tape: tape, nodes: nodes, bytes: bytes, schemas: schemas, collecting: true)
                    _ = detailed.check(root, 0)
                    return .invalid(detailed.violations.map(\.violation))
                }
            }
        }
    }
}

// MARK: - Compiled form

struct Literal: Sendable, Equatable {
    enum Value: Sendable, Equatable {
        case null
        case bool(Bool)
        case number(Double)
        case string([UInt8])
    }
    let value: Value
    /// As written in the schema, for messages.
    let text: String
}

struct Keywords: Sendable {
    struct Property: Sendable {
        let name: [UInt8]
        let schema: Int
    }

    var alwaysFalse = false
    var types: UInt8 = 0
    var properties: [Property] = []
    var required: [[UInt8]] = []
    /// For each required name, its index in `properties` (or −1), so presence comes from the member pass.
    var requiredIndex: [Int] = []
    var additionalProperties: Int?
    var propertyNames: Int?
    var minProperties: Int?
    var maxProperties: Int?
    var items: Int?
    var minItems: Int?
    var maxItems: Int?
    var enumValues: [Literal]?
    var constValue: Literal?
    var minimum: Double?
    var maximum: Double?
    var exclusiveMinimum: Double?
    var exclusiveMaximum: Double?
    var minLength: Int?
    var maxLength: Int?
    var pattern: SchemaPattern?
    var dateTime = false
    var ref: Int?
    var allOf: [Int] = []
    var anyOf: [Int] = []
    var oneOf: [Int] = []
    /// When every `oneOf` alternative is a closed object (`type: object`, `additionalProperties:
    /// false`) with a required property that no other alternative declares (an enum encoded as
    /// `{"case": {...}}`), that property, per alternative. An object can then match only the
    /// alternative whose key it has, so only that one is evaluated, not all of them.
    var oneOfKeys: [[UInt8]]?
    var not: Int?
    var ifSchema: Int?
    var thenSchema: Int?
    var elseSchema: Int?
    /// Which groups of keywords the schema has (``groups``, set once compiled), so that a check
    /// skips the groups it has not.
    var present: Groups = []
}

extension Keywords {
    struct Groups: OptionSet, Sendable {
        let rawValue: UInt8
        static let literals = Groups(rawValue: 1)
        static let number = Groups(rawValue: 2)
        static let string = Groups(rawValue: 4)
        static let object = Groups(rawValue: 8)
        static let array = Groups(rawValue: 16)
        static let composition = Groups(rawValue: 32)
    }

    var groups: Groups {
        var groups: Groups = []
        if constValue != nil || enumValues != nil { groups.insert(.literals) }
        if minimum != nil || maximum != nil || exclusiveMinimum != nil || exclusiveMaximum != nil { groups.insert(.number) }
        if minLength != nil || maxLength != nil || pattern != nil || dateTime { groups.insert(.string) }
        if !properties.isEmpty || !required.isEmpty || additionalProperties != nil || propertyNames != nil
            || minProperties != nil || maxProperties != nil { groups.insert(.object) }
        if items != nil || minItems != nil || maxItems != nil { groups.insert(.array) }
        if !allOf.isEmpty || !anyOf.isEmpty || !oneOf.isEmpty || not != nil || ifSchema != nil { groups.insert(.composition) }
        return groups
    }

    /// ``oneOfKeys`` for these alternatives, or nil when one of them is not such a closed object.
    static func discriminatingKeys(of alternatives: [Int], in all: [Keywords]) -> [[UInt8]]? {
        var keys: [[UInt8]] = []
        for alternative in alternatives {
            let schema = all[alternative]
            // A value that is not an object would pass `required` and `additionalProperties`.
            guard schema.types == TypeBits.object, let additional = schema.additionalProperties, all[additional].alwaysFalse else {
                return nil
            }
            let others = alternatives.filter { $0 != alternative }
            guard let key = schema.required.first(where: { name in
                others.allSatisfy { other in !all[other].properties.contains { $0.name == name } }
            }) else { return nil }
            keys.append(key)
        }
        return keys
    }
}


enum TypeBits {
    static let null: UInt8 = 1, boolean: UInt8 = 2, object: UInt8 = 4, array: UInt8 = 8, number: UInt8 = 16, integer: UInt8 = 32, string: UInt8 = 64
    static let names: [(String, UInt8)] = [("null", null), ("boolean", boolean), ("object", object), ("array", array),
                                           ("number", number), ("integer", integer), ("string", string)]

    static func describe(_ bits: UInt8) -> String {
        names.filter { bits & $0.1 != 0 }.map(\.0).joined(separator: " or ")
    }
}
