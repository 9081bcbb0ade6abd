/// The static description of a hub: participants, shared assets and the allocation key.
///
/// Build one from configuration, then call ``validate()`` (the balancer and the ledger do so
/// themselves). Participants that join later are added with a ``Membership`` that starts in
/// the future, or the model is replaced (see ``SettlementLedger``).
public struct HubModel: Sendable, Hashable, Codable {
    public var hubID: HubID
    public var participants: [Participant]
    public var sharedAssets: [SharedAsset]
    /// The allocation key used for the real-time allocation and the settlement records.
    public var allocationKey: AllocationKey

    public init(
        hubID: HubID,
        participants: [Participant],
        sharedAssets: [SharedAsset] = [],
        allocationKey: AllocationKey = .proRataConsumption
    ) {
        self.hubID = hubID
        self.participants = participants
        self.sharedAssets = sharedAssets
        self.allocationKey = allocationKey
    }

    /// Tolerance for sums of shares (ownership = 1, static shares ≤ 1).
    public static let shareTolerance = 1e-9

    /// Checks the model and throws the first problem found.
    public func validate() throws(HubModelError) {
        guard !hubID.rawValue.isEmpty else { throw HubModelError(.emptyHubID, "hub id is empty") }
        var participantIDs = Set<ParticipantID>()
        var deviceIDs = Set<DeviceID>()
        for participant in participants {
            guard participantIDs.insert(participant.id).inserted else {
                throw HubModelError(.duplicateParticipantID, "participant \(participant.id)")
            }
            let meters = participant.devices.filter { $0.kind == .gridMeter }.count
            if meters == 0 { throw HubModelError(.missingGridMeter, "participant \(participant.id)") }
            if meters > 1 {
                throw HubModelError(.multipleGridMeters, "participant \(participant.id) has \(meters) grid meters")
            }
            if let left = participant.membership.leftAt, left < participant.membership.joinedAt {
                throw HubModelError(.invalidMembership, "participant \(participant.id) leaves before it joins")
            }
            for device in participant.devices {
                try Self.check(device, owner: "participant \(participant.id)", ids: &deviceIDs)
            }
        }
        var assetIDs = Set<AssetID>()
        for asset in sharedAssets {
            guard assetIDs.insert(asset.id).inserted else {
                throw HubModelError(.duplicateAssetID, "shared asset \(asset.id)")
            }
            guard asset.device.kind == .pvInverter || asset.device.kind == .battery else {
                throw HubModelError(
                    .invalidSharedAssetKind, "shared asset \(asset.id) has device kind \(asset.device.kind.rawValue)")
            }
            try Self.check(asset.device, owner: "shared asset \(asset.id)", ids: &deviceIDs)
            var sum = 0.0
            var owners = Set<ParticipantID>()
            for share in asset.ownership {
                guard participantIDs.contains(share.participant) else {
                    throw HubModelError(.unknownParticipant, "owner \(share.participant) of shared asset \(asset.id)")
                }
                guard share.share.isFinite, share.share >= 0, share.share <= 1, owners.insert(share.participant).inserted
                else {
                    throw HubModelError(
                        .invalidOwnershipShare, "owner \(share.participant) of \(asset.id): share \(share.share)")
                }
                sum += share.share
            }
            guard abs(sum - 1) <= Self.shareTolerance else {
                throw HubModelError(.ownershipSharesNotOne, "shared asset \(asset.id): shares sum to \(sum)")
            }
        }
        try allocationKey.validate(participants: participantIDs)
    }

    private static func check(_ device: Device, owner: String, ids: inout Set<DeviceID>) throws(HubModelError) {
        guard ids.insert(device.id).inserted else {
            throw HubModelError(.duplicateDeviceID, "device \(device.id) of \(owner)")
        }
        for (name, value) in [
            ("counterModulusWh", device.counterModulusWh), ("maxPlausiblePowerW", device.maxPlausiblePowerW),
            ("usableCapacityWh", device.usableCapacityWh),
        ] {
            if let value, !(value.isFinite && value > 0) {
                throw HubModelError(.invalidDeviceParameter, "device \(device.id) of \(owner): \(name) = \(value)")
            }
        }
    }
}
