import HubSupport

/// A problem in a configuration or profile file, pointing at the file, the key path and the line.
///
/// Rendered as `agent.yaml:14:17: hub.participants[2].devices[0].unit_id: 300 is out of range 1–247`.
public struct ConfigError: HubError, Equatable {
    /// The kind of problem. New codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }

        public static let unreadableFile = Code("unreadable_file")
        public static let syntax = Code("syntax")
        public static let emptyDocument = Code("empty_document")
        public static let unknownKey = Code("unknown_key")
        public static let duplicateKey = Code("duplicate_key")
        public static let missingKey = Code("missing_key")
        public static let wrongType = Code("wrong_type")
        public static let outOfRange = Code("out_of_range")
        public static let invalidValue = Code("invalid_value")
        public static let duplicateIdentifier = Code("duplicate_identifier")
        public static let unknownReference = Code("unknown_reference")
        public static let inconsistent = Code("inconsistent")
        public static let secretUnavailable = Code("secret_unavailable")

        public var description: String { name }
    }

    public let kind: Code
    public let file: String
    /// Dotted key path with sequence indices, empty for the document root.
    public let keyPath: String
    public let line: Int?
    public let column: Int?
    /// What is wrong and what was expected; never contains secret values.
    public let problem: String

    public init(_ kind: Code, file: String, keyPath: String, line: Int?, column: Int?, problem: String) {
        self.kind = kind
        self.file = file
        self.keyPath = keyPath
        self.line = line
        self.column = column
        self.problem = problem
    }

    public var code: String { "config.\(kind.name)" }

    /// The message without the file position, as asserted in tests and shown after the position.
    public var message: String {
        keyPath.isEmpty ? problem : "\(keyPath): \(problem)"
    }

    public var description: String {
        var position = file
        if let line {
            position += ":\(line)"
            if let column { position += ":\(column)" }
        }
        return "\(position): \(message)"
    }
}
