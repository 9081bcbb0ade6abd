/// The latest power reading of every device, indexed by ``DeviceSlot``.
///
/// The agent keeps one instance and overwrites readings as they arrive; setting a reading does
/// not allocate. Powers follow the sign convention of ``DeviceKind``.
public struct BalanceReadings: Sendable {
    private(set) var readings: [Reading]
    private let slotByID: [DeviceID: Int]

    /// Creates a buffer with every reading ``Reading/missing``.
    public init(topology: HubTopology) {
        readings = Array(repeating: .missing, count: topology.deviceCount)
        slotByID = topology.deviceSlotByID
    }

    /// The reading of a device slot.
    public subscript(slot: DeviceSlot) -> Reading {
        get { readings[slot.index] }
        set { readings[slot.index] = newValue }
    }

    /// Stores the reading of a device by id. Returns `false` for an unknown device.
    @discardableResult
    public mutating func set(_ reading: Reading, for device: DeviceID) -> Bool {
        guard let slot = slotByID[device] else { return false }
        readings[slot] = reading
        return true
    }
}
