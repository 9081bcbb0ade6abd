/// The regular expressions of JSON Schema `pattern`, for the subset message schemas use:
/// literals, `.`, classes `[a-z0-9_-]` (negated too), `\d \w \s` and escaped punctuation,
/// groups with `|`, quantifiers `? * + {n} {n,} {n,m}`, anchors `^ $`. Anything else (lookaround,
/// back references, lazy quantifiers) is refused when the schema loads, never silently ignored.
///
/// Matching is a backtracking search over UTF-8 bytes (unanchored, like ECMA-262 `search`);
/// classes and `.` consume a whole code point. No allocation while matching.
public struct SchemaPattern: Sendable, CustomStringConvertible {
    public let description: String
    let alternatives: [[Item]]
    /// Every alternative starts with `^`: only position 0 can match.
    let anchored: Bool

    struct ByteSet: Sendable {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        /// Matches any code point not in the ASCII set (negated classes and `.`).
        var negated = false

        mutating func insert(_ byte: UInt8) {
            let bit = UInt64(1) << UInt64(byte & 63)
            switch byte >> 6 {
            case 0: words.0 |= bit
            case 1: words.1 |= bit
            case 2: words.2 |= bit
            default: words.3 |= bit
            }
        }

        @inline(__always)
        func containsASCII(_ byte: UInt8) -> Bool {
            let bit = UInt64(1) << UInt64(byte & 63)
            return (byte >> 6 == 0 ? words.0 : words.1) & bit != 0
        }
    }

    enum Atom: Sendable {
        case set(ByteSet)
        case start
        case end
        case group([[Item]])
    }

    struct Item: Sendable {
        var atom: Atom
        var min: Int
        var max: Int
    }

    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public let pattern: String
        public let problem: String
        public var description: String { "pattern \(pattern): \(problem)" }
    }

    public init(_ pattern: String) throws(SyntaxError) {
        description = pattern
        var parser = Parser(bytes: Array(pattern.utf8), pattern: pattern)
        alternatives = try parser.alternation()
        guard parser.position == parser.bytes.count else { throw parser.failure("unbalanced ')'") }
        anchored = alternatives.allSatisfy { items in
            if case .start = items.first?.atom { return true }
            return false
        }
    }

    /// Whether the pattern occurs anywhere in `text` (UTF-8 bytes).
    public func matches(_ text: ArraySlice<UInt8>) -> Bool {
        text.withUnsafeBufferPointer { matches($0) }
    }

    public func matches(_ input: UnsafeBufferPointer<UInt8>) -> Bool {
        var start = 0
        while start <= input.count {
            for items in alternatives where Self.match(items, 0, start, input, { _ in true }) { return true }
            guard start < input.count, !anchored else { break }
            start += Self.scalarLength(input, start)
        }
        return false
    }

    @inline(__always)
    static func scalarLength(_ input: UnsafeBufferPointer<UInt8>, _ position: Int) -> Int {
        let lead = input[position]
        let length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        return min(length, input.count - position)
    }

    /// One step of a set: the length consumed, or 0 when it does not match here.
    @inline(__always)
    static func step(_ set: ByteSet, _ input: UnsafeBufferPointer<UInt8>, _ position: Int) -> Int {
        guard position < input.count else { return 0 }
        let byte = input[position]
        if byte < 0x80 { return set.containsASCII(byte) != set.negated ? 1 : 0 }
        return set.negated ? scalarLength(input, position) : 0
    }

    static func match(_ items: [Item], _ index: Int, _ position: Int, _ input: UnsafeBufferPointer<UInt8>,
                      _ then: (Int) -> Bool) -> Bool {
        guard index < items.count else { return then(position) }
        let item = items[index]
        switch item.atom {
        case .start:
            return position == 0 && match(items, index + 1, position, input, then)
        case .end:
            return position == input.count && match(items, index + 1, position, input, then)
        case .set(let set):
            // Greedy: take as many as allowed, then give back one at a time. Steps are one byte
            // except for non-ASCII code points (negated classes, `.`), whose ends are then kept.
            var taken = 0
            var current = position
            var ends: [Int] = []
            var multiByte = false
            while taken < item.max {
                let length = step(set, input, current)
                if length == 0 { break }
                if length > 1 && !multiByte {
                    multiByte = true
                    ends = Array(position...position + taken)
                }
                current += length
                taken += 1
                if multiByte { ends.append(current) }
            }
            var count = taken
            while count >= item.min {
                if match(items, index + 1, multiByte ? ends[count] : position + count, input, then) { return true }
                count -= 1
            }
            return false
        case .group(let alternatives):
            func repeatGroup(_ count: Int, _ at: Int) -> Bool {
                if count < item.max {
                    for branch in alternatives where match(branch, 0, at, input, { next in
                        // A repetition that consumed nothing cannot repeat usefully.
                        next != at && repeatGroup(count + 1, next)
                    }) { return true }
                }
                return count >= item.min && match(items, index + 1, at, input, then)
            }
            return repeatGroup(0, position)
        }
    }

    struct Parser {
        let bytes: [UInt8]
        let pattern: String
        var position = 0

        init(bytes: [UInt8], pattern: String) {
            self.bytes = bytes
            self.pattern = pattern
        }

        func failure(_ problem: String) -> SyntaxError { SyntaxError(pattern: pattern, problem: problem + " at offset \(position)") }

        mutating func alternation() throws(SyntaxError) -> [[Item]] {
            var branches: [[Item]] = [try sequence()]
            while position < bytes.count, bytes[position] == UInt8(ascii: "|") {
                position += 1
                branches.append(try sequence())
            }
            return branches
        }

        mutating func sequence() throws(SyntaxError) -> [Item] {
            var items: [Item] = []
            while position < bytes.count, bytes[position] != UInt8(ascii: "|"), bytes[position] != UInt8(ascii: ")") {
                let atom = try atom()
                var item = Item(atom: atom, min: 1, max: 1)
                if position < bytes.count {
                    switch bytes[position] {
                    case UInt8(ascii: "?"): (item.min, item.max) = (0, 1); position += 1
                    case UInt8(ascii: "*"): (item.min, item.max) = (0, Int.max); position += 1
                    case UInt8(ascii: "+"): (item.min, item.max) = (1, Int.max); position += 1
                    case UInt8(ascii: "{"): (item.min, item.max) = try bounds()
                    default: break
                    }
                    if position < bytes.count, bytes[position] == UInt8(ascii: "?") || bytes[position] == UInt8(ascii: "+") {
                        throw failure("lazy or possessive quantifiers are not supported")
                    }
                }
                if case .start = atom, item.max != 1 { throw failure("quantified anchor") }
                items.append(item)
            }
            return items
        }

        mutating func number() -> Int? {
            var value: Int?
            while position < bytes.count, (48...57).contains(bytes[position]) {
                value = (value ?? 0) * 10 + Int(bytes[position] - 48)
                position += 1
            }
            return value
        }

        mutating func bounds() throws(SyntaxError) -> (Int, Int) {
            position += 1
            guard let low = number() else { throw failure("expected a number after '{'") }
            var high = low
            if position < bytes.count, bytes[position] == UInt8(ascii: ",") {
                position += 1
                high = number() ?? Int.max
            }
            guard position < bytes.count, bytes[position] == UInt8(ascii: "}"), low <= high else { throw failure("invalid {n,m} quantifier") }
            position += 1
            return (low, high)
        }

        mutating func atom() throws(SyntaxError) -> Atom {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "^"): return .start
            case UInt8(ascii: "$"): return .end
            case UInt8(ascii: "."):
                var set = ByteSet(negated: true)
                set.insert(0x0A)
                set.insert(0x0D)
                return .set(set)
            case UInt8(ascii: "("):
                if position < bytes.count, bytes[position] == UInt8(ascii: "?") {
                    guard position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: ":") else {
                        throw failure("lookaround and named groups are not supported")
                    }
                    position += 2
                }
                let branches = try alternation()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ")") else { throw failure("unbalanced '('") }
                position += 1
                return .group(branches)
            case UInt8(ascii: "["): return .set(try characterClass())
            case UInt8(ascii: "\\"): return .set(try escape(inClass: false))
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"):
                throw failure("nothing to repeat")
            default:
                guard byte < 0x80 else { throw failure("non-ASCII characters in patterns are not supported") }
                var set = ByteSet()
                set.insert(byte)
                return .set(set)
            }
        }

        mutating func escape(inClass: Bool) throws(SyntaxError) -> ByteSet {
            guard position < bytes.count else { throw failure("trailing backslash") }
            let byte = bytes[position]
            position += 1
            var set = ByteSet()
            switch byte {
            case UInt8(ascii: "d"): for digit in UInt8(ascii: "0")...UInt8(ascii: "9") { set.insert(digit) }
            case UInt8(ascii: "w"):
                for range in [UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9")] {
                    for letter in range { set.insert(letter) }
                }
                set.insert(UInt8(ascii: "_"))
            case UInt8(ascii: "s"): for space: UInt8 in [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D] { set.insert(space) }
            case UInt8(ascii: "n"): set.insert(0x0A)
            case UInt8(ascii: "t"): set.insert(0x09)
            default:
                // Escaped punctuation stands for itself; letters and digits would be other escapes.
                guard byte < 0x80, !(48...57).contains(byte), !(65...90).contains(byte), !(97...122).contains(byte) else {
                    throw failure("the escape \\\(String(UnicodeScalar(byte))) is not supported")
                }
                set.insert(byte)
            }
            return set
        }

        mutating func characterClass() throws(SyntaxError) -> ByteSet {
            var set = ByteSet()
            if position < bytes.count, bytes[position] == UInt8(ascii: "^") {
                set.negated = true
                position += 1
            }
            var first = true
            while true {
                guard position < bytes.count else { throw failure("unterminated character class") }
                let low = bytes[position]
                if low == UInt8(ascii: "]") && !first {
                    position += 1
                    return set
                }
                first = false
                position += 1
                if low == UInt8(ascii: "\\") {
                    let escaped = try escape(inClass: true)
                    set.words.0 |= escaped.words.0
                    set.words.1 |= escaped.words.1
                    continue
                }
                guard low < 0x80 else { throw failure("non-ASCII characters in patterns are not supported") }
                if position + 1 < bytes.count, bytes[position] == UInt8(ascii: "-"), bytes[position + 1] != UInt8(ascii: "]") {
                    var high = bytes[position + 1]
                    position += 2
                    if high == UInt8(ascii: "\\") {
                        guard position < bytes.count else { throw failure("trailing backslash") }
                        high = bytes[position]
                        position += 1
                    }
                    guard high < 0x80, low <= high else { throw failure("invalid range in a character class") }
                    for byte in low...high { set.insert(byte) }
                    continue
                }
                set.insert(low)
            }
        }
    }
}
