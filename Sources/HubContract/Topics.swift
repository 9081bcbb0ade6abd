/// Topic contract v1 (docs/mqtt.md): every topic the agent publishes, built in one place.
public struct Topics: Sendable, Equatable {
    public static let version = "v1"
    public let prefix: String
    public let hub: String

    public init(hub: String, prefix: String = "hubmeter/v1") {
        self.hub = hub
        self.prefix = prefix
    }

    /// Retained birth and last will: online or offline, version, configuration hash, start time.
    public var status: String { "\(prefix)/\(hub)/status" }
    /// Every cycle: the hub's real-time balance.
    public var balance: String { "\(prefix)/\(hub)/balance" }
    /// QoS 1, through the outbox: the 15-minute settlement record with sequence and hash chain.
    public var interval: String { "\(prefix)/\(hub)/interval" }

    /// Every cycle: the device's values with timestamps and quality.
    public func deviceState(_ device: String) -> String { "\(prefix)/\(hub)/device/\(device)/state" }
    /// Retained: online or offline with the reason.
    public func deviceAvailability(_ device: String) -> String { "\(prefix)/\(hub)/device/\(device)/availability" }
    /// Every cycle: one participant's real-time balance.
    public func participantBalance(_ participant: String) -> String { "\(prefix)/\(hub)/participant/\(participant)/balance" }
}
