import HubContract
import HubDomain

/// What storing an accepted interval record did.
public enum StoreOutcome: Sendable, Equatable {
    /// New record, stored and counted.
    case stored(chain: ChainLink)
    /// The same record (same hash) was already stored: not counted again.
    case duplicate
    /// Another record with the same hub and interval (or the same hub and sequence) is stored:
    /// this one is kept aside in the conflicts and not counted.
    case conflict(reason: String)
}

/// How a stored record links to its predecessor in the hub's hash chain.
public enum ChainLink: String, Sendable, Equatable, Codable {
    /// The record with sequence − 1 is stored and its hash is this record's previous hash
    /// (or this is sequence 1 with the genesis hash).
    case linked
    /// The predecessor is stored but its hash differs: the chain is broken (tampering or a reset agent).
    case broken
    /// The predecessor has not arrived (yet): a gap in the sequence.
    case open
}

/// A hub as the store knows it.
public struct StoredHub: Sendable, Equatable, Codable {
    public var hub: String
    public var records: Int
    public var firstInterval: UTCMilliseconds?
    public var lastInterval: UTCMilliseconds?
    public var lastSequence: Int64?
    public var lastStatus: String?
    public var lastStatusAt: UTCMilliseconds?
}

/// Sums over a range, as stored: the inputs of every KPI.
public struct RangeSums: Sendable, Equatable {
    public var hub = HubKPIs()
    public var energy = EnergyTotals()
    public var participants: [String: ParticipantKPIs] = [:]
    public var participantEnergy: [String: EnergyTotals] = [:]
    /// Intervals received in the range (complete or not).
    public var receivedIntervals = 0
    public var estimatedIntervals = 0
    public var chain: [ChainLink: Int] = [:]

    public init() {}
}

/// A range of missing 15-minute intervals, `[from, to)`.
public struct IntervalGap: Sendable, Equatable, Codable {
    public var from: UTCMilliseconds
    public var to: UTCMilliseconds
    public init(from: UTCMilliseconds, to: UTCMilliseconds) {
        self.from = from
        self.to = to
    }
    public var intervals: Int { Int((to.rawValue - from.rawValue) / UTCMilliseconds.quarterHourMs) }
}

/// A range of missing sequence numbers, `first...last`.
public struct SequenceGap: Sendable, Equatable, Codable {
    public var first: Int64
    public var last: Int64
    public init(first: Int64, last: Int64) {
        self.first = first
        self.last = last
    }
}

/// A record kept aside because its key was taken by a different record.
public struct StoredConflict: Sendable, Equatable {
    public var id: Int64
    public var hub: String
    public var intervalStart: UTCMilliseconds
    public var sequence: Int64
    public var hash: String
    public var existingHash: String?
    public var reason: String
    public var receivedAt: UTCMilliseconds
}

/// A stored interval, for listings and CSV.
public struct StoredInterval: Sendable, Equatable {
    public var hub: String
    public var intervalStart: UTCMilliseconds
    public var sequence: Int64
    public var hash: String
    public var chain: ChainLink
    public var complete: Bool
    public var estimatedShare: Double
    public var consumptionWh: Double?
    public var importWh: Double?
    public var exportWh: Double?
    public var productionWh: Double?
    public var batteryChargeWh: Double
    public var batteryDischargeWh: Double
    public var sharedWh: Double
}

/// Per-day sums of a hub (UTC days).
public struct DailySums: Sendable, Equatable {
    public var day: UTCMilliseconds
    public var hub: HubKPIs
    public var receivedIntervals: Int
}

/// The aggregator's storage. One schema, migrations; implemented on SQLite (GRDB).
public protocol AggregatorStore: Sendable {
    /// Stores records idempotently, each in the same transaction as its chain and rollup updates.
    func store(_ records: [AcceptedInterval]) throws -> [StoreOutcome]
    func recordStatus(hub: String, status: StatusMessage, at: UTCMilliseconds) throws
    func recordRejection(_ rejection: Rejection, at: UTCMilliseconds) throws

    func hubs() throws -> [StoredHub]
    /// Sums over `[from, to)`; whole UTC days come from the daily rollup.
    func sums(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) throws -> RangeSums
    func daily(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) throws -> [DailySums]
    func intervals(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) throws -> [StoredInterval]
    /// Missing intervals within `[from, to)`.
    func intervalGaps(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) throws -> [IntervalGap]
    /// Missing sequence numbers between the first and the last stored.
    func sequenceGaps(hub: String) throws -> [SequenceGap]
    func conflicts(hub: String?) throws -> [StoredConflict]
    func rejectionCounts() throws -> [String: Int]
}
