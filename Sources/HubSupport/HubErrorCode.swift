/// What every hubmeter error offers: a stable machine-readable code, and a message that says
/// what was expected and where. Codes are dotted and never reused (`config.unknown_key`, `modbus.timeout`).
public protocol HubError: Error, CustomStringConvertible, Sendable {
    /// Stable identifier of the kind of failure, for logs, metrics and tests.
    var code: String { get }
}
