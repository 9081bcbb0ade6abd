/// The ledger's open-interval state: counters, partial sums, battery origin content and
/// records not yet handed out. Codable; the agent writes it to disk and restores it after a
/// restart, so a restart in the middle of an interval neither loses nor double-counts energy.
///
/// Channels are keyed by device id and quantity, so a snapshot restores into a changed model:
/// channels of removed devices are dropped, new devices start fresh.
public struct LedgerSnapshot: Sendable, Hashable, Codable {
    /// Schema of this snapshot type.
    public static let schemaVersion = "hubmeter-ledger-snapshot/1"

    struct DeviceState: Sendable, Hashable, Codable {
        var device: DeviceID
        var kind: DeviceKind
        var acceptedUntil: UTCMilliseconds?
        var channels: [EnergyQuantity: ChannelState]
    }

    public var schema: String
    public var hubID: HubID
    /// Start of the oldest open interval.
    public var openIntervalStart: UTCMilliseconds
    var devices: [DeviceState]
    var originBook: BatteryOriginBook
    var pendingRecords: [IntervalRecord]
    var pendingCorrections: [GapCorrection]
    var pendingFlags: [RecordFlag]
    var statistics: SettlementLedger.Statistics
}
