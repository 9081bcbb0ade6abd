/// One participant's energies for one interval: the input of ``IntervalSettlement``.
public struct ParticipantEnergyInput: Sendable, Hashable, Codable {
    public var participant: ParticipantID
    public var importWh: Figure
    public var exportWh: Figure
    public var pvWh: Figure
    public var batteryChargeWh: Figure
    public var batteryDischargeWh: Figure
    /// Sum of the usable capacities of its batteries, if all are known (caps the origin book).
    public var batteryCapacityWh: Double?

    public init(
        participant: ParticipantID, importWh: Figure, exportWh: Figure, pvWh: Figure = .none,
        batteryChargeWh: Figure = .none, batteryDischargeWh: Figure = .none, batteryCapacityWh: Double? = nil
    ) {
        self.participant = participant
        self.importWh = importWh
        self.exportWh = exportWh
        self.pvWh = pvWh
        self.batteryChargeWh = batteryChargeWh
        self.batteryDischargeWh = batteryDischargeWh
        self.batteryCapacityWh = batteryCapacityWh
    }

    /// Convenience for measured values.
    public static func measured(
        _ participant: ParticipantID, importWh: Double, exportWh: Double, pvWh: Double = 0,
        chargeWh: Double = 0, dischargeWh: Double = 0
    ) -> ParticipantEnergyInput {
        ParticipantEnergyInput(
            participant: participant, importWh: .measured(importWh), exportWh: .measured(exportWh),
            pvWh: .measured(pvWh), batteryChargeWh: .measured(chargeWh), batteryDischargeWh: .measured(dischargeWh))
    }
}

/// One shared asset's energies for one interval.
public struct SharedAssetEnergyInput: Sendable, Hashable, Codable {
    public var asset: AssetID
    /// ``DeviceKind/pvInverter`` or ``DeviceKind/battery``.
    public var kind: DeviceKind
    public var productionWh: Figure
    public var chargeWh: Figure
    public var dischargeWh: Figure
    public var ownership: [OwnershipShare]
    public var capacityWh: Double?

    public init(
        asset: AssetID, kind: DeviceKind, productionWh: Figure = .none, chargeWh: Figure = .none,
        dischargeWh: Figure = .none, ownership: [OwnershipShare], capacityWh: Double? = nil
    ) {
        self.asset = asset
        self.kind = kind
        self.productionWh = productionWh
        self.chargeWh = chargeWh
        self.dischargeWh = dischargeWh
        self.ownership = ownership
        self.capacityWh = capacityWh
    }
}
