/// The settlement of one 15-minute interval: what every participant imported, exported,
/// produced, stored and received from the pool, and the hub totals, with quality flags.
///
/// Records are deterministic functions of their inputs: the ``id`` depends only on the hub and
/// the interval, so a record produced again after a restart can be recognised downstream.
public struct IntervalRecord: Sendable, Hashable, Codable {
    /// Schema version of this record type.
    public static let schemaVersion = "hubmeter-interval/1"

    /// `"{hubID}:{start ISO-8601}"`.
    public var id: String
    public var schema: String
    public var hubID: HubID
    public var interval: SettlementInterval
    /// The key as configured (with its shares or order).
    public var allocationKey: AllocationKey
    /// ``AllocationKey/version`` of the key.
    public var keyVersion: String
    /// Members in this interval, sorted by id.
    public var participants: [ParticipantSettlement]
    /// Shared assets, sorted by id.
    public var sharedAssets: [AssetSettlement]
    public var hub: HubTotals
    /// Overall quality: missing when any figure is missing, estimated (energy-weighted share)
    /// when any is estimated, measured otherwise.
    public var quality: Quality
    /// `true` when every figure, including allocations and origin accounting, is present.
    public var isComplete: Bool
    public var flags: [RecordFlag]
    public var gapCorrections: [GapCorrection]
    /// Result of ``validate()`` at creation; empty for a correct record.
    public var violations: [InvariantViolation]
    /// Absolute tolerance (Wh) used by ``validate()``.
    public var toleranceWh: Double

    public init(
        hubID: HubID, interval: SettlementInterval, allocationKey: AllocationKey,
        participants: [ParticipantSettlement], sharedAssets: [AssetSettlement], hub: HubTotals, quality: Quality,
        isComplete: Bool, flags: [RecordFlag] = [], gapCorrections: [GapCorrection] = [],
        violations: [InvariantViolation] = [], toleranceWh: Double = 0.01
    ) {
        self.id = interval.recordID(hub: hubID)
        self.schema = Self.schemaVersion
        self.hubID = hubID
        self.interval = interval
        self.allocationKey = allocationKey
        self.keyVersion = allocationKey.version
        self.participants = participants
        self.sharedAssets = sharedAssets
        self.hub = hub
        self.quality = quality
        self.isComplete = isComplete
        self.flags = flags
        self.gapCorrections = gapCorrections
        self.violations = violations
        self.toleranceWh = toleranceWh
    }

    /// The figures of one participant.
    public func participant(_ id: ParticipantID) -> ParticipantSettlement? {
        participants.first { $0.participant == id }
    }
}
