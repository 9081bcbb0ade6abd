/// One participant's figures in an ``IntervalRecord`` (all energies in Wh).
///
/// Metered figures carry their own quality. Derived figures are `nil` when an input they need
/// is missing anywhere in the hub (an allocation depends on every member's import and export).
public struct ParticipantSettlement: Sendable, Hashable, Codable {
    public var participant: ParticipantID
    /// Grid import `I_i` at the connection.
    public var importWh: Figure
    /// Grid export `X_i` at the connection.
    public var exportWh: Figure
    /// Own PV production `V_i`.
    public var pvWh: Figure
    /// Own battery charge `Ch_i`.
    public var batteryChargeWh: Figure
    /// Own battery discharge `D_i`.
    public var batteryDischargeWh: Figure
    /// Derived consumption `C_i = I_i + V_i + D_i − X_i − Ch_i`; may be negative (metering
    /// error), which is flagged, not clamped.
    public var consumptionWh: Figure
    /// Allocation `A_i` from the pool, `0 ≤ A_i ≤ I_i`.
    public var allocatedWh: Double?
    /// Residual import `I_i − A_i`: bought from the public grid after sharing.
    public var residualImportWh: Double?
    /// Residual export: the participant's part of the exported surplus, `X_i · S_exp / P`.
    public var residualExportWh: Double?
    /// `Σ_assets share · collective PV`: the participant's part of the collective production.
    public var collectiveProductionShareWh: Double?
    /// `Σ_assets share · residual export of the asset`.
    public var collectiveResidualExportShareWh: Double?
    /// Flows inside the site (needs all of the hub's figures).
    public var flows: SiteFlows?
    /// Origin accounting of the participant's own batteries (`nil` if it has none or figures are missing).
    public var battery: BatteryOriginFlows?
    /// The participant's ownership share of the shared batteries' content at the end of the interval.
    public var sharedBatteryContent: BatteryOriginState?
    /// Local-origin content of the import: `A_i · f_pool`.
    public var importLocalWh: Double?
    /// Energy of grid origin that reached the participant's load, counting grid-charged
    /// battery energy as grid energy when it is discharged (KPI variant "excl. grid charge").
    public var gridOriginToLoadWh: Double?
    /// `true` when the derived consumption is below −tolerance (metering error).
    public var negativeConsumption: Bool

    public init(
        participant: ParticipantID, importWh: Figure, exportWh: Figure, pvWh: Figure, batteryChargeWh: Figure,
        batteryDischargeWh: Figure, consumptionWh: Figure, allocatedWh: Double? = nil,
        residualImportWh: Double? = nil, residualExportWh: Double? = nil,
        collectiveProductionShareWh: Double? = nil, collectiveResidualExportShareWh: Double? = nil,
        flows: SiteFlows? = nil, battery: BatteryOriginFlows? = nil, sharedBatteryContent: BatteryOriginState? = nil,
        importLocalWh: Double? = nil, gridOriginToLoadWh: Double? = nil, negativeConsumption: Bool = false
    ) {
        self.participant = participant
        self.importWh = importWh
        self.exportWh = exportWh
        self.pvWh = pvWh
        self.batteryChargeWh = batteryChargeWh
        self.batteryDischargeWh = batteryDischargeWh
        self.consumptionWh = consumptionWh
        self.allocatedWh = allocatedWh
        self.residualImportWh = residualImportWh
        self.residualExportWh = residualExportWh
        self.collectiveProductionShareWh = collectiveProductionShareWh
        self.collectiveResidualExportShareWh = collectiveResidualExportShareWh
        self.flows = flows
        self.battery = battery
        self.sharedBatteryContent = sharedBatteryContent
        self.importLocalWh = importLocalWh
        self.gridOriginToLoadWh = gridOriginToLoadWh
        self.negativeConsumption = negativeConsumption
    }
}

/// One shared asset's figures in an ``IntervalRecord`` (Wh).
public struct AssetSettlement: Sendable, Hashable, Codable {
    public var asset: AssetID
    public var kind: DeviceKind
    public var productionWh: Figure
    public var chargeWh: Figure
    public var dischargeWh: Figure
    /// Collective battery charge covered by the pool after the participants were served.
    public var chargeFromPoolWh: Double?
    /// Collective battery charge drawn from the public grid.
    public var chargeFromGridWh: Double?
    /// The asset's part of the exported surplus, `(PV + discharge) · S_exp / P`.
    public var residualExportWh: Double?
    /// Origin accounting (batteries only).
    public var battery: BatteryOriginFlows?
    public var ownership: [OwnershipShare]

    public init(
        asset: AssetID, kind: DeviceKind, productionWh: Figure, chargeWh: Figure, dischargeWh: Figure,
        chargeFromPoolWh: Double? = nil, chargeFromGridWh: Double? = nil, residualExportWh: Double? = nil,
        battery: BatteryOriginFlows? = nil, ownership: [OwnershipShare]
    ) {
        self.asset = asset
        self.kind = kind
        self.productionWh = productionWh
        self.chargeWh = chargeWh
        self.dischargeWh = dischargeWh
        self.chargeFromPoolWh = chargeFromPoolWh
        self.chargeFromGridWh = chargeFromGridWh
        self.residualExportWh = residualExportWh
        self.battery = battery
        self.ownership = ownership
    }
}
