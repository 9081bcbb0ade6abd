/// The hub's figures in an ``IntervalRecord`` (Wh). `nil` when an input is missing.
public struct HubTotals: Sendable, Hashable, Codable {
    /// `Σ I_i` over members.
    public var importWh: Double?
    /// `Σ X_i` over members.
    public var exportWh: Double?
    /// `Σ V_i` over members.
    public var participantPVWh: Double?
    /// `Σ C_i` over members.
    public var consumptionWh: Double?
    /// Collective PV production.
    public var collectivePVWh: Double?
    /// Collective battery charge.
    public var collectiveChargeWh: Double?
    /// Collective battery discharge.
    public var collectiveDischargeWh: Double?
    /// Net exchange with the public grid, + = import: `Σ(I_i − X_i) + Ch_coll − PV_coll − D_coll`.
    public var netExchangeWh: Double?
    /// Netted import `I_hub = max(0, net)` (per 15-minute interval).
    public var gridImportWh: Double?
    /// Netted export `X_hub = max(0, −net)`.
    public var gridExportWh: Double?
    /// Pool `P = Σ X_i + PV_coll + D_coll`.
    public var poolWh: Double?
    /// `Σ A_i`.
    public var allocatedWh: Double?
    /// Collective charge covered by the pool.
    public var collectiveChargeFromPoolWh: Double?
    /// Collective charge drawn from the public grid.
    public var collectiveChargeFromGridWh: Double?
    /// Pool left over and exported: `S_exp = P − Σ A_i − collectiveChargeFromPool`.
    public var exportedSurplusWh: Double?
    /// Local-origin fraction of the pool `f_pool`.
    public var poolLocalFraction: Double?
    /// `Σ gridOriginToLoad_i`.
    public var gridOriginToLoadWh: Double?

    public init() {}
}
