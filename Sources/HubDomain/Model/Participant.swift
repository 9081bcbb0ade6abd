/// A company in the hub: one grid connection meter, and any PV, batteries and sub-meters.
public struct Participant: Sendable, Hashable, Codable {
    /// Unique id within the hub.
    public var id: ParticipantID
    /// Human-readable name, for reports only.
    public var displayName: String
    /// When the participant belongs to the hub.
    public var membership: Membership
    /// Its devices; exactly one must be a ``DeviceKind/gridMeter``.
    public var devices: [Device]

    public init(id: ParticipantID, displayName: String? = nil, membership: Membership = .always, devices: [Device]) {
        self.id = id
        self.displayName = displayName ?? id.rawValue
        self.membership = membership
        self.devices = devices
    }

    /// The grid connection meter, if the model has one.
    public var gridMeter: Device? { devices.first { $0.kind == .gridMeter } }
}
