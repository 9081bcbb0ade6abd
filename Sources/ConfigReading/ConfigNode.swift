import HubSupport
import Yams

/// One node of a configuration document, with its key path, for typed reading.
///
/// Every accessor throws a `ConfigError` that names the file, key path and line, and says
/// what was expected, so an installer can fix the file without reading code.
public struct ConfigNode {
    public let node: Node
    public let path: ConfigPath
    public let file: String

    public init(node: Node, path: ConfigPath, file: String) {
        self.node = node
        self.path = path
        self.file = file
    }

    public var line: Int? { node.mark?.line }
    public var column: Int? { node.mark?.column }

    public func error(_ kind: ConfigError.Code, _ problem: String) -> ConfigError {
        ConfigError(kind, file: file, keyPath: path.description, line: line, column: column, problem: problem)
    }

    /// The node's value as the user wrote it, for messages.
    var shownValue: String {
        switch node {
        case .scalar(let scalar): scalar.string.isEmpty ? "an empty value" : "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    var isNull: Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    // MARK: Structure

    /// Reads a mapping whose keys must all be in `keys`; any other key is an error (typos must not pass).
    public func mapping(keys allowed: [String]) throws(ConfigError) -> ConfigMapping {
        guard case .mapping(let mapping) = node else {
            throw error(.wrongType, "expected a mapping with keys \(allowed.joined(separator: ", ")), found \(shownValue)")
        }
        var entries: [(key: String, node: ConfigNode)] = []
        var seen: Set<String> = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigError(.wrongType, file: file, keyPath: path.description, line: keyNode.mark?.line,
                                  column: keyNode.mark?.column, problem: "keys must be plain text")
            }
            let key = keyScalar.string
            let childPath = path.appending(key: key)
            guard allowed.contains(key) else {
                let hint = Self.closest(to: key, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                throw ConfigError(.unknownKey, file: file, keyPath: childPath.description, line: keyNode.mark?.line,
                                  column: keyNode.mark?.column,
                                  problem: "unknown key\(hint); expected one of: \(allowed.joined(separator: ", "))")
            }
            guard seen.insert(key).inserted else {
                throw ConfigError(.duplicateKey, file: file, keyPath: childPath.description, line: keyNode.mark?.line,
                                  column: keyNode.mark?.column, problem: "key appears more than once")
            }
            entries.append((key, ConfigNode(node: valueNode, path: childPath, file: file)))
        }
        return ConfigMapping(owner: self, entries: entries)
    }

    /// Reads a mapping with arbitrary keys (for example ownership shares by participant id).
    public func dictionary() throws(ConfigError) -> [(key: String, node: ConfigNode)] {
        guard case .mapping(let mapping) = node else {
            throw error(.wrongType, "expected a mapping, found \(shownValue)")
        }
        var result: [(key: String, node: ConfigNode)] = []
        var seen: Set<String> = []
        for (keyNode, valueNode) in mapping {
            let key = keyNode.scalar?.string ?? ""
            let childPath = path.appending(key: key)
            guard seen.insert(key).inserted else {
                throw ConfigError(.duplicateKey, file: file, keyPath: childPath.description, line: keyNode.mark?.line,
                                  column: keyNode.mark?.column, problem: "key appears more than once")
            }
            result.append((key, ConfigNode(node: valueNode, path: childPath, file: file)))
        }
        return result
    }

    public func sequence() throws(ConfigError) -> [ConfigNode] {
        guard case .sequence(let sequence) = node else {
            throw error(.wrongType, "expected a list, found \(shownValue)")
        }
        return sequence.enumerated().map { index, child in
            ConfigNode(node: child, path: path.appending(index: index), file: file)
        }
    }

    // MARK: Scalars

    private func scalarText(expecting what: String) throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else {
            throw error(.wrongType, "expected \(what), found \(shownValue)")
        }
        return scalar.string
    }

    public func string(nonEmpty: Bool = true) throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node, !isNull || scalar.style != .plain || !nonEmpty else {
            throw error(.wrongType, "expected text, found \(shownValue)")
        }
        if nonEmpty && scalar.string.isEmpty {
            throw error(.invalidValue, "expected non-empty text")
        }
        return scalar.string
    }

    /// An identifier used in topics and references: `[a-z0-9][a-z0-9_-]*`, at most 64 characters.
    public func identifier() throws(ConfigError) -> String {
        let text = try scalarText(expecting: "an identifier")
        let valid = !text.isEmpty && text.utf8.count <= 64 && text.utf8.enumerated().allSatisfy { index, byte in
            let lowercaseOrDigit = (97...122).contains(byte) || (48...57).contains(byte)
            return lowercaseOrDigit || (index > 0 && (byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")))
        }
        guard valid else {
            throw error(.invalidValue, "'\(text)' is not a valid identifier; expected lowercase letters, digits, '-' and '_' (starting with a letter or digit, at most 64 characters)")
        }
        return text
    }

    public func int(in range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        let text = try scalarText(expecting: "a whole number")
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        let value: Int?
        if cleaned.hasPrefix("0x") || cleaned.hasPrefix("0X") {
            value = Int(cleaned.dropFirst(2), radix: 16)
        } else {
            value = Int(cleaned)
        }
        guard let value else {
            throw error(.wrongType, "expected a whole number, found \(shownValue)")
        }
        if let range, !range.contains(value) {
            throw error(.outOfRange, "\(value) is out of range \(range.lowerBound)–\(range.upperBound)")
        }
        return value
    }

    public func double(in range: ClosedRange<Double>? = nil) throws(ConfigError) -> Double {
        let text = try scalarText(expecting: "a number")
        guard let value = Double(text.replacingOccurrences(of: "_", with: "")), value.isFinite else {
            throw error(.wrongType, "expected a number, found \(shownValue)")
        }
        if let range, !range.contains(value) {
            throw error(.outOfRange, "\(Self.format(value)) is out of range \(Self.format(range.lowerBound))–\(Self.format(range.upperBound))")
        }
        return value
    }

    public func bool() throws(ConfigError) -> Bool {
        let text = try scalarText(expecting: "true or false")
        switch text {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default: throw error(.wrongType, "expected true or false, found \(shownValue)")
        }
    }

    /// One of a fixed set of words, for example `parity: even`.
    public func choice<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type) throws(ConfigError) -> Choice
    where Choice.RawValue == String {
        let text = try scalarText(expecting: "one of " + Choice.allCases.map(\.rawValue).joined(separator: ", "))
        guard let value = Choice(rawValue: text) else {
            let options = Choice.allCases.map(\.rawValue)
            let hint = Self.closest(to: text, in: options).map { " (did you mean '\($0)'?)" } ?? ""
            throw error(.invalidValue, "'\(text)' is not valid\(hint); expected one of: \(options.joined(separator: ", "))")
        }
        return value
    }

    /// A duration written with a unit: `250ms`, `5s`, `15m`, `2h`, `30d`.
    public func duration(in range: ClosedRange<Duration>? = nil) throws(ConfigError) -> Duration {
        let text = try scalarText(expecting: "a duration such as 500ms, 5s, 15m, 2h or 30d")
        let units: [(suffix: String, milliseconds: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        var result: Duration?
        for unit in units where text.hasSuffix(unit.suffix) {
            if let number = Double(text.dropLast(unit.suffix.count)), number.isFinite, number >= 0 {
                result = .milliseconds(Int64((number * unit.milliseconds).rounded()))
                break
            }
        }
        guard let result else {
            throw error(.wrongType, "expected a duration such as 500ms, 5s, 15m, 2h or 30d, found \(shownValue)")
        }
        if let range, !range.contains(result) {
            throw error(.outOfRange, "\(text) is out of range \(Self.format(range.lowerBound))–\(Self.format(range.upperBound))")
        }
        return result
    }

    /// A size in bytes written with a unit: `512KiB`, `64MiB`, `1GiB`, or a plain number of bytes.
    public func byteCount(in range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        let text = try scalarText(expecting: "a size such as 64MiB")
        let units: [(suffix: String, factor: Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("B", 1), ("", 1)]
        var result: Int?
        for unit in units where text.hasSuffix(unit.suffix) {
            if let number = Int(text.dropLast(unit.suffix.count)), number >= 0 {
                result = number * unit.factor
                break
            }
        }
        guard let result else {
            throw error(.wrongType, "expected a size such as 512KiB, 64MiB or 1GiB, found \(shownValue)")
        }
        if let range, !range.contains(result) {
            throw error(.outOfRange, "\(text) is out of range \(range.lowerBound)–\(range.upperBound) bytes")
        }
        return result
    }

    /// A UTC instant written as ISO 8601 with an offset, for example `2026-01-01T00:00:00Z`.
    public func timestamp() throws(ConfigError) -> UTCTimestamp {
        let text = try scalarText(expecting: "a date and time such as 2026-01-01T00:00:00Z")
        guard let value = UTCTimestamp.parse(iso8601: text) else {
            throw error(.invalidValue, "'\(text)' is not a date and time; expected ISO 8601 with an offset, such as 2026-01-01T00:00:00Z")
        }
        return value
    }

    // MARK: Helpers

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 86_400_000 == 0 && milliseconds >= 86_400_000 { return "\(milliseconds / 86_400_000)d" }
        if milliseconds % 3_600_000 == 0 && milliseconds >= 3_600_000 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0 && milliseconds >= 60_000 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 && milliseconds >= 1000 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }

    /// The allowed word nearest to a typo, when it is close enough to be a plausible intent.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, word.count / 3) ? best.0 : nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// The entries of a mapping read with `ConfigNode.mapping(keys:)`.
public struct ConfigMapping {
    public let owner: ConfigNode
    public let entries: [(key: String, node: ConfigNode)]

    public func optional(_ key: String) -> ConfigNode? {
        guard let node = entries.first(where: { $0.key == key })?.node, !node.isNull else { return nil }
        return node
    }

    public func required(_ key: String, expecting what: String) throws(ConfigError) -> ConfigNode {
        guard let node = entries.first(where: { $0.key == key })?.node else {
            throw ConfigError(.missingKey, file: owner.file, keyPath: owner.path.appending(key: key).description,
                              line: owner.line, column: owner.column, problem: "missing; expected \(what)")
        }
        if node.isNull {
            throw node.error(.missingKey, "has no value; expected \(what)")
        }
        return node
    }

    public func contains(_ key: String) -> Bool { optional(key) != nil }

    /// Reads an optional key with a reader, or returns the default.
    public func value<Value>(_ key: String, default defaultValue: Value, _ read: (ConfigNode) throws(ConfigError) -> Value) throws(ConfigError) -> Value {
        guard let node = optional(key) else { return defaultValue }
        return try read(node)
    }

    public func value<Value>(_ key: String, expecting what: String, _ read: (ConfigNode) throws(ConfigError) -> Value) throws(ConfigError) -> Value {
        try read(required(key, expecting: what))
    }
}
