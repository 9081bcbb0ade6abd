/// Position of a participant in the compiled topology (participants sorted by id).
public struct ParticipantSlot: Sendable, Hashable, Comparable, Codable {
    public var index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.index < rhs.index }
}

/// Position of a device in the compiled topology; indexes ``BalanceReadings``.
public struct DeviceSlot: Sendable, Hashable, Comparable, Codable {
    public var index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.index < rhs.index }
}

/// Who a device belongs to.
public enum DeviceOwner: Sendable, Hashable {
    case participant(ParticipantSlot)
    case sharedAsset(index: Int)
}

/// A validated ``HubModel`` compiled into flat arrays indexed by slot.
///
/// Participants are ordered by id and shared assets by id, so records are deterministic.
/// Device lists use a compressed layout (start offsets plus one flat list), so the real-time
/// path iterates over them without allocating.
public struct HubTopology: Sendable {
    /// The model this topology was compiled from.
    public let model: HubModel
    /// Participant ids by slot.
    public let participantIDs: [ParticipantID]
    /// Memberships by participant slot.
    public let memberships: [Membership]
    /// Shared assets, sorted by id.
    public let sharedAssets: [SharedAsset]
    /// Devices by device slot.
    public let devices: [Device]
    /// Owner of each device slot.
    public let deviceOwners: [DeviceOwner]

    let participantSlotByID: [ParticipantID: Int]
    let deviceSlotByID: [DeviceID: Int]
    let gridDevice: [Int]
    let pvStart: [Int]
    let pvDevices: [Int]
    let batteryStart: [Int]
    let batteryDevices: [Int]
    let assetDevice: [Int]
    /// For each shared asset: (participant slot, share).
    let assetOwners: [[(slot: Int, share: Double)]]

    /// Validates `model` and compiles it.
    public init(model: HubModel) throws(HubModelError) {
        try model.validate()
        self.model = model
        let participants = model.participants.sorted { $0.id < $1.id }
        let assets = model.sharedAssets.sorted { $0.id < $1.id }
        participantIDs = participants.map(\.id)
        memberships = participants.map(\.membership)
        sharedAssets = assets
        var slotByID: [ParticipantID: Int] = [:]
        for (slot, participant) in participants.enumerated() { slotByID[participant.id] = slot }
        participantSlotByID = slotByID

        var devices: [Device] = []
        var owners: [DeviceOwner] = []
        var grid: [Int] = []
        var pvStart = [0]
        var pvDevices: [Int] = []
        var batteryStart = [0]
        var batteryDevices: [Int] = []
        for (slot, participant) in participants.enumerated() {
            let ordered = participant.devices.sorted { $0.id < $1.id }
            for device in ordered {
                let deviceSlot = devices.count
                devices.append(device)
                owners.append(.participant(ParticipantSlot(slot)))
                switch device.kind {
                case .gridMeter: grid.append(deviceSlot)
                case .pvInverter: pvDevices.append(deviceSlot)
                case .battery: batteryDevices.append(deviceSlot)
                case .subMeter: break
                }
            }
            pvStart.append(pvDevices.count)
            batteryStart.append(batteryDevices.count)
        }
        var assetDevice: [Int] = []
        for (index, asset) in assets.enumerated() {
            assetDevice.append(devices.count)
            devices.append(asset.device)
            owners.append(.sharedAsset(index: index))
        }
        var deviceSlotByID: [DeviceID: Int] = [:]
        for (slot, device) in devices.enumerated() { deviceSlotByID[device.id] = slot }
        self.devices = devices
        self.deviceOwners = owners
        self.deviceSlotByID = deviceSlotByID
        self.gridDevice = grid
        self.pvStart = pvStart
        self.pvDevices = pvDevices
        self.batteryStart = batteryStart
        self.batteryDevices = batteryDevices
        self.assetDevice = assetDevice
        self.assetOwners = assets.map { asset in
            asset.ownership.compactMap { share in slotByID[share.participant].map { (slot: $0, share: share.share) } }
        }
    }

    /// Number of participants (members or not).
    public var participantCount: Int { participantIDs.count }
    /// Number of devices, participants' and shared assets'.
    public var deviceCount: Int { devices.count }

    /// The slot of a participant.
    public func slot(of participant: ParticipantID) -> ParticipantSlot? {
        participantSlotByID[participant].map(ParticipantSlot.init)
    }

    /// The slot of a device.
    public func slot(of device: DeviceID) -> DeviceSlot? {
        deviceSlotByID[device].map(DeviceSlot.init)
    }

    /// The grid meter slot of a participant.
    public func gridMeterSlot(of participant: ParticipantSlot) -> DeviceSlot {
        DeviceSlot(gridDevice[participant.index])
    }
}
