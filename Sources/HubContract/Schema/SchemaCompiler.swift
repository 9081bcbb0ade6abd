/// Compiles schema documents (parsed as ``JSONTape``s) into ``Keywords``, resolving `$ref`s.
struct SchemaCompiler {
    struct Document {
        let name: String
        let id: String?
        let tape: JSONTape
    }

    var documents: [Document] = []
    var compiled: [Keywords?] = []
    var memo: [Int: [Int32: Int]] = [:]

    mutating func add(name: String, tape: JSONTape) {
        var id: String?
        if tape.nodes.first?.kind == .object, let node = Self.member(tape, 0, "$id"), tape.nodes[node].kind == .string {
            id = tape.string(at: node)
        }
        documents.append(Document(name: name, id: id, tape: tape))
    }

    static func member(_ tape: JSONTape, _ object: Int, _ name: String) -> Int? {
        let bytes = Array(name.utf8)
        var key = object + 1
        for _ in 0..<tape.nodes[object].count {
            if tape.stringEquals(key, bytes) { return key + 1 }
            key = Int(tape.nodes[key + 1].next)
        }
        return nil
    }

    func failure(_ document: Int, _ pointer: String, _ problem: String) -> SchemaLoadError {
        SchemaLoadError(document: documents[document].name, location: pointer, problem: problem)
    }

    mutating func compile(document: Int, node: Int, pointer: String) throws(SchemaLoadError) -> Int {
        if let known = memo[document]?[Int32(node)] { return known }
        let index = compiled.count
        compiled.append(nil)
        memo[document, default: [:]][Int32(node)] = index
        compiled[index] = try keywords(document: document, node: node, pointer: pointer)
        return index
    }

    mutating func keywords(document: Int, node: Int, pointer: String) throws(SchemaLoadError) -> Keywords {
        let tape = documents[document].tape
        var result = Keywords()
        switch tape.nodes[node].kind {
        case .true: return result
        case .false:
            result.alwaysFalse = true
            return result
        case .object: break
        default: throw failure(document, pointer, "a schema must be an object or a boolean")
        }
        func number(_ value: Int, _ keyword: String) throws(SchemaLoadError) -> Double {
            guard tape.nodes[value].kind == .number else { throw failure(document, pointer + "/" + keyword, "expected a number") }
            return tape.nodes[value].number
        }
        func count(_ value: Int, _ keyword: String) throws(SchemaLoadError) -> Int {
            let number = try number(value, keyword)
            guard number >= 0, number == number.rounded(), number < 1e9 else {
                throw failure(document, pointer + "/" + keyword, "expected a non-negative integer")
            }
            return Int(number)
        }
        func schemaList(_ value: Int, _ keyword: String) throws(SchemaLoadError) -> [Int] {
            guard tape.nodes[value].kind == .array, tape.nodes[value].count > 0 else {
                throw failure(document, pointer + "/" + keyword, "expected a non-empty array of schemas")
            }
            var list: [Int] = []
            var element = value + 1
            for position in 0..<Int(tape.nodes[value].count) {
                list.append(try compile(document: document, node: element, pointer: "\(pointer)/\(keyword)/\(position)"))
                element = Int(tape.nodes[element].next)
            }
            return list
        }
        func literal(_ value: Int, _ keyword: String) throws(SchemaLoadError) -> Literal {
            let text = String(decoding: tape.bytes[Int(tape.nodes[value].start)..<Int(tape.nodes[value].end)], as: UTF8.self)
            switch tape.nodes[value].kind {
            case .null: return Literal(value: .null, text: "null")
            case .true: return Literal(value: .bool(true), text: "true")
            case .false: return Literal(value: .bool(false), text: "false")
            case .number: return Literal(value: .number(tape.nodes[value].number), text: text)
            case .string: return Literal(value: .string(Array(tape.string(at: value).utf8)), text: "\"\(text)\"")
            case .array, .object: throw failure(document, pointer + "/" + keyword, "only scalar values are supported")
            }
        }

        var key = node + 1
        for _ in 0..<tape.nodes[node].count {
            let value = key + 1
            let keyword = tape.string(at: key)
            let here = pointer + "/" + keyword
            switch keyword {
            case "$schema", "$id", "title", "description", "$comment", "default", "examples", "$defs", "deprecated", "readOnly", "writeOnly":
                break
            case "type":
                var bits: UInt8 = 0
                var names: [Int] = []
                if tape.nodes[value].kind == .string { names = [value] } else if tape.nodes[value].kind == .array {
                    var element = value + 1
                    for _ in 0..<tape.nodes[value].count {
                        names.append(element)
                        element = Int(tape.nodes[element].next)
                    }
                }
                for name in names {
                    guard tape.nodes[name].kind == .string, let bit = TypeBits.names.first(where: { $0.0 == tape.string(at: name) })?.1 else {
                        throw failure(document, here, "unknown type")
                    }
                    bits |= bit
                }
                guard bits != 0 else { throw failure(document, here, "expected a type name or an array of them") }
                result.types = bits
            case "properties":
                guard tape.nodes[value].kind == .object else { throw failure(document, here, "expected an object") }
                var member = value + 1
                for _ in 0..<tape.nodes[value].count {
                    let name = tape.string(at: member)
                    result.properties.append(.init(name: Array(name.utf8),
                                                   schema: try compile(document: document, node: member + 1, pointer: here + "/" + name)))
                    member = Int(tape.nodes[member + 1].next)
                }
                // In byte order, the order agents write keys in: the validator looks for each
                // member's property from just after the previous match, so one comparison usually finds it.
                result.properties.sort { $0.name.lexicographicallyPrecedes($1.name) }
            case "required":
                guard tape.nodes[value].kind == .array else { throw failure(document, here, "expected an array of names") }
                var element = value + 1
                for _ in 0..<tape.nodes[value].count {
                    guard tape.nodes[element].kind == .string else { throw failure(document, here, "expected an array of names") }
                    result.required.append(Array(tape.string(at: element).utf8))
                    element = Int(tape.nodes[element].next)
                }
            case "additionalProperties": result.additionalProperties = try compile(document: document, node: value, pointer: here)
            case "propertyNames": result.propertyNames = try compile(document: document, node: value, pointer: here)
            case "minProperties": result.minProperties = try count(value, keyword)
            case "maxProperties": result.maxProperties = try count(value, keyword)
            case "items": result.items = try compile(document: document, node: value, pointer: here)
            case "minItems": result.minItems = try count(value, keyword)
            case "maxItems": result.maxItems = try count(value, keyword)
            case "enum":
                guard tape.nodes[value].kind == .array else { throw failure(document, here, "expected an array") }
                var values: [Literal] = []
                var element = value + 1
                for _ in 0..<tape.nodes[value].count {
                    values.append(try literal(element, keyword))
                    element = Int(tape.nodes[element].next)
                }
                result.enumValues = values
            case "const": result.constValue = try literal(value, keyword)
            case "minimum": result.minimum = try number(value, keyword)
            case "maximum": result.maximum = try number(value, keyword)
            case "exclusiveMinimum": result.exclusiveMinimum = try number(value, keyword)
            case "exclusiveMaximum": result.exclusiveMaximum = try number(value, keyword)
            case "minLength": result.minLength = try count(value, keyword)
            case "maxLength": result.maxLength = try count(value, keyword)
            case "pattern":
                guard tape.nodes[value].kind == .string else { throw failure(document, here, "expected a string") }
                do { result.pattern = try SchemaPattern(tape.string(at: value)) } catch { throw failure(document, here, error.description) }
            case "format":
                // Only date-time is asserted; other formats are annotations, as the draft's default.
                result.dateTime = tape.nodes[value].kind == .string && tape.string(at: value) == "date-time"
            case "$ref":
                guard tape.nodes[value].kind == .string else { throw failure(document, here, "expected a string") }
                result.ref = try resolve(tape.string(at: value), from: document, pointer: here)
            case "allOf": result.allOf = try schemaList(value, keyword)
            case "anyOf": result.anyOf = try schemaList(value, keyword)
            case "oneOf": result.oneOf = try schemaList(value, keyword)
            case "not": result.not = try compile(document: document, node: value, pointer: here)
            case "if": result.ifSchema = try compile(document: document, node: value, pointer: here)
            case "then": result.thenSchema = try compile(document: document, node: value, pointer: here)
            case "else": result.elseSchema = try compile(document: document, node: value, pointer: here)
            default:
                throw failure(document, here, "the keyword '\(keyword)' is not supported by this validator")
            }
            key = Int(tape.nodes[value].next)
        }
        result.requiredIndex = result.required.map { name in result.properties.firstIndex { $0.name == name } ?? -1 }
        return result
    }

    /// `#/$defs/x` (same document) or `other.schema.json#/$defs/x` (relative to this document's `$id`).
    mutating func resolve(_ reference: String, from document: Int, pointer: String) throws(SchemaLoadError) -> Int {
        let parts = reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let location = parts.count > 1 ? String(parts[1]) : ""
        var target = document
        if !parts[0].isEmpty {
            let file = String(parts[0])
            var absolute = file
            if !file.contains("://"), let base = documents[document].id, let slash = base.lastIndex(of: "/") {
                absolute = String(base[...slash]) + file
            }
            guard let found = documents.firstIndex(where: { $0.id == absolute || $0.id == file || $0.name == file }) else {
                throw failure(document, pointer, "the reference \(reference) names no loaded document")
            }
            target = found
        }
        let tape = documents[target].tape
        var node = 0
        if !location.isEmpty {
            guard location.hasPrefix("/") else { throw failure(document, pointer, "only JSON pointer fragments are supported (\(reference))") }
            for token in location.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
                let name = JSONPointerToken.unescape(token)
                if tape.nodes[node].kind == .object, let next = Self.member(tape, node, name) {
                    node = next
                } else if tape.nodes[node].kind == .array, let position = Int(name), position >= 0, position < tape.nodes[node].count {
                    var element = node + 1
                    for _ in 0..<position { element = Int(tape.nodes[element].next) }
                    node = element
                } else {
                    throw failure(document, pointer, "the reference \(reference) points at nothing")
                }
            }
        }
        return try compile(document: target, node: node, pointer: location)
    }
}

/// JSON Pointer (RFC 6901) reference tokens: `~` is written `~0` and `/` is written `~1`.
enum JSONPointerToken {
    static func escape(_ token: String) -> String {
        guard token.contains("~") || token.contains("/") else { return token }
        var out = ""
        for character in token {
            switch character {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.append(character)
            }
        }
        return out
    }

    static func unescape(_ token: Substring) -> String {
        guard token.contains("~") else { return String(token) }
        var out = ""
        var iterator = token.makeIterator()
        while let character = iterator.next() {
            guard character == "~" else {
                out.append(character)
                continue
            }
            switch iterator.next() {
            case "0": out += "~"
            case "1": out += "/"
            case let other?: out += "~" + String(other)
            case nil: out += "~"
            }
        }
        return out
    }
}
