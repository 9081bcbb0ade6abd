/// Cumulative energy counter values of one device, in Wh; `nil` where the device has no such
/// counter or the read failed.
public struct CounterValues: Sendable, Hashable, Codable {
    public var gridImportWh: Double?
    public var gridExportWh: Double?
    public var pvProductionWh: Double?
    public var batteryChargeWh: Double?
    public var batteryDischargeWh: Double?
    public var subMeteredWh: Double?

    public init(
        gridImportWh: Double? = nil, gridExportWh: Double? = nil, pvProductionWh: Double? = nil,
        batteryChargeWh: Double? = nil, batteryDischargeWh: Double? = nil, subMeteredWh: Double? = nil
    ) {
        self.gridImportWh = gridImportWh
        self.gridExportWh = gridExportWh
        self.pvProductionWh = pvProductionWh
        self.batteryChargeWh = batteryChargeWh
        self.batteryDischargeWh = batteryDischargeWh
        self.subMeteredWh = subMeteredWh
    }

    /// No counters.
    public static let none = CounterValues()

    /// The counter of one quantity.
    public subscript(quantity: EnergyQuantity) -> Double? {
        switch quantity {
        case .gridImport: return gridImportWh
        case .gridExport: return gridExportWh
        case .pvProduction: return pvProductionWh
        case .batteryCharge: return batteryChargeWh
        case .batteryDischarge: return batteryDischargeWh
        case .subMeteredConsumption: return subMeteredWh
        }
    }
}

/// One acquisition of a device for the settlement: its signed power and its counters at `at`.
///
/// The agent passes every acquisition (typically each cycle) to ``SettlementLedger/ingest(_:)``.
/// Samples of one device must come in time order; a sample at or before the last accepted one,
/// or before the open interval, is ignored (see ``SettlementLedger/IngestOutcome``).
public struct DeviceSample: Sendable, Hashable, Codable {
    public var device: DeviceID
    /// When the values were acquired.
    public var at: UTCMilliseconds
    /// Signed power in W (``DeviceKind`` convention), or `nil` if not available.
    public var powerW: Double?
    /// Counter values, where available.
    public var counters: CounterValues

    public init(device: DeviceID, at: UTCMilliseconds, powerW: Double? = nil, counters: CounterValues = .none) {
        self.device = device
        self.at = at
        self.powerW = powerW
        self.counters = counters
    }
}
