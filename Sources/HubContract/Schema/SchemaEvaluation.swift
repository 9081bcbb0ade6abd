/// One run of a compiled schema over one parsed message; see ``JSONSchemaValidator``.
struct Evaluation {
    struct Found {
        let violation: SchemaViolation
        let depth: Int
        /// A required property is missing right here: for a union of keyed objects, the sign that
        /// the sender did not mean this alternative.
        var missingRequired = false
    }

    let tape: JSONTape
    /// `tape.nodes` and `tape.bytes`, valid while `JSONSchemaValidator.validate` runs the evaluation.
    let nodes: UnsafeBufferPointer<JSONTape.Node>
    let bytes: UnsafeBufferPointer<UInt8>
    /// The compiled schemas, valid while `JSONSchemaValidator.validate` runs the evaluation. A
    /// schema is passed on as a pointer into them: its fields are read in place, and nothing is
    /// retained per check (a class reference passed to the helpers was retained and released per node).
    let schemas: UnsafeBufferPointer<Keywords>
    var collecting: Bool
    /// Key nodes (≥ 0) and array positions (stored as −1 − index) from the root to the current value.
    var path: [Int] = []
    var violations: [Found] = []

    init(tape: JSONTape, nodes: UnsafeBufferPointer<JSONTape.Node>, bytes: UnsafeBufferPointer<UInt8>, schemas: UnsafeBufferPointer<Keywords>,
         collecting: Bool) {
        self.tape = tape
        self.nodes = nodes
        self.bytes = bytes
        self.schemas = schemas
        self.collecting = collecting
        path.reserveCapacity(16)
    }

    /// Whether a string node's text equals `expected`.
    @inline(__always)
    func stringEquals(_ index: Int, _ expected: [UInt8]) -> Bool {
        let node = nodes[index]
        guard !node.hasEscapes else { return tape.stringEquals(index, expected) }
        let start = Int(node.start)
        guard Int(node.end) - start == expected.count else { return false }
        return expected.withUnsafeBufferPointer { wanted in
            for offset in 0..<wanted.count where bytes[start + offset] != wanted[offset] { return false }
            return true
        }
    }

    var pointer: String {
        var text = ""
        for step in path {
            text += "/"
            if step >= 0 {
                text += JSONPointerToken.escape(tape.string(at: step))
            } else {
                text += String(-1 - step)
            }
        }
        return text
    }

    /// Records a violation at the current place; the message is only built when collecting.
    /// (`message` gets the evaluation as a parameter: capturing `self` would overlap the mutation.)
    mutating func fail(_ message: (Evaluation) -> String) {
        guard collecting, violations.count < JSONSchemaValidator.maximumViolations else { return }
        violations.append(Found(violation: SchemaViolation(pointer: pointer, message: message(self)), depth: path.count))
    }

    /// Evaluates without collecting (for oneOf, anyOf, not, if), restoring the mode afterwards.
    mutating func quietly(_ schema: Int, _ node: Int) -> Bool {
        let saved = collecting
        collecting = false
        defer { collecting = saved }
        return check(schema, node)
    }

    /// The violations of one sub-schema, collected separately.
    mutating func violationsOf(_ schema: Int, _ node: Int) -> [Found] {
        let saved = (collecting, violations)
        collecting = true
        violations = []
        _ = check(schema, node)
        let found = violations
        (collecting, violations) = saved
        return found
    }

    func describe(_ node: Int) -> String {
        let value = nodes[node]
        switch value.kind {
        case .null: return "null"
        case .true: return "true"
        case .false: return "false"
        case .number: return Self.format(value.number)
        case .string:
            let text = tape.string(at: node)
            return "\"" + (text.count > 60 ? String(text.prefix(57)) + "…" : text) + "\""
        case .array: return "an array of \(value.count)"
        case .object: return "an object"
        }
    }

    func describeWithType(_ node: Int) -> String {
        switch nodes[node].kind {
        case .null: "null"
        case .true, .false: "boolean \(describe(node))"
        case .number: "number \(describe(node))"
        case .string: "string \(describe(node))"
        case .array: "an array"
        case .object: "an object"
        }
    }

    static func format(_ number: Double) -> String {
        if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        return "\(number)"
    }

    func equals(_ node: Int, _ literal: Literal) -> Bool {
        let value = nodes[node]
        switch (value.kind, literal.value) {
        case (.null, .null): return true
        case (.true, .bool(let flag)): return flag
        case (.false, .bool(let flag)): return !flag
        case (.number, .number(let number)): return value.number == number
        case (.string, .string(let bytes)): return stringEquals(node, bytes)
        default: return false
        }
    }

    mutating func check(_ index: Int, _ node: Int) -> Bool {
        assert(schemas.indices.contains(index))
        let schema = schemas.baseAddress! + index
        let present = schema.pointee.present
        if schema.pointee.alwaysFalse {
            fail { this in "no value is allowed here" }
            return false
        }
        var valid = true
        if let ref = schema.pointee.ref, !check(ref, node) {
            valid = false
            if !collecting { return false }
        }
        let value = nodes[node]
        if schema.pointee.types != 0 {
            let accepted: Bool = switch value.kind {
            case .null: schema.pointee.types & TypeBits.null != 0
            case .true, .false: schema.pointee.types & TypeBits.boolean != 0
            case .object: schema.pointee.types & TypeBits.object != 0
            case .array: schema.pointee.types & TypeBits.array != 0
            case .string: schema.pointee.types & TypeBits.string != 0
            // "number" admits every number; "integer" a whole one (1.0 included, as the draft says).
            case .number: schema.pointee.types & TypeBits.number != 0
                || (schema.pointee.types & TypeBits.integer != 0 && value.number == value.number.rounded() && value.number.isFinite)
            }
            if !accepted {
                fail { this in "expected \(TypeBits.describe(schema.pointee.types)), got \(this.describeWithType(node))" }
                return false
            }
        }
        if present.isEmpty { return valid }
        if present.contains(.literals) {
            if let constant = schema.pointee.constValue, !equals(node, constant) {
                fail { this in "expected \(constant.text), got \(this.describe(node))" }
                if !collecting { return false }
                valid = false
            }
            if let values = schema.pointee.enumValues, !values.contains(where: { equals(node, $0) }) {
                fail { this in "expected one of \(values.map(\.text).joined(separator: ", ")), got \(this.describe(node))" }
                if !collecting { return false }
                valid = false
            }
        }
        switch value.kind {
        case .number where present.contains(.number):
            valid = checkNumber(schema, node, value.number) && valid
        case .string where present.contains(.string):
            valid = checkString(schema, node) && valid
        case .object where present.contains(.object):
            valid = checkObject(schema, node) && valid
        case .array where present.contains(.array):
            valid = checkArray(schema, node) && valid
        default:
            break
        }
        if !valid && !collecting { return false }
        guard present.contains(.composition) else { return valid }
        for sub in schema.pointee.allOf where !check(sub, node) {
            valid = false
            if !collecting { return false }
        }
        if !schema.pointee.anyOf.isEmpty, !schema.pointee.anyOf.contains(where: { quietly($0, node) }) {
            reportNoAlternative(schema.pointee.anyOf, node, keyword: "anyOf")
            valid = false
            if !collecting { return false }
        }
        if !schema.pointee.oneOf.isEmpty {
            var matching = 0
            if let keys = schema.pointee.oneOfKeys {
                if let candidate = discriminated(node, keys), quietly(schema.pointee.oneOf[candidate], node) { matching = 1 }
            } else {
                for sub in schema.pointee.oneOf where quietly(sub, node) { matching += 1 }
            }
            if matching == 0 {
                reportNoAlternative(schema.pointee.oneOf, node, keyword: "oneOf")
                valid = false
            } else if matching > 1 {
                fail { this in "expected exactly one of the \(schema.pointee.oneOf.count) alternatives (oneOf) to match, \(matching) do" }
                valid = false
            }
            if !valid && !collecting { return false }
        }
        if let not = schema.pointee.not, quietly(not, node) {
            fail { this in "expected a value that does not match the schema under 'not', got \(this.describe(node))" }
            valid = false
            if !collecting { return false }
        }
        if let condition = schema.pointee.ifSchema {
            let branch = quietly(condition, node) ? schema.pointee.thenSchema : schema.pointee.elseSchema
            if let branch, !check(branch, node) {
                valid = false
            }
        }
        return valid
    }

    /// The one `oneOf` alternative an object can match (see ``Keywords/oneOfKeys``): the one whose
    /// key is its first member with such a key. Every other alternative fails on that member
    /// (not declared there, and additional properties are not allowed), and nothing matches an
    /// object without any of the keys, or a value that is not an object.
    func discriminated(_ node: Int, _ keys: [[UInt8]]) -> Int? {
        guard nodes[node].kind == .object else { return nil }
        var key = node + 1
        for _ in 0..<Int(nodes[node].count) {
            if let index = keys.firstIndex(where: { stringEquals(key, $0) }) { return index }
            key = Int(nodes[key + 1].next)
        }
        return nil
    }

    /// No alternative matched: report the violation that got deepest into the value in an
    /// alternative whose required properties are all there (the one the sender most likely meant),
    /// or say that none matched.
    mutating func reportNoAlternative(_ alternatives: [Int], _ node: Int, keyword: String) {
        guard collecting else { return }
        var nearest: Found?
        for sub in alternatives {
            let found = violationsOf(sub, node)
            if found.contains(where: \.missingRequired) { continue }
            if let deepest = found.max(by: { $0.depth < $1.depth }), deepest.depth > (nearest?.depth ?? path.count) {
                nearest = deepest
            }
        }
        if let nearest, violations.count < JSONSchemaValidator.maximumViolations {
            violations.append(nearest)
        } else {
            fail { this in "expected one of the \(alternatives.count) alternatives (\(keyword)) to match, got \(this.describe(node)) matching none" }
        }
    }

    mutating func checkNumber(_ schema: UnsafePointer<Keywords>, _ node: Int, _ number: Double) -> Bool {
        var valid = true
        if let minimum = schema.pointee.minimum, number < minimum {
            fail { this in "expected number ≥ \(Self.format(minimum)), got \(this.describe(node))" }
            valid = false
        }
        if let maximum = schema.pointee.maximum, number > maximum {
            fail { this in "expected number ≤ \(Self.format(maximum)), got \(this.describe(node))" }
            valid = false
        }
        if let bound = schema.pointee.exclusiveMinimum, number <= bound {
            fail { this in "expected number > \(Self.format(bound)), got \(this.describe(node))" }
            valid = false
        }
        if let bound = schema.pointee.exclusiveMaximum, number >= bound {
            fail { this in "expected number < \(Self.format(bound)), got \(this.describe(node))" }
            valid = false
        }
        return valid
    }

    mutating func checkString(_ schema: UnsafePointer<Keywords>, _ node: Int) -> Bool {
        guard schema.pointee.minLength != nil || schema.pointee.maxLength != nil || schema.pointee.pattern != nil || schema.pointee.dateTime else { return true }
        var valid = true
        let pattern = schema.pointee.pattern, dateTime = schema.pointee.dateTime
        func measure(_ text: UnsafeBufferPointer<UInt8>) -> (Int, Bool, Bool) {
            var codePoints = 0
            for byte in text where byte & 0xC0 != 0x80 { codePoints += 1 }
            let matches: Bool = if let pattern { pattern.matches(text) } else { true }
            return (codePoints, matches, !dateTime || DateTimeFormat.isValid(ArraySlice(text)))
        }
        let value = nodes[node]
        let (length, matches, isDateTime) = value.hasEscapes
            ? Array(tape.string(at: node).utf8).withUnsafeBufferPointer(measure)
            : measure(UnsafeBufferPointer(rebasing: bytes[Int(value.start)..<Int(value.end)]))
        if let minimum = schema.pointee.minLength, length < minimum {
            fail { this in "expected a string of at least \(minimum) character\(minimum == 1 ? "" : "s"), got \(this.describe(node))" }
            valid = false
        }
        if let maximum = schema.pointee.maxLength, length > maximum {
            fail { this in "expected a string of at most \(maximum) character\(maximum == 1 ? "" : "s"), got \(this.describe(node))" }
            valid = false
        }
        if !matches, let pattern = schema.pointee.pattern {
            fail { this in "expected a string matching \(pattern.description), got \(this.describe(node))" }
            valid = false
        }
        if !isDateTime {
            fail { this in "expected a date-time (RFC 3339), got \(this.describe(node))" }
            valid = false
        }
        return valid
    }

    mutating func checkObject(_ schema: UnsafePointer<Keywords>, _ node: Int) -> Bool {
        var valid = true
        let count = Int(nodes[node].count)
        if let minimum = schema.pointee.minProperties, count < minimum {
            fail { this in "expected at least \(minimum) propert\(minimum == 1 ? "y" : "ies"), got \(count)" }
            valid = false
        }
        if let maximum = schema.pointee.maxProperties, count > maximum {
            fail { this in "expected at most \(maximum) propert\(maximum == 1 ? "y" : "ies"), got \(count)" }
            valid = false
        }
        if !valid && !collecting { return false }
        let properties = schema.pointee.properties
        // Collecting: required first, in the schema's order, like other validators report them.
        if collecting && !checkRequired(schema, node, seen: nil) { valid = false }
        let additional = schema.pointee.additionalProperties
        let names = schema.pointee.propertyNames
        var seen: UInt64 = 0
        // Where to start looking for the next member's property: just after the previous match.
        var hint = 0
        // The path only serves messages: kept while collecting, which no call below changes for good.
        let tracking = collecting
        if !properties.isEmpty || additional != nil || names != nil {
            var key = node + 1
            for _ in 0..<count {
                let member = key + 1
                if tracking { path.append(key) }
                if let names, !quietly(names, key) {
                    let reason = collecting ? violationsOf(names, key).first.map { ": " + $0.violation.message } ?? "" : ""
                    fail { this in "property name \(this.describe(key)) is not allowed\(reason)" }
                    valid = false
                }
                var matched = -1
                var index = hint
                for _ in 0..<properties.count {
                    if index >= properties.count { index = 0 }
                    if stringEquals(key, properties[index].name) {
                        matched = index
                        hint = index + 1
                        break
                    }
                    index += 1
                }
                if matched >= 0 {
                    if matched < 64 { seen |= 1 << UInt64(matched) }
                    if !check(properties[matched].schema, member) { valid = false }
                } else if let additional {
                    if schemas[additional].alwaysFalse {
                        fail { this in "unexpected property (additionalProperties is false)" }
                        valid = false
                    } else if !check(additional, member) {
                        valid = false
                    }
                }
                if tracking { path.removeLast() }
                if !valid && !collecting { return false }
                key = Int(nodes[member].next)
            }
        }
        if !collecting && !checkRequired(schema, node, seen: seen) { return false }
        return valid
    }

    /// `seen`: the declared properties found by the member pass (bit = index), when there was one.
    mutating func checkRequired(_ schema: UnsafePointer<Keywords>, _ node: Int, seen: UInt64?) -> Bool {
        var valid = true
        let required = schema.pointee.required, requiredIndex = schema.pointee.requiredIndex
        let hadPass = !schema.pointee.properties.isEmpty || schema.pointee.additionalProperties != nil || schema.pointee.propertyNames != nil
        for position in 0..<required.count {
            let index = requiredIndex[position]
            var found: Bool
            if let seen, hadPass, index >= 0, index < 64 {
                found = seen & (1 << UInt64(index)) != 0
            } else {
                found = false
                var key = node + 1
                for _ in 0..<nodes[node].count {
                    if stringEquals(key, required[position]) {
                        found = true
                        break
                    }
                    key = Int(nodes[key + 1].next)
                }
            }
            if !found {
                let name = required[position]
                fail { this in "missing required property \"\(String(decoding: name, as: UTF8.self))\"" }
                if collecting, let last = violations.indices.last, violations[last].depth == path.count { violations[last].missingRequired = true }
                valid = false
                if !collecting { return false }
            }
        }
        return valid
    }

    mutating func checkArray(_ schema: UnsafePointer<Keywords>, _ node: Int) -> Bool {
        var valid = true
        let count = Int(nodes[node].count)
        if let minimum = schema.pointee.minItems, count < minimum {
            fail { this in "expected at least \(minimum) item\(minimum == 1 ? "" : "s"), got \(count)" }
            valid = false
        }
        if let maximum = schema.pointee.maxItems, count > maximum {
            fail { this in "expected at most \(maximum) item\(maximum == 1 ? "" : "s"), got \(count)" }
            valid = false
        }
        guard let items = schema.pointee.items else { return valid }
        let tracking = collecting
        var element = node + 1
        for position in 0..<count {
            if tracking { path.append(-1 - position) }
            if !check(items, element) { valid = false }
            if tracking { path.removeLast() }
            if !valid && !collecting { return false }
            element = Int(nodes[element].next)
        }
        return valid
    }
}

/// RFC 3339 `date-time`: `2026-03-01T00:00:00Z`, fractional seconds and numeric offsets allowed.
enum DateTimeFormat {
    static func isValid(_ text: ArraySlice<UInt8>) -> Bool {
        let bytes = Array(text)
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= bytes.count else { return nil }
            var value = 0
            for offset in at..<at + count {
                guard (48...57).contains(bytes[offset]) else { return nil }
                value = value * 10 + Int(bytes[offset] - 48)
            }
            return value
        }
        func byte(_ at: Int, _ expected: Character...) -> Bool {
            at < bytes.count && expected.contains(Character(UnicodeScalar(bytes[at])))
        }
        guard let year = digits(0, 4), byte(4, "-"), let month = digits(5, 2), byte(7, "-"), let day = digits(8, 2),
              byte(10, "T", "t"), let hour = digits(11, 2), byte(13, ":"), let minute = digits(14, 2), byte(16, ":"),
              let second = digits(17, 2) else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...days[month - 1]).contains(day), hour < 24, minute < 60, second <= 60 else { return false }
        var index = 19
        if byte(index, ".") {
            index += 1
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
            guard index > start else { return false }
        }
        if byte(index, "Z", "z") { return index + 1 == bytes.count }
        guard byte(index, "+", "-"), let offsetHour = digits(index + 1, 2), byte(index + 3, ":"), let offsetMinute = digits(index + 4, 2) else {
            return false
        }
        return offsetHour < 24 && offsetMinute < 60 && index + 6 == bytes.count
    }
}
