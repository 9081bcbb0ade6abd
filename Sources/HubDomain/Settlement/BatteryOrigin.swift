/// The tracked content of a battery (or of all batteries of one site), split by origin.
///
/// "Local" energy came from PV in the hub (own or via the pool); "grid" energy came from the
/// public grid. Charging adds to each part; discharging removes from both in proportion to the
/// content at the start of the interval (proportional mixing, not FIFO).
public struct BatteryOriginState: Sendable, Hashable, Codable {
    public var localWh: Double
    public var gridWh: Double

    public init(localWh: Double = 0, gridWh: Double = 0) {
        self.localWh = localWh
        self.gridWh = gridWh
    }

    /// Total tracked content.
    public var storedWh: Double { localWh + gridWh }
}

/// What happened to one battery's origin content in one interval.
public struct BatteryOriginFlows: Sendable, Hashable, Codable {
    public var chargedLocalWh: Double
    public var chargedGridWh: Double
    public var dischargedLocalWh: Double
    /// Discharged energy of grid origin, including ``unknownOriginWh``.
    public var dischargedGridWh: Double
    /// Discharge beyond the tracked content at the start of the interval (cold start, metering
    /// drift). Its origin is unknown and it is counted as grid energy, so the local share is
    /// never overstated.
    public var unknownOriginWh: Double
    /// Content at the end of the interval.
    public var end: BatteryOriginState

    public init(
        chargedLocalWh: Double, chargedGridWh: Double, dischargedLocalWh: Double, dischargedGridWh: Double,
        unknownOriginWh: Double, end: BatteryOriginState
    ) {
        self.chargedLocalWh = chargedLocalWh
        self.chargedGridWh = chargedGridWh
        self.dischargedLocalWh = dischargedLocalWh
        self.dischargedGridWh = dischargedGridWh
        self.unknownOriginWh = unknownOriginWh
        self.end = end
    }

    /// Local fraction of the discharged energy.
    public var dischargedLocalFraction: Double {
        let total = dischargedLocalWh + dischargedGridWh
        return total > 0 ? dischargedLocalWh / total : 0
    }
}

/// The origin content of every battery in the hub: per participant (all of its batteries
/// together) and per shared battery. Part of the ledger snapshot.
public struct BatteryOriginBook: Sendable, Hashable, Codable {
    public var participants: [ParticipantID: BatteryOriginState]
    public var sharedAssets: [AssetID: BatteryOriginState]

    public init(participants: [ParticipantID: BatteryOriginState] = [:], sharedAssets: [AssetID: BatteryOriginState] = [:]) {
        self.participants = participants
        self.sharedAssets = sharedAssets
    }

    /// Local fraction used for the discharge of a battery with content `state` at the start
    /// of an interval, and the part of `dischargeWh` that the content explains.
    static func discharge(_ state: BatteryOriginState, dischargeWh: Double) -> (local: Double, grid: Double, unknown: Double) {
        let stored = state.storedWh
        let explained = min(dischargeWh, max(0, stored))
        let localFraction = stored > 1e-9 ? state.localWh / stored : 0
        let local = explained * localFraction
        return (local, explained - local, dischargeWh - explained)
    }

    /// Applies one interval to a battery: discharge at the start-of-interval mix, then the charge.
    static func apply(
        _ state: BatteryOriginState, chargedLocalWh: Double, chargedGridWh: Double, dischargeWh: Double,
        capacityWh: Double?
    ) -> BatteryOriginFlows {
        let (local, grid, unknown) = discharge(state, dischargeWh: dischargeWh)
        var end = BatteryOriginState(
            localWh: max(0, state.localWh - local + chargedLocalWh),
            gridWh: max(0, state.gridWh - grid + chargedGridWh))
        if let capacity = capacityWh, end.storedWh > capacity, end.storedWh > 0 {
            // Conversion losses and drift leave the battery in proportion to its content.
            let scale = capacity / end.storedWh
            end = BatteryOriginState(localWh: end.localWh * scale, gridWh: end.gridWh * scale)
        }
        return BatteryOriginFlows(
            chargedLocalWh: chargedLocalWh, chargedGridWh: chargedGridWh, dischargedLocalWh: local,
            dischargedGridWh: grid + unknown, unknownOriginWh: unknown, end: end)
    }
}
