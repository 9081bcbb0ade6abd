#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed JSON document as one flat array of nodes (a "tape") that points into the payload
/// bytes: strings and keys are byte ranges, not `String`s, so parsing a message costs one
/// allocation for the node array (and none per member). Used by ``JSONSchemaValidator``.
///
/// Nodes are in document order; a container is followed by its children (an object's children
/// alternate key, value), and ``Node/next`` skips a whole subtree.
public struct JSONTape: Sendable {
    public enum Kind: UInt8, Sendable {
        case null, `true`, `false`, number, string, array, object
    }

    public struct Node: Sendable {
        public var kind: Kind
        /// A string with backslash escapes; its text must be decoded before comparing.
        public var hasEscapes: Bool
        /// String: first byte after the opening quote; number: first byte; container: the bracket.
        public var start: Int32
        /// String: the closing quote; number: one past the last byte; container: one past the closing bracket.
        public var end: Int32
        /// Containers: elements (arrays) or members (objects).
        public var count: Int32
        /// Index of the first node after this node's subtree.
        public var next: Int32
        /// Numbers only.
        public var number: Double
    }

    public let bytes: [UInt8]
    public private(set) var nodes: [Node]

    /// Deeper nesting is rejected rather than recursed into (a hostile payload must not exhaust the stack).
    public static let maximumDepth = 64

    public init(parsing bytes: [UInt8]) throws(JSONSyntaxError) {
        self.bytes = bytes
        self.nodes = []
        nodes.reserveCapacity(max(16, bytes.count / 10))
        var parser = Parser(bytes: bytes)
        try bytes.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in
            parser.input = buffer
            parser.skipWhitespace()
            try parser.value(into: &nodes, depth: 0)
            parser.skipWhitespace()
            if parser.position != buffer.count { throw parser.failure("unexpected data after the JSON value") }
        }
    }

    /// The text of a string node (escapes decoded).
    public func string(at index: Int) -> String {
        let node = nodes[index]
        let raw = bytes[Int(node.start)..<Int(node.end)]
        guard node.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        return Self.unescape(raw)
    }

    /// Calls `body` with the UTF-8 bytes of a string node's text, without copying when there are no escapes.
    @inline(__always)
    func withStringBytes<R>(at index: Int, _ body: (ArraySlice<UInt8>) -> R) -> R {
        let node = nodes[index]
        if !node.hasEscapes { return body(bytes[Int(node.start)..<Int(node.end)]) }
        return body(ArraySlice(Array(string(at: index).utf8)))
    }

    /// Whether a string node's text equals `expected` (UTF-8 bytes).
    @inline(__always)
    func stringEquals(_ index: Int, _ expected: [UInt8]) -> Bool {
        let node = nodes[index]
        if !node.hasEscapes {
            let length = Int(node.end - node.start)
            guard length == expected.count else { return false }
            var offset = Int(node.start)
            for byte in expected {
                if bytes[offset] != byte { return false }
                offset += 1
            }
            return true
        }
        return Array(string(at: index).utf8) == expected
    }

    static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var index = raw.startIndex
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll(keepingCapacity: true)
            }
        }
        func hex4(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for offset in 0..<4 where at + offset < raw.endIndex {
                let byte = raw[at + offset]
                let digit: UInt32 = switch byte {
                case 48...57: UInt32(byte - 48)
                case 65...70: UInt32(byte - 55)
                case 97...102: UInt32(byte - 87)
                default: 0
                }
                value = value << 4 | digit
            }
            return value
        }
        while index < raw.endIndex {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < raw.endIndex else {
                utf8.append(byte)
                index += 1
                continue
            }
            flush()
            let escape = raw[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "u"):
                var code = hex4(index)
                index += 4
                if (0xD800..<0xDC00).contains(code), index + 1 < raw.endIndex, raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u") {
                    let low = hex4(index + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: scalars.append(Unicode.Scalar(escape))
            }
        }
        flush()
        return String(scalars)
    }

    struct Parser {
        let bytes: [UInt8]
        var input: UnsafeBufferPointer<UInt8> = UnsafeBufferPointer(start: nil, count: 0)
        var position = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func failure(_ message: String) -> JSONSyntaxError { JSONSyntaxError(offset: position, message: message) }

        @inline(__always)
        mutating func skipWhitespace() {
            while position < input.count {
                switch input[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        mutating func value(into nodes: inout [Node], depth: Int) throws(JSONSyntaxError) {
            guard position < input.count else { throw failure("unexpected end of the document") }
            switch input[position] {
            case UInt8(ascii: "{"): try container(object: true, into: &nodes, depth: depth)
            case UInt8(ascii: "["): try container(object: false, into: &nodes, depth: depth)
            case UInt8(ascii: "\""): try string(into: &nodes)
            case UInt8(ascii: "t"): try literal("true", .true, into: &nodes)
            case UInt8(ascii: "f"): try literal("false", .false, into: &nodes)
            case UInt8(ascii: "n"): try literal("null", .null, into: &nodes)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number(into: &nodes)
            default: throw failure("unexpected character '\(Self.printable(input[position]))'")
            }
        }

        static func printable(_ byte: UInt8) -> String {
            (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
        }

        mutating func literal(_ word: StaticString, _ kind: Kind, into nodes: inout [Node]) throws(JSONSyntaxError) {
            let start = position
            let count = word.utf8CodeUnitCount
            guard position + count <= input.count else { throw failure("unexpected end of the document") }
            for offset in 0..<count where input[position + offset] != word.utf8Start[offset] {
                throw failure("invalid literal; expected \(word)")
            }
            position += count
            nodes.append(Node(kind: kind, hasEscapes: false, start: Int32(start), end: Int32(position), count: 0,
                              next: Int32(nodes.count + 1), number: 0))
        }

        mutating func string(into nodes: inout [Node]) throws(JSONSyntaxError) {
            position += 1 // opening quote
            let start = position
            var escapes = false
            while true {
                // Eight bytes at a time while none of them needs a look (most of a message's bytes
                // are in strings: names, identifiers, timestamps, hashes).
                while position + 8 <= input.count,
                      !Self.hasQuoteBackslashOrControl(UnsafeRawPointer(input.baseAddress! + position).loadUnaligned(as: UInt64.self)) {
                    position += 8
                }
                guard position < input.count else { throw failure("unterminated string") }
                let byte = input[position]
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 { throw failure("control character in a string") }
                if byte == UInt8(ascii: "\\") {
                    escapes = true
                    guard position + 1 < input.count else { throw failure("unterminated string") }
                    switch input[position + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        position += 2
                    case UInt8(ascii: "u"):
                        guard position + 5 < input.count,
                              (2...5).allSatisfy({ Self.isHexDigit(input[position + $0]) }) else { throw failure("invalid \\u escape") }
                        position += 6
                    default:
                        throw failure("invalid escape")
                    }
                    continue
                }
                position += 1
            }
            nodes.append(Node(kind: .string, hasEscapes: escapes, start: Int32(start), end: Int32(position), count: 0,
                              next: Int32(nodes.count + 1), number: 0))
            position += 1 // closing quote
        }

        /// Whether any of the eight bytes is `"`, `\\` or below 0x20 (exact, no false positives:
        /// the classic "has zero byte" and "has byte less than" word tests).
        @inline(__always)
        static func hasQuoteBackslashOrControl(_ word: UInt64) -> Bool {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
            let zeroInQuote = (quote &- ones) & ~quote & highs
            let zeroInBackslash = (backslash &- ones) & ~backslash & highs
            let control = (word &- ones &* 0x20) & ~word & highs
            return zeroInQuote | zeroInBackslash | control != 0
        }

        static let powersOfTen: [Double] = (0...22).map { exponent in (0..<exponent).reduce(1.0) { value, _ in value * 10 } }

        static func isHexDigit(_ byte: UInt8) -> Bool {
            (48...57).contains(byte) || (65...70).contains(byte) || (97...102).contains(byte)
        }

        mutating func number(into nodes: inout [Node]) throws(JSONSyntaxError) {
            let start = position
            var negative = false
            if input[position] == UInt8(ascii: "-") {
                negative = true
                position += 1
            }
            func digits(_ parser: inout Parser) -> Int {
                let first = parser.position
                while parser.position < parser.input.count, (48...57).contains(parser.input[parser.position]) { parser.position += 1 }
                return parser.position - first
            }
            let integerStart = position
            let integerDigits = digits(&self)
            guard integerDigits > 0 else { throw failure("invalid number") }
            if integerDigits > 1 && input[integerStart] == UInt8(ascii: "0") { throw failure("invalid number (leading zero)") }
            // Exact fast path (Clinger): up to 15 significant digits and a power of ten up to 22
            // are both exact doubles, so one multiplication or division rounds correctly.
            var mantissa: Int64 = 0
            var significant = 0
            var scale = 0
            for offset in integerStart..<integerStart + integerDigits {
                if significant > 0 || input[offset] != UInt8(ascii: "0") { significant += 1 }
                mantissa = significant <= 18 ? mantissa &* 10 &+ Int64(input[offset] - 48) : mantissa
            }
            if position < input.count, input[position] == UInt8(ascii: ".") {
                position += 1
                let fractionStart = position
                guard digits(&self) > 0 else { throw failure("invalid number (no digits after the decimal point)") }
                for offset in fractionStart..<position {
                    if significant > 0 || input[offset] != UInt8(ascii: "0") { significant += 1 }
                    if significant <= 18 {
                        mantissa = mantissa &* 10 &+ Int64(input[offset] - 48)
                        scale -= 1
                    }
                }
            }
            var exponent = 0
            var hasExponent = false
            if position < input.count, input[position] == UInt8(ascii: "e") || input[position] == UInt8(ascii: "E") {
                hasExponent = true
                position += 1
                var negativeExponent = false
                if position < input.count, input[position] == UInt8(ascii: "+") || input[position] == UInt8(ascii: "-") {
                    negativeExponent = input[position] == UInt8(ascii: "-")
                    position += 1
                }
                let exponentStart = position
                guard digits(&self) > 0 else { throw failure("invalid number (no exponent digits)") }
                for offset in exponentStart..<min(position, exponentStart + 6) { exponent = exponent * 10 + Int(input[offset] - 48) }
                if negativeExponent { exponent = -exponent }
            }
            var value: Double
            let power = scale + exponent
            if significant <= 15, (-22...22).contains(power), !(hasExponent && position - start > 40) {
                value = Double(mantissa)
                if power < 0 { value /= Self.powersOfTen[-power] } else if power > 0 { value *= Self.powersOfTen[power] }
                if negative { value = -value }
            } else {
                guard let parsed = Self.parseDouble(UnsafeBufferPointer(rebasing: input[start..<position])) else {
                    throw failure("invalid number")
                }
                value = parsed
            }
            nodes.append(Node(kind: .number, hasEscapes: false, start: Int32(start), end: Int32(position), count: 0,
                              next: Int32(nodes.count + 1), number: value))
        }

        /// A number outside the exact fast path: the agent's figures have up to 17 significant
        /// digits (`249.99999999996362`), so this is most numbers of a record. `strtod` on a
        /// NUL-terminated copy on the stack is correctly rounded and allocates nothing (a `String`
        /// per number was most of the tape's allocations). Should the process's locale not use `.`
        /// as the decimal point, `strtod` stops early; then the locale-independent `Double(String)` decides.
        static func parseDouble(_ text: UnsafeBufferPointer<UInt8>) -> Double? {
            if text.count < 64 {
                let parsed = withUnsafeTemporaryAllocation(of: CChar.self, capacity: text.count + 1) { buffer -> Double? in
                    for index in 0..<text.count { buffer[index] = CChar(bitPattern: text[index]) }
                    buffer[text.count] = 0
                    var end: UnsafeMutablePointer<CChar>?
                    let value = strtod(buffer.baseAddress!, &end)
                    return end == buffer.baseAddress! + text.count ? value : nil
                }
                if let parsed { return parsed }
            }
            return Double(String(decoding: text, as: UTF8.self))
        }

        mutating func container(object: Bool, into nodes: inout [Node], depth: Int) throws(JSONSyntaxError) {
            guard depth < JSONTape.maximumDepth else { throw failure("nesting deeper than \(JSONTape.maximumDepth) levels") }
            let index = nodes.count
            let start = position
            nodes.append(Node(kind: object ? .object : .array, hasEscapes: false, start: Int32(start), end: 0, count: 0, next: 0, number: 0))
            let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
            position += 1
            skipWhitespace()
            var count: Int32 = 0
            if position < input.count, input[position] == close {
                position += 1
            } else {
                while true {
                    if object {
                        guard position < input.count, input[position] == UInt8(ascii: "\"") else { throw failure("expected a member name in quotes") }
                        try string(into: &nodes)
                        skipWhitespace()
                        guard position < input.count, input[position] == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
                        position += 1
                        skipWhitespace()
                    }
                    try value(into: &nodes, depth: depth + 1)
                    count += 1
                    skipWhitespace()
                    guard position < input.count else { throw failure("unexpected end of the document") }
                    if input[position] == UInt8(ascii: ",") {
                        position += 1
                        skipWhitespace()
                        continue
                    }
                    guard input[position] == close else { throw failure(object ? "expected ',' or '}'" : "expected ',' or ']'") }
                    position += 1
                    break
                }
            }
            nodes[index].end = Int32(position)
            nodes[index].count = count
            nodes[index].next = Int32(nodes.count)
        }
    }
}

/// The payload is not JSON; `offset` is the byte where parsing stopped.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let message: String
    public var description: String { "not JSON at byte \(offset): \(message)" }
}
