/// A share of a shared asset held by one participant.
public struct OwnershipShare: Sendable, Hashable, Codable {
    public var participant: ParticipantID
    /// Fraction in `0...1`; the shares of one asset sum to 1.
    public var share: Double

    public init(participant: ParticipantID, share: Double) {
        self.participant = participant
        self.share = share
    }
}

/// An asset owned by the collective: a collective PV field or a hub battery.
///
/// A shared asset is connected to the hub's internal grid directly (it has no load of its own).
/// Its production and discharge go into the pool and are shared by the allocation key; the
/// ownership shares attribute its residual export and its stored energy to the owners
/// (docs/energy-model.md, "Shared assets").
public struct SharedAsset: Sendable, Hashable, Codable {
    public var id: AssetID
    /// The device; its kind must be ``DeviceKind/pvInverter`` or ``DeviceKind/battery``.
    public var device: Device
    /// Owners and their shares; shares are in `0...1` and sum to 1.
    public var ownership: [OwnershipShare]

    public init(id: AssetID, device: Device, ownership: [OwnershipShare]) {
        self.id = id
        self.device = device
        self.ownership = ownership
    }
}
