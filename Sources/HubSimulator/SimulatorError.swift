import HubSupport

/// Why the simulator cannot start: a missing model or profile, a port that cannot be bound.
public struct SimulatorError: HubError, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public static let missingModel = Code("missing_model")
        public static let missingProfile = Code("missing_profile")
        public static let cannotServe = Code("cannot_serve")
        public var description: String { name }
    }

    public let kind: Code
    public let detail: String

    public init(_ kind: Code, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var code: String { "simulator.\(kind.name)" }
    public var description: String { detail }
}
