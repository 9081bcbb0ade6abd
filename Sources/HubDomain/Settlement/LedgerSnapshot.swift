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

extension LedgerSnapshot {
    /// The snapshot as JSON, its devices encoded one at a time by `encode` and spliced into the
    /// rest: the same bytes as `encode(self)`, but an encoder that builds a tree of the value first
    /// (Foundation's) holds one device's at a time, not the whole hub's (with 200 devices, heaptrack
    /// counted about 1.1 MB of temporary allocations per save, every 5 s; docs/performance.md). `encode` must write sorted
    /// keys without whitespace, as `MessageEncoding` does, so that `devices` is the first member;
    /// with any other layout the snapshot is encoded whole.
    public func encodedDeviceByDevice(_ encode: (any Encodable) throws -> [UInt8]) throws -> [UInt8] {
        var rest = self
        rest.devices = []
        let restBytes = try encode(rest)
        let emptyDevices = Array(#"{"devices":[]"#.utf8)
        guard restBytes.starts(with: emptyDevices) else { return try encode(self) }
        var bytes = Array(#"{"devices":["#.utf8)
        for (index, device) in devices.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += try encode(device)
        }
        bytes.append(UInt8(ascii: "]"))
        bytes += restBytes[emptyDevices.count...]
        return bytes
    }
}
