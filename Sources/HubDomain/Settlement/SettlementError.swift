/// A settlement problem: a snapshot that cannot be restored or an invalid configuration.
public struct SettlementError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case unsupportedSnapshotSchema, snapshotHubMismatch, invalidConfiguration, invalidModel
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The snapshot was written by an incompatible version.
        public static let unsupportedSnapshotSchema = Code(.unsupportedSnapshotSchema)
        /// The snapshot belongs to another hub.
        public static let snapshotHubMismatch = Code(.snapshotHubMismatch)
        /// A configuration value is out of range.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The hub model is invalid (the context has the ``HubModelError``).
        public static let invalidModel = Code(.invalidModel)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var context: String
    public var fileID: String
    public var line: Int

    public init(_ code: Code, _ context: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.context = context
        self.fileID = fileID
        self.line = line
    }

    public var description: String { "SettlementError(\(code)): \(context) [\(fileID):\(line)]" }
}
