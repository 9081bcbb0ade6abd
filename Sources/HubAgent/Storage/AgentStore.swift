import HubContract
import Foundation
import GRDB
import HubSupport

/// The agent's durable state in one SQLite database (WAL, synchronous FULL) in the state directory:
/// the outbox, the hash chain's head, and the open settlement interval.
///
/// Closing an interval is one transaction: the record enters the outbox, the chain head advances,
/// and the ledger snapshot moves past the interval. A SIGKILL at any moment therefore either keeps
/// all three or none, and on restart the same record (same id, same content) is produced again.
public final class AgentStore: Sendable {
    /// What kind of message an outbox row holds; decides the drop policy.
    public enum Kind: String, Sendable, CaseIterable {
        /// Settlement records: never dropped; a full outbox raises an alarm instead.
        case interval
        /// Device states (only queued when configured): dropped first, oldest first.
        case deviceState = "device_state"
    }

    public struct Entry: Sendable, Equatable {
        public var id: Int64
        public var kind: Kind
        public var topic: String
        public var payload: [UInt8]
        public var qos: Int
        public var retain: Bool
        public var createdAt: UTCTimestamp
    }

    public struct ChainHead: Sendable, Equatable {
        /// Sequence number of the last record put in the outbox (0 before the first).
        public var sequence: Int64
        public var hash: String

        public init(sequence: Int64, hash: String) {
            self.sequence = sequence
            self.hash = hash
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var count: [Kind: Int]
        public var bytes: Int
        public var oldest: UTCTimestamp?
    }

    public struct Limits: Sendable, Equatable {
        public var maxBytes: Int
        public var maxAge: Duration

        public init(maxBytes: Int, maxAge: Duration) {
            self.maxBytes = maxBytes
            self.maxAge = maxAge
        }
    }

    /// The result of enforcing the limits.
    public struct Enforcement: Sendable, Equatable {
        public var droppedDeviceStates: Int
        /// True when settlement records alone exceed a limit: nothing is dropped, it is an alarm.
        public var overLimit: Bool

        public init(droppedDeviceStates: Int, overLimit: Bool) {
            self.droppedDeviceStates = droppedDeviceStates
            self.overLimit = overLimit
        }
    }

    public let path: String
    private let database: DatabasePool

    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.label = "hubmeter.agent-store"
        configuration.busyMode = .timeout(5)
        database = try DatabasePool(path: path, configuration: configuration)
        // FULL: a committed interval survives a power cut on the gateway box, not only a crash. Set
        // here, not in `prepareDatabase`: GRDB sets NORMAL on the writer when it turns WAL on, after
        // `prepareDatabase` has run.
        try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(database)
    }

    /// `PRAGMA synchronous` of the connection that writes (2: FULL), for tests and diagnostics.
    public func writerSynchronousLevel() throws -> Int {
        try database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    qos INTEGER NOT NULL,
                    retain INTEGER NOT NULL,
                    record_key TEXT,
                    created_at INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX outbox_record_key ON outbox(record_key) WHERE record_key IS NOT NULL;
                CREATE TABLE chain (
                    hub TEXT PRIMARY KEY,
                    sequence INTEGER NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE TABLE chain_record (
                    hub TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    hash TEXT NOT NULL,
                    PRIMARY KEY (hub, record_id)
                );
                CREATE TABLE ledger_snapshot (
                    hub TEXT PRIMARY KEY,
                    snapshot BLOB NOT NULL,
                    saved_at INTEGER NOT NULL
                );
                """)
        }
        return migrator
    }

    // MARK: Chain and intervals

    public func chainHead(hub: String) throws -> ChainHead {
        try database.read { db in
            try Self.head(db, hub: hub)
        }
    }

    private static func head(_ db: Database, hub: String) throws -> ChainHead {
        if let row = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM chain WHERE hub = ?", arguments: [hub]) {
            return ChainHead(sequence: row["sequence"], hash: row["hash"])
        }
        return ChainHead(sequence: 0, hash: IntervalMessage.genesisHash)
    }

    /// Appends interval messages to the chain and the outbox, and saves the ledger snapshot, atomically.
    ///
    /// `build` gets the next sequence number and the previous hash for each record in turn.
    /// A record id that was committed before is skipped (`alreadyCommitted` says so), so that
    /// the chain never holds one record twice.
    @discardableResult
    public func commitIntervals(hub: String, recordIDs: [String], topic: String, snapshot: [UInt8]?, now: UTCTimestamp,
                                build: (Int, Int64, String) throws -> IntervalMessage) throws -> [IntervalMessage] {
        try database.write { db in
            var head = try Self.head(db, hub: hub)
            var messages: [IntervalMessage] = []
            for (index, recordID) in recordIDs.enumerated() {
                let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM chain_record WHERE hub = ? AND record_id = ?", arguments: [hub, recordID]) ?? false
                if known { continue }
                let message = try build(index, head.sequence + 1, head.hash)
                try db.execute(sql: "INSERT INTO chain_record (hub, record_id, sequence, hash) VALUES (?, ?, ?, ?)",
                               arguments: [hub, message.recordID, message.sequence, message.hash])
                try db.execute(sql: """
                    INSERT INTO outbox (kind, topic, payload, qos, retain, record_key, created_at)
                    VALUES (?, ?, ?, 1, 0, ?, ?)
                    """, arguments: [Kind.interval.rawValue, topic, Data(message.payload), "\(hub)#\(message.recordID)", now.millisecondsSinceEpoch])
                head = ChainHead(sequence: message.sequence, hash: message.hash)
                messages.append(message)
            }
            try db.execute(sql: "INSERT INTO chain (hub, sequence, hash) VALUES (?, ?, ?) ON CONFLICT(hub) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash",
                           arguments: [hub, head.sequence, head.hash])
            if let snapshot {
                try Self.saveSnapshot(db, hub: hub, snapshot: snapshot, now: now)
            }
            return messages
        }
    }

    public func saveSnapshot(hub: String, snapshot: [UInt8], now: UTCTimestamp) throws {
        try database.write { db in try Self.saveSnapshot(db, hub: hub, snapshot: snapshot, now: now) }
    }

    private static func saveSnapshot(_ db: Database, hub: String, snapshot: [UInt8], now: UTCTimestamp) throws {
        try db.execute(sql: "INSERT INTO ledger_snapshot (hub, snapshot, saved_at) VALUES (?, ?, ?) ON CONFLICT(hub) DO UPDATE SET snapshot = excluded.snapshot, saved_at = excluded.saved_at",
                       arguments: [hub, Data(snapshot), now.millisecondsSinceEpoch])
    }

    public func loadSnapshot(hub: String) throws -> [UInt8]? {
        try database.read { db in
            try Data.fetchOne(db, sql: "SELECT snapshot FROM ledger_snapshot WHERE hub = ?", arguments: [hub]).map { Array($0) }
        }
    }

    // MARK: Outbox

    public func enqueue(kind: Kind, topic: String, payload: [UInt8], qos: Int, retain: Bool, now: UTCTimestamp) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO outbox (kind, topic, payload, qos, retain, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [kind.rawValue, topic, Data(payload), qos, retain, now.millisecondsSinceEpoch])
        }
    }

    /// The oldest entries, in the order they were queued.
    public func pending(limit: Int, after id: Int64 = 0) throws -> [Entry] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE id > ? ORDER BY id LIMIT ?", arguments: [id, limit]).map { row in
                Entry(id: row["id"], kind: Kind(rawValue: row["kind"]) ?? .deviceState, topic: row["topic"],
                      payload: Array(row["payload"] as Data), qos: row["qos"], retain: row["retain"],
                      createdAt: UTCTimestamp(millisecondsSinceEpoch: row["created_at"]))
            }
        }
    }

    /// Removes entries the broker acknowledged.
    public func remove(ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try database.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                           arguments: StatementArguments(ids))
        }
    }

    public func statistics() throws -> Statistics {
        try database.read { db in
            var counts: [Kind: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT kind, COUNT(*) AS n FROM outbox GROUP BY kind") {
                if let kind = Kind(rawValue: row["kind"]) { counts[kind] = row["n"] }
            }
            let bytes = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox") ?? 0
            let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(created_at) FROM outbox").map(UTCTimestamp.init(millisecondsSinceEpoch:))
            return Statistics(count: counts, bytes: bytes, oldest: oldest)
        }
    }

    /// Applies the documented policy: device states go first (oldest first) when the outbox is too
    /// big or entries too old; settlement records are never dropped, an excess is reported instead.
    public func enforce(_ limits: Limits, now: UTCTimestamp) throws -> Enforcement {
        try database.write { db in
            let maxAgeMilliseconds = limits.maxAge.components.seconds * 1000
            let cutoff = now.millisecondsSinceEpoch - maxAgeMilliseconds
            try db.execute(sql: "DELETE FROM outbox WHERE kind = ? AND created_at < ?", arguments: [Kind.deviceState.rawValue, cutoff])
            var dropped = db.changesCount
            var bytes = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox") ?? 0
            while bytes > limits.maxBytes {
                let rows = try Row.fetchAll(db, sql: "SELECT id, LENGTH(payload) AS size FROM outbox WHERE kind = ? ORDER BY id LIMIT 500",
                                            arguments: [Kind.deviceState.rawValue])
                if rows.isEmpty { break }
                var ids: [Int64] = []
                for row in rows where bytes > limits.maxBytes {
                    ids.append(row["id"])
                    bytes -= row["size"] as Int
                }
                try db.execute(sql: "DELETE FROM outbox WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                               arguments: StatementArguments(ids))
                dropped += ids.count
            }
            let oldestInterval = try Int64.fetchOne(db, sql: "SELECT MIN(created_at) FROM outbox WHERE kind = ?", arguments: [Kind.interval.rawValue])
            let overLimit = bytes > limits.maxBytes || (oldestInterval.map { $0 < cutoff } ?? false)
            return Enforcement(droppedDeviceStates: dropped, overLimit: overLimit)
        }
    }
}
