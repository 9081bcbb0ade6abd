#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import HubDomain
import HubSupport

/// Decodes `Decodable` values straight from a parsed ``JSONTape``, so a message that was parsed
/// once for schema validation is not parsed again by Foundation's `JSONDecoder` (which costs
/// about ten times the parse and the validation together).
///
/// It follows `JSONDecoder`'s default strategies (keys as named, numbers as numbers; dates,
/// data and key conversion are not used on the wire) and is stricter in two places, because
/// the chain hash covers the record's bytes as published and those bytes must mean one thing:
/// an object with the same member name twice is refused (`JSONDecoder` keeps one of them
/// silently), and strings must be valid UTF-8 without lone surrogate escapes.
///
/// Errors say where (a JSON pointer from the tape's root) and what was expected.
public struct JSONTapeDecoder: Sendable {
    public init() {}

    /// Decodes the value at `node` (the whole document by default).
    public func decode<T: Decodable>(_ type: T.Type, from tape: JSONTape, at node: Int = 0) throws(JSONDecodingError) -> T {
        precondition(tape.nodes.indices.contains(node), "node \(node) is not in the tape")
        do {
            // The decoder reads through pointers that live only for this call; no container escapes it.
            return try tape.nodes.withUnsafeBufferPointer { nodes in
                try tape.bytes.withUnsafeBufferPointer { bytes in
                    try TapeDecoder(nodes: nodes, bytes: bytes, root: node).unbox(T.self, at: node)
                }
            }
        } catch let error as DecodingError {
            throw JSONDecodingError(error, tape: tape, root: node)
        } catch {
            // A `Decodable` type may throw errors of its own.
            throw JSONDecodingError(pointer: JSONDecodingError.pointer(to: node, in: tape), message: "\(error)")
        }
    }
}

/// A JSON value does not have the shape a type expects: `pointer` (RFC 6901, from the document's
/// root; empty for the root) says where, `message` what was expected and what was found.
public struct JSONDecodingError: HubError, Equatable {
    public let pointer: String
    public let message: String

    public init(pointer: String, message: String) {
        self.pointer = pointer
        self.message = message
    }

    public var code: String { "json.decoding" }
    public var description: String { "\(pointer.isEmpty ? "/" : pointer): \(message)" }

    init(_ error: DecodingError, tape: JSONTape, root: Int) {
        let base = Self.pointer(to: root, in: tape)
        func pointer(_ path: [any CodingKey]) -> String {
            base + path.map { "/" + ($0.intValue.map(String.init) ?? JSONPointerToken.escape($0.stringValue)) }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context):
            self.init(pointer: pointer(context.codingPath), message: "missing member \"\(key.stringValue)\"")
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            self.init(pointer: pointer(context.codingPath), message: context.debugDescription)
        @unknown default:
            self.init(pointer: base, message: "\(error)")
        }
    }

    /// The JSON pointer of a node, found by descending from the root (only when reporting an error).
    static func pointer(to node: Int, in tape: JSONTape) -> String {
        tape.nodes.withUnsafeBufferPointer { nodes in
            tape.bytes.withUnsafeBufferPointer { bytes in
                TapeDecoder(nodes: nodes, bytes: bytes, root: 0).path(to: node)
                    .map { "/" + ($0.intValue.map(String.init) ?? JSONPointerToken.escape($0.stringValue)) }.joined()
            }
        }
    }
}

extension JSONTape {
    /// The value node of the member `name` of the object at `object`, or nil when there is none
    /// (or `object` is not an object). With duplicate names, the first; ``JSONTapeDecoder`` refuses duplicates.
    public func member(_ name: String, of object: Int = 0) -> Int? {
        nodes.withUnsafeBufferPointer { nodes in
            bytes.withUnsafeBufferPointer { bytes in
                TapeDecoder(nodes: nodes, bytes: bytes, root: object).member(of: object, named: name)
            }
        }
    }

    /// The bytes of a value exactly as they appear in the document (a container with its brackets,
    /// a string with its quotes).
    public func rawBytes(of node: Int) -> ArraySlice<UInt8> {
        let value = nodes[node]
        return value.kind == .string ? bytes[Int(value.start) - 1...Int(value.end)] : bytes[Int(value.start)..<Int(value.end)]
    }
}

// MARK: - The decoder

/// A coding key for paths in errors: a member name or an array index.
struct TapeCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    init(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

/// One decoding pass. Like `JSONDecoder`'s, one instance serves the whole value: `node` is the
/// value the next `*Container()` call is about; containers remember their own node. Coding paths
/// are not kept while decoding (that would cost an allocation per level) but recomputed from the
/// tape when asked for, which in practice is only for an error.
final class TapeDecoder: Decoder {
    let nodes: UnsafeBufferPointer<JSONTape.Node>
    let bytes: UnsafeBufferPointer<UInt8>
    /// Where decoding started; coding paths are relative to it.
    let root: Int
    var node: Int

    init(nodes: UnsafeBufferPointer<JSONTape.Node>, bytes: UnsafeBufferPointer<UInt8>, root: Int) {
        self.nodes = nodes
        self.bytes = bytes
        self.root = root
        self.node = root
    }

    var codingPath: [any CodingKey] { path(to: node) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try keyedContainer(at: node)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try unkeyedContainer(at: node)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        TapeSingleValueContainer(decoder: self, node: node)
    }

    // MARK: Values

    /// Decodes a value of any type at `index`.
    func unbox<T: Decodable>(_ type: T.Type, at index: Int) throws -> T {
        // Scalars directly (dictionary values, arrays of numbers): no container, no dynamic dispatch.
        if T.self == Double.self { return try double(at: index) as! T }
        if T.self == String.self { return try string(at: index) as! T }
        // The domain's most numerous values, decoded by hand (JSONTapeDecoder+HubDomain.swift).
        if T.self == Figure.self { return try figure(at: index) as! T }
        if T.self == Quality.self { return try quality(at: index) as! T }
        if T.self == SiteFlows.self { return try siteFlows(at: index) as! T }
        if T.self == BatteryOriginFlows.self { return try batteryOriginFlows(at: index) as! T }
        if T.self == BatteryOriginState.self { return try batteryOriginState(at: index) as! T }
        if T.self == HubTotals.self { return try hubTotals(at: index) as! T }
        if T.self == ParticipantSettlement.self { return try participantSettlement(at: index) as! T }
        if T.self == AssetSettlement.self { return try assetSettlement(at: index) as! T }
        if T.self == IntervalRecord.self { return try intervalRecord(at: index) as! T }
        let saved = node
        node = index
        defer { node = saved }
        return try T(from: self)
    }

    func keyedContainer<Key: CodingKey>(at index: Int) throws -> KeyedDecodingContainer<Key> {
        guard nodes[index].kind == .object else {
            throw mismatch(expected: "an object", [String: Any].self, at: index)
        }
        try checkUniqueMembers(index)
        return KeyedDecodingContainer(TapeKeyedContainer<Key>(decoder: self, object: index))
    }

    func unkeyedContainer(at index: Int) throws -> TapeUnkeyedContainer {
        guard nodes[index].kind == .array else {
            throw mismatch(expected: "an array", [Any].self, at: index)
        }
        return TapeUnkeyedContainer(decoder: self, array: index)
    }

    func isNull(_ index: Int) -> Bool { nodes[index].kind == .null }

    func bool(at index: Int) throws -> Bool {
        switch nodes[index].kind {
        case .true: return true
        case .false: return false
        default: throw mismatch(expected: "true or false", Bool.self, at: index)
        }
    }

    func double(at index: Int) throws -> Double {
        let value = nodes[index]
        guard value.kind == .number else { throw mismatch(expected: "a number", Double.self, at: index) }
        // JSONDecoder refuses numbers beyond Double's range rather than making them infinite.
        guard value.number.isFinite else { throw corrupted("number \(text(index)) is out of range for Double", at: index) }
        return value.number
    }

    func float(at index: Int) throws -> Float {
        let value = try double(at: index)
        let narrowed = Float(value)
        guard narrowed.isFinite else { throw corrupted("number \(text(index)) is out of range for Float", at: index) }
        return narrowed
    }

    /// Integers are read from their digits, not through the tape's `Double` (exact beyond 2^53);
    /// a fraction or exponent is accepted only when the value is a whole number in range, as `JSONDecoder` does.
    func integer<I: FixedWidthInteger>(_ type: I.Type, at index: Int) throws -> I {
        let value = nodes[index]
        guard value.kind == .number else { throw mismatch(expected: "an integer", I.self, at: index) }
        var position = Int(value.start)
        let end = Int(value.end)
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        var result: I = 0
        var plain = true
        while position < end {
            let digit = bytes[position] &- 48
            guard digit < 10 else {
                plain = false
                break
            }
            let (times10, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? times10.subtractingReportingOverflow(I(digit)) : times10.addingReportingOverflow(I(digit))
            guard !overflow1, !overflow2 else { throw corrupted("number \(text(index)) is out of range for \(I.self)", at: index) }
            result = next
            position += 1
        }
        if plain { return result }
        guard let whole = I(exactly: value.number) else {
            throw corrupted("number \(text(index)) is not a whole number in the range of \(I.self)", at: index)
        }
        return whole
    }

    func string(at index: Int) throws -> String {
        let value = nodes[index]
        guard value.kind == .string else { throw mismatch(expected: "a string", String.self, at: index) }
        let raw = UnsafeBufferPointer(rebasing: bytes[Int(value.start)..<Int(value.end)])
        if !value.hasEscapes {
            if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
            guard let text = String(validating: raw, as: UTF8.self) else { throw corrupted("the string is not valid UTF-8", at: index) }
            return text
        }
        guard let text = Self.unescape(raw) else {
            throw corrupted("the string is not valid UTF-8 or has a lone surrogate escape", at: index)
        }
        return text
    }

    /// A string's escapes decoded, or nil for invalid UTF-8 or a `\u` escape of a lone surrogate
    /// (which `JSONDecoder` refuses too; ``JSONTape/string(at:)`` replaces them, fine for messages).
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(raw.count)
        func hex4(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = raw[at + offset]
                value = value << 4 | UInt32(byte <= 57 ? byte - 48 : (byte | 0x20) - 87)
            }
            return value
        }
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            // The tape checked the escape's syntax (including four hex digits after \u).
            let escape = raw[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "u"):
                var code = hex4(index)
                index += 4
                if (0xD800..<0xDC00).contains(code) {
                    guard index + 5 < raw.count, raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u") else { return nil }
                    let low = hex4(index + 2)
                    guard (0xDC00..<0xE000).contains(low) else { return nil }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                } else if (0xDC00..<0xE000).contains(code) {
                    return nil
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }
                utf8.append(contentsOf: UTF8.encode(scalar)!)
            default: utf8.append(escape) // \" \\ \/
            }
        }
        return String(validating: utf8, as: UTF8.self)
    }

    // MARK: Members

    /// The value node of member `name` of an object. Objects are small (at most a few dozen
    /// members), so a linear scan over byte ranges beats building a dictionary per object.
    func member(of object: Int, named name: String) -> Int? {
        var name = name
        return name.withUTF8 { key -> Int? in
            var child = object + 1
            let end = Int(nodes[object].next)
            while child < end {
                let keyNode = nodes[child]
                if keyNode.hasEscapes {
                    if let text = Self.unescape(UnsafeBufferPointer(rebasing: bytes[Int(keyNode.start)..<Int(keyNode.end)])),
                       text.utf8.elementsEqual(key) {
                        return child + 1
                    }
                } else if Int(keyNode.end - keyNode.start) == key.count, bytesEqual(Int(keyNode.start), key) {
                    return child + 1
                }
                child = Int(nodes[child + 1].next)
            }
            return nil
        }
    }

    @inline(__always)
    func bytesEqual(_ start: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        var offset = 0
        while offset < key.count {
            if bytes[start + offset] != key[offset] { return false }
            offset += 1
        }
        return true
    }

    /// The text of a member name.
    func keyText(_ keyNode: Int) throws -> String { try string(at: keyNode) }

    /// Refuses an object that names a member twice. Agents write keys sorted, so one comparison
    /// per neighbouring pair proves uniqueness; only unsorted objects get the full check.
    func checkUniqueMembers(_ object: Int) throws {
        let end = Int(nodes[object].next)
        var previous = -1
        var child = object + 1
        var sorted = true
        while child < end {
            let name = nodes[child]
            // Escaped or non-ASCII names take the full check, which also validates their UTF-8.
            if name.hasEscapes || !isASCII(name) || (previous >= 0 && !lessThan(nodes[previous], name)) {
                sorted = false
                break
            }
            previous = child
            child = Int(nodes[child + 1].next)
        }
        if sorted { return }
        var seen = Set<String>()
        child = object + 1
        while child < end {
            let name = try keyText(child)
            guard seen.insert(name).inserted else {
                throw corrupted("member \"\(name)\" appears more than once", at: object)
            }
            child = Int(nodes[child + 1].next)
        }
    }

    // This check runs over every member name of every decoded object (it was the decoder's
    // largest single cost in a profile), so both helpers work on words and memcmp, not bytes.

    /// Whether a member name is ASCII, eight bytes at a time.
    @inline(__always)
    func isASCII(_ name: JSONTape.Node) -> Bool {
        let base = UnsafeRawPointer(bytes.baseAddress!)
        var offset = Int(name.start)
        let end = Int(name.end)
        while offset + 8 <= end {
            if base.loadUnaligned(fromByteOffset: offset, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            offset += 8
        }
        while offset < end {
            if bytes[offset] >= 0x80 { return false }
            offset += 1
        }
        return true
    }

    /// Byte order of two raw (unescaped) member names.
    @inline(__always)
    func lessThan(_ a: JSONTape.Node, _ b: JSONTape.Node) -> Bool {
        let lengthA = Int(a.end - a.start), lengthB = Int(b.end - b.start)
        let order = memcmp(bytes.baseAddress! + Int(a.start), bytes.baseAddress! + Int(b.start), min(lengthA, lengthB))
        return order != 0 ? order < 0 : lengthA < lengthB
    }

    // MARK: Errors

    /// The path from `root` to `target`: at each container, the member or element whose subtree holds it.
    func path(to target: Int) -> [any CodingKey] {
        var path: [any CodingKey] = []
        var current = root
        descent: while current != target {
            let container = nodes[current]
            guard container.kind == .object || container.kind == .array else { break }
            var child = current + 1
            var index = 0
            while child < Int(container.next) {
                let value = container.kind == .object ? child + 1 : child
                let valueEnd = Int(nodes[value].next)
                if target >= child && target < valueEnd {
                    if container.kind == .object {
                        let raw = UnsafeBufferPointer(rebasing: bytes[Int(nodes[child].start)..<Int(nodes[child].end)])
                        let name = nodes[child].hasEscapes ? (Self.unescape(raw) ?? String(decoding: raw, as: UTF8.self)) : String(decoding: raw, as: UTF8.self)
                        path.append(TapeCodingKey(stringValue: name))
                    } else {
                        path.append(TapeCodingKey(intValue: index))
                    }
                    if target == child { break descent } // a member name itself
                    current = value
                    continue descent
                }
                child = valueEnd
                index += 1
            }
            break
        }
        return path
    }

    /// The value as written (shortened), for messages.
    func text(_ index: Int) -> String {
        let value = nodes[index]
        switch value.kind {
        case .null: return "null"
        case .true: return "true"
        case .false: return "false"
        case .number: return String(decoding: UnsafeBufferPointer(rebasing: bytes[Int(value.start)..<Int(value.end)]), as: UTF8.self)
        case .string:
            let raw = UnsafeBufferPointer(rebasing: bytes[Int(value.start)..<Int(value.end)])
            let text = String(decoding: raw, as: UTF8.self)
            return "\"" + (text.count > 40 ? String(text.prefix(40)) + "…" : text) + "\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    func describe(_ index: Int) -> String {
        switch nodes[index].kind {
        case .number: return "number \(text(index))"
        case .string: return "string \(text(index))"
        default: return text(index)
        }
    }

    func mismatch(expected: String, _ type: Any.Type, at index: Int) -> DecodingError {
        let context = DecodingError.Context(codingPath: path(to: index), debugDescription: "expected \(expected), found \(describe(index))")
        return isNull(index) ? .valueNotFound(type, context) : .typeMismatch(type, context)
    }

    func corrupted(_ message: String, at index: Int) -> DecodingError {
        .dataCorrupted(DecodingError.Context(codingPath: path(to: index), debugDescription: message))
    }
}

// MARK: - Containers

struct TapeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: TapeDecoder
    let object: Int

    var codingPath: [any CodingKey] { decoder.path(to: object) }

    var allKeys: [Key] {
        var keys: [Key] = []
        var child = object + 1
        let end = Int(decoder.nodes[object].next)
        while child < end {
            if let name = try? decoder.keyText(child), let key = Key(stringValue: name) { keys.append(key) }
            child = Int(decoder.nodes[child + 1].next)
        }
        return keys
    }

    func contains(_ key: Key) -> Bool { decoder.member(of: object, named: key.stringValue) != nil }

    @inline(__always)
    func value(_ key: Key) throws -> Int {
        guard let index = decoder.member(of: object, named: key.stringValue) else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(codingPath: codingPath, debugDescription: "missing member \"\(key.stringValue)\""))
        }
        return index
    }

    /// The member's value node, or nil when it is absent or null (`decodeIfPresent`'s contract).
    @inline(__always)
    func presentValue(_ key: Key) -> Int? {
        guard let index = decoder.member(of: object, named: key.stringValue), !decoder.isNull(index) else { return nil }
        return index
    }

    func decodeNil(forKey key: Key) throws -> Bool { decoder.isNull(try value(key)) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decoder.bool(at: value(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decoder.string(at: value(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decoder.double(at: value(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decoder.float(at: value(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decoder.integer(type, at: value(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decoder.integer(type, at: value(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decoder.integer(type, at: value(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decoder.integer(type, at: value(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decoder.integer(type, at: value(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decoder.integer(type, at: value(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decoder.integer(type, at: value(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decoder.integer(type, at: value(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decoder.integer(type, at: value(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decoder.integer(type, at: value(key)) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decoder.unbox(type, at: value(key)) }

    // One member lookup instead of the default's three (contains, decodeNil, decode).
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try presentValue(key).map { try decoder.bool(at: $0) } }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try presentValue(key).map { try decoder.string(at: $0) } }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try presentValue(key).map { try decoder.double(at: $0) } }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try presentValue(key).map { try decoder.float(at: $0) } }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try presentValue(key).map { try decoder.integer(type, at: $0) } }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try presentValue(key).map { try decoder.integer(type, at: $0) } }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try presentValue(key).map { try decoder.unbox(type, at: $0) }
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder.keyedContainer(at: value(key))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder.unkeyedContainer(at: value(key))
    }

    func superDecoder() throws -> any Decoder {
        try superDecoder(at: value(Key(stringValue: "super")!))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try superDecoder(at: value(key))
    }

    private func superDecoder(at index: Int) throws -> any Decoder {
        let nested = TapeDecoder(nodes: decoder.nodes, bytes: decoder.bytes, root: decoder.root)
        nested.node = index
        return nested
    }
}

struct TapeUnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: TapeDecoder
    // 32-bit node indices (the tape's own width) keep the container within an existential's
    // three-word inline buffer, so `unkeyedContainer()` does not allocate a box for it.
    let arrayNode: Int32
    /// The node of the element at `currentIndex`.
    private var element: Int32
    private var index: Int32 = 0

    var array: Int { Int(arrayNode) }
    var currentIndex: Int { Int(index) }

    init(decoder: TapeDecoder, array: Int) {
        self.decoder = decoder
        self.arrayNode = Int32(array)
        self.element = Int32(array + 1)
    }

    var codingPath: [any CodingKey] { decoder.path(to: array) }
    var count: Int? { Int(decoder.nodes[array].count) }
    var isAtEnd: Bool { currentIndex >= Int(decoder.nodes[array].count) }

    /// The next element's node; the index advances only after a successful decode, as in `JSONDecoder`.
    private func next<T>(_ type: T.Type) throws -> Int {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, DecodingError.Context(
                codingPath: codingPath + [TapeCodingKey(intValue: currentIndex)], debugDescription: "the array has only \(currentIndex) elements"))
        }
        return Int(element)
    }

    private mutating func advance() {
        element = decoder.nodes[Int(element)].next
        index += 1
    }

    /// `read` gets the decoder as an argument: a closure capturing `self` would overlap this mutating access.
    private mutating func take<T>(_ read: (TapeDecoder, Int) throws -> T) throws -> T {
        let value = try read(decoder, try next(T.self))
        advance()
        return value
    }

    mutating func decodeNil() throws -> Bool {
        guard decoder.isNull(try next(Never.self)) else { return false }
        advance()
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try take { try $0.bool(at: $1) } }
    mutating func decode(_ type: String.Type) throws -> String { try take { try $0.string(at: $1) } }
    mutating func decode(_ type: Double.Type) throws -> Double { try take { try $0.double(at: $1) } }
    mutating func decode(_ type: Float.Type) throws -> Float { try take { try $0.float(at: $1) } }
    mutating func decode(_ type: Int.Type) throws -> Int { try take { try $0.integer(type, at: $1) } }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try take { try $0.integer(type, at: $1) } }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try take { try $0.integer(type, at: $1) } }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try take { try $0.integer(type, at: $1) } }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try take { try $0.integer(type, at: $1) } }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try take { try $0.integer(type, at: $1) } }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try take { try $0.integer(type, at: $1) } }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try take { try $0.integer(type, at: $1) } }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try take { try $0.integer(type, at: $1) } }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try take { try $0.integer(type, at: $1) } }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try take { try $0.unbox(type, at: $1) } }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try take { try $0.keyedContainer(at: $1) }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try take { try $0.unkeyedContainer(at: $1) }
    }

    mutating func superDecoder() throws -> any Decoder {
        try take { decoder, index in
            let nested = TapeDecoder(nodes: decoder.nodes, bytes: decoder.bytes, root: decoder.root)
            nested.node = index
            return nested
        }
    }
}

struct TapeSingleValueContainer: SingleValueDecodingContainer {
    let decoder: TapeDecoder
    let node: Int

    var codingPath: [any CodingKey] { decoder.path(to: node) }

    func decodeNil() -> Bool { decoder.isNull(node) }
    func decode(_ type: Bool.Type) throws -> Bool { try decoder.bool(at: node) }
    func decode(_ type: String.Type) throws -> String { try decoder.string(at: node) }
    func decode(_ type: Double.Type) throws -> Double { try decoder.double(at: node) }
    func decode(_ type: Float.Type) throws -> Float { try decoder.float(at: node) }
    func decode(_ type: Int.Type) throws -> Int { try decoder.integer(type, at: node) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.integer(type, at: node) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.integer(type, at: node) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.integer(type, at: node) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.integer(type, at: node) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.integer(type, at: node) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.integer(type, at: node) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.integer(type, at: node) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.integer(type, at: node) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.integer(type, at: node) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.unbox(type, at: node) }
}
