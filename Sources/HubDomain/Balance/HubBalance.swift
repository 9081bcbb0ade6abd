/// The hub's instantaneous balance, in watts.
public struct HubBalance: Sendable, Hashable {
    /// The time of the cycle.
    public var at: UTCMilliseconds
    /// Version of the allocation key used.
    public var keyVersion: String
    /// Members at this time.
    public var memberCount: Int
    /// Members with at least one figure missing or stale.
    public var incompleteParticipantCount: Int
    /// The hub's net exchange with the public grid, + = import:
    /// `Σ gridW_i − Σ collective PV − Σ collective battery` (collective assets feed the hub directly).
    public var netGridW: Figure
    /// Pool: `Σ exportW_i + collective PV + collective battery discharge`.
    public var poolW: Figure
    /// `Σ allocationW_i`.
    public var allocatedW: Figure
    /// Collective battery charging covered by the pool after participants are served.
    public var collectiveChargeFromPoolW: Figure
    /// Pool left after allocation and collective charging: exported to the public grid.
    public var exportedSurplusW: Figure
    /// `Σ consumptionW_i` over members.
    public var consumptionW: Figure
    /// Participants' PV plus collective PV.
    public var productionW: Figure
    /// Collective PV power.
    public var collectiveProductionW: Figure
    /// Collective battery power, + = discharge.
    public var collectiveBatteryW: Figure

    /// `true` when every participant and every hub figure has a value; otherwise the hub
    /// figures that depend on a missing value are `nil` ("incomplete"), never a wrong number.
    public var isComplete: Bool

    static func empty(keyVersion: String) -> HubBalance {
        HubBalance(
            at: UTCMilliseconds(0), keyVersion: keyVersion, memberCount: 0, incompleteParticipantCount: 0,
            netGridW: .missing, poolW: .missing, allocatedW: .missing, collectiveChargeFromPoolW: .missing,
            exportedSurplusW: .missing, consumptionW: .missing, productionW: .missing,
            collectiveProductionW: .missing, collectiveBatteryW: .missing, isComplete: false)
    }
}
