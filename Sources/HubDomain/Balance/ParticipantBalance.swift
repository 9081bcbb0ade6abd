/// One participant's instantaneous balance, in watts.
///
/// Signs: ``gridW`` + = import; ``batteryW`` + = discharge; ``productionW`` is PV (≥ 0 except
/// inverter standby draw, which is kept as read so that consumption stays exact).
public struct ParticipantBalance: Sendable, Hashable {
    /// Whether the participant is a member at the time of the cycle. Non-members have all
    /// figures ``Figure/missing`` and take no part in the allocation.
    public var isMember: Bool
    /// Power at the grid connection, + = import.
    public var gridW: Figure
    /// `max(0, gridW)`.
    public var importW: Figure
    /// `max(0, −gridW)`.
    public var exportW: Figure
    /// Sum of the participant's PV powers.
    public var productionW: Figure
    /// Sum of the participant's battery powers, + = discharge.
    public var batteryW: Figure
    /// Derived: `gridW + productionW + batteryW` (= import − export + PV + discharge − charge).
    public var consumptionW: Figure
    /// Instantaneous share of the pool under the hub's key, `0 ≤ allocationW ≤ importW`.
    public var allocationW: Figure
    /// `importW − allocationW`: what the participant draws from the public grid after sharing.
    public var residualImportW: Figure

    public init(isMember: Bool, gridW: Figure, importW: Figure, exportW: Figure, productionW: Figure, batteryW: Figure,
                consumptionW: Figure, allocationW: Figure, residualImportW: Figure) {
        self.isMember = isMember
        self.gridW = gridW
        self.importW = importW
        self.exportW = exportW
        self.productionW = productionW
        self.batteryW = batteryW
        self.consumptionW = consumptionW
        self.allocationW = allocationW
        self.residualImportW = residualImportW
    }

    /// `true` when every figure has a value.
    public var isComplete: Bool {
        gridW.value != nil && productionW.value != nil && batteryW.value != nil && allocationW.value != nil
    }

    /// The balance of a participant that is not a member at this time.
    public static let notMember = ParticipantBalance(
        isMember: false, gridW: .missing, importW: .missing, exportW: .missing, productionW: .missing,
        batteryW: .missing, consumptionW: .missing, allocationW: .missing, residualImportW: .missing)
}
