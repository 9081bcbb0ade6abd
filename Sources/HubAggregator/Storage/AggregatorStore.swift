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

/// The aggregator's storage. One schema with migrations, implemented on SQLite (GRDB, the embedded default)
/// and on PostgreSQL (postgres-nio, for regions that outgrow one machine); the same tests run against both.
///
/// Every method is `async`: the PostgreSQL store talks to a server, and the SQLite store runs its
/// blocking calls on GRDB's own serial queues instead of the cooperative pool.
public protocol AggregatorStore: Sendable {
    /// Stores records idempotently, in one transaction with their chain bookkeeping and the rollups
    /// (daily and monthly). Returns one outcome per record, in order.
    func store(_ records: [AcceptedInterval]) async throws -> [StoreOutcome]
    func recordStatus(hub: String, status: StatusMessage, at: UTCMilliseconds) async throws
    func recordRejection(_ rejection: Rejection, at: UTCMilliseconds) async throws

    func hubs() async throws -> [StoredHub]
    /// Sums over `[from, to)`; whole UTC months come from the monthly rollup, other whole UTC days
    /// from the daily rollup, the rest from the interval rows (see ``RangePlan``).
    func sums(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> RangeSums
    func daily(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [DailySums]
    func intervals(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [StoredInterval]
    /// Missing intervals within `[from, to)`.
    func intervalGaps(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [IntervalGap]
    /// Missing sequence numbers between the first and the last stored.
    func sequenceGaps(hub: String) async throws -> [SequenceGap]
    func conflicts(hub: String?) async throws -> [StoredConflict]
    func rejectionCounts() async throws -> [String: Int]
    /// The stored record with this sequence number, as the hub published it (byte for byte: what the
    /// hash chain is checked over); nil if none is stored.
    func payload(hub: String, sequence: Int64) async throws -> [UInt8]?
    /// Work on an accepted record that needs nothing stored, done where it was classified (on the
    /// cores the single writer does not use) before the record is queued for ``store(_:)``. The
    /// SQLite store compresses the payload here. ``store(_:)`` must also accept unprepared records.
    func prepare(_ record: inout AcceptedInterval)
    /// Releases connections; the store is not used afterwards.
    func close() async
}

extension AggregatorStore {
    public func prepare(_ record: inout AcceptedInterval) {}
    public func close() async {}
}

/// How a range `[from, to)` is split between the rollups: whole UTC months from the monthly
/// tables, remaining whole UTC days from the daily tables, the rest from the interval rows.
/// Both stores follow this plan, so they answer from the same rows.
public struct RangePlan: Sendable, Equatable {
    public enum Source: Sendable, Equatable { case months, days, intervals }
    public struct Piece: Sendable, Equatable {
        public var source: Source
        public var from: Int64
        public var to: Int64
    }
    public var pieces: [Piece] = []

    public init(from: UTCMilliseconds, to: UTCMilliseconds) {
        let from = from.rawValue, to = to.rawValue
        guard from < to else { return }
        let firstDay = UTCCalendar.ceilDay(from), lastDay = UTCCalendar.floorDay(to)
        guard firstDay < lastDay else {
            pieces = [Piece(source: .intervals, from: from, to: to)]
            return
        }
        if from < firstDay { pieces.append(Piece(source: .intervals, from: from, to: firstDay)) }
        let firstMonth = UTCCalendar.ceilMonth(firstDay), lastMonth = UTCCalendar.floorMonth(lastDay)
        if firstMonth < lastMonth {
            if firstDay < firstMonth { pieces.append(Piece(source: .days, from: firstDay, to: firstMonth)) }
            pieces.append(Piece(source: .months, from: firstMonth, to: lastMonth))
            if lastMonth < lastDay { pieces.append(Piece(source: .days, from: lastMonth, to: lastDay)) }
        } else {
            pieces.append(Piece(source: .days, from: firstDay, to: lastDay))
        }
        if lastDay < to { pieces.append(Piece(source: .intervals, from: lastDay, to: to)) }
    }
}

/// UTC day and month arithmetic on milliseconds since the epoch.
public enum UTCCalendar {
    public static let dayMs: Int64 = 86_400_000

    public static func floorDay(_ ms: Int64) -> Int64 { ms - ((ms % dayMs) + dayMs) % dayMs }
    public static func ceilDay(_ ms: Int64) -> Int64 { floorDay(ms) == ms ? ms : floorDay(ms) + dayMs }
    /// The first millisecond of the UTC month containing `ms`.
    public static func floorMonth(_ ms: Int64) -> Int64 { Period.month.range(containing: UTCMilliseconds(ms)).from.rawValue }
    public static func ceilMonth(_ ms: Int64) -> Int64 {
        let range = Period.month.range(containing: UTCMilliseconds(ms))
        return range.from.rawValue == ms ? ms : range.to.rawValue
    }
}

/// Finding missing intervals with the daily rollup: a day whose rollup says 96 intervals is
/// complete, a day without a rollup row is missing whole; only the other days (and partial days at
/// the ends of the range) are searched interval by interval. Shared by both stores.
struct GapSearch {
    enum Day { case complete, missing, search }
    struct Window {
        var from: Int64
        var to: Int64
        var day: Day
    }

    private(set) var gaps: [IntervalGap] = []

    /// The windows of `[lower, upper)` (quarter-hour aligned), one per UTC day, given the intervals received per day.
    static func windows(lower: Int64, upper: Int64, received: [Int64: Int]) -> [Window] {
        let perDay = Int(UTCCalendar.dayMs / UTCMilliseconds.quarterHourMs)
        var windows: [Window] = []
        var day = UTCCalendar.floorDay(lower)
        while day < upper {
            let from = max(lower, day), to = min(upper, day + UTCCalendar.dayMs)
            let count = received[day] ?? 0
            let kind: Day = count == 0 ? .missing : (count == perDay && from == day && to == day + UTCCalendar.dayMs) ? .complete : .search
            windows.append(Window(from: from, to: to, day: kind))
            day += UTCCalendar.dayMs
        }
        return windows
    }

    mutating func add(_ from: Int64, _ to: Int64) {
        if let last = gaps.last, last.to.rawValue == from {
            gaps[gaps.count - 1].to = UTCMilliseconds(to)
        } else {
            gaps.append(IntervalGap(from: UTCMilliseconds(from), to: UTCMilliseconds(to)))
        }
    }

    /// Adds the gaps of a searched window, given the sorted interval starts stored in it.
    mutating func add(_ window: Window, starts: [Int64]) {
        var expected = window.from
        for start in starts {
            if start > expected { add(expected, start) }
            expected = start + UTCMilliseconds.quarterHourMs
        }
        if expected < window.to { add(expected, window.to) }
    }
}

/// A storage failure, with what was being done; the database's own message is in `detail`
/// (never a password: connection settings are not part of it).
public struct AggregatorStoreError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String { case connection, unavailable, migration, query, damaged }
        private let value: Value
        /// The database cannot be reached.
        public static let connection = Code(value: .connection)
        /// The database answers but cannot do this now (locked by another process, disk full or
        /// read-only, shutting down, out of resources): the same request can succeed later.
        public static let unavailable = Code(value: .unavailable)
        public static let migration = Code(value: .migration)
        /// The database refused this request (its data, or a defect): trying again will not help.
        public static let query = Code(value: .query)
        /// Stored data cannot be read back as it was written (a stored payload frame fails its checksum).
        public static let damaged = Code(value: .damaged)
        public var description: String { "storage.\(value.rawValue)" }
    }

    /// Whether the store is away rather than refusing the request: the ingest then keeps the
    /// records and tries again, instead of giving them up.
    public var isOutage: Bool { code == .connection || code == .unavailable }

    public var code: Code
    public var operation: String
    public var detail: String
    public var file: String
    public var line: Int

    public init(_ code: Code, operation: String, detail: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.operation = operation
        self.detail = detail
        self.file = file
        self.line = line
    }

    public var description: String { "\(code): \(operation): \(detail) (\(file):\(line))" }
}
