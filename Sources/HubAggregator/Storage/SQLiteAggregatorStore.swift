import Foundation
import GRDB
import HubContract
import HubDomain
import HubSupport

/// The aggregator's store on SQLite (WAL), through GRDB.
///
/// Tables: `interval_record` (one row per hub and interval: the chain fields, the record's additive
/// KPI sums, and `payload_id`, the row of `interval_payload` that holds the payload as received,
/// compressed: ``PayloadFrame``), `participant_interval` (the same sums per company), `conflict`
/// (records whose key was taken by a different record), `rejection` (dropped messages),
/// `hub_state` (last status), and the rollups `daily_hub`, `daily_participant`, `monthly_hub` and
/// `monthly_participant` (UTC days and months), updated in the same transaction as every insert so
/// that a year is 12 monthly rows per query. Migrations are GRDB's (table `grdb_migrations`).
public final class SQLiteAggregatorStore: AggregatorStore {
    public let path: String
    private let database: DatabasePool
    /// Checkpoints the WAL beside the writer instead of inside its commits.
    private let checkpointer: WALCheckpointer
    static let dayMs = UTCCalendar.dayMs

    /// `busyTimeout`: how long a write waits for another process's write lock on the same file
    /// before the store counts as unavailable for now. `walCheckpointFrames`: WAL frames (pages)
    /// after which a background checkpoint starts, and after which a commit waits for one
    /// (``WALCheckpointer``); 8,000 frames of 4 kB pages keep the WAL near 32 MiB.
    public init(path: String, busyTimeout: Duration = .seconds(10),
                walCheckpointFrames: (start: Int32, limit: Int32) = (1_000, 8_000)) throws {
        self.path = path
        var configuration = Configuration()
        configuration.label = "hubmeter.aggregator-store"
        configuration.busyMode = .timeout(TimeInterval(busyTimeout.components.seconds) + TimeInterval(busyTimeout.components.attoseconds) / 1e18)
        configuration.prepareDatabase { db in
            // Rollup and index pages stay in memory between batches (64 MiB per connection).
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        // FULL: a committed batch survives a power cut (the broker will not send it again); with one
        // transaction per batch of up to 500 records the sync costs little (docs/performance.md).
        // Set here, not in `prepareDatabase`: GRDB sets NORMAL on the writer when it turns WAL on,
        // after `prepareDatabase` has run.
        try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(database)
        // The writer's commits report to the checkpointer, which turns SQLite's automatic checkpoint off.
        checkpointer = try WALCheckpointer(path: path, startFrames: walCheckpointFrames.start, limitFrames: walCheckpointFrames.limit)
        database.writeWithoutTransaction { db in
            if let writer = db.sqliteConnection { checkpointer.attach(toWriter: writer) }
        }
    }

    /// The WAL checkpointer's counts (for tests and diagnostics).
    public var checkpoints: WALCheckpointCounts { checkpointer.counts }

    /// Copies every committed WAL frame into the database file now, waiting for a checkpoint in progress.
    @discardableResult
    public func checkpointAndWait() -> (walFrames: Int32, copied: Int32) { checkpointer.checkpointAndWait() }

    /// `PRAGMA synchronous` of the connection that writes (2: FULL), for tests and diagnostics.
    public func writerSynchronousLevel() throws -> Int {
        try database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    // MARK: Schema

    static func columnDefinitions(_ names: [String]) -> String {
        names.map { "\($0) REAL NOT NULL" }.joined(separator: ", ")
    }

    /// The first millisecond of the UTC month of `column` (milliseconds), in SQLite.
    static func monthOf(_ column: String) -> String {
        "CAST(strftime('%s', \(column) / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000"
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            let hub = columnDefinitions(StoreColumns.hub), participant = columnDefinitions(StoreColumns.participant),
                energy = columnDefinitions(StoreColumns.energy)
            try db.execute(sql: """
                CREATE TABLE interval_record (
                    hub TEXT NOT NULL, interval_start INTEGER NOT NULL, sequence INTEGER NOT NULL,
                    record_id TEXT NOT NULL, hash TEXT NOT NULL, previous_hash TEXT NOT NULL,
                    kpi_definitions TEXT NOT NULL, agent_version TEXT NOT NULL, payload BLOB NOT NULL,
                    received_at INTEGER NOT NULL, chain TEXT NOT NULL, complete INTEGER NOT NULL, estimated_share REAL NOT NULL,
                    raw_consumption REAL, raw_import REAL, raw_export REAL, raw_production REAL,
                    \(hub), \(energy),
                    PRIMARY KEY (hub, interval_start)
                ) WITHOUT ROWID;
                CREATE UNIQUE INDEX interval_record_sequence ON interval_record (hub, sequence);
                CREATE INDEX interval_record_chain ON interval_record (hub, chain, interval_start);
                CREATE TABLE participant_interval (
                    hub TEXT NOT NULL, interval_start INTEGER NOT NULL, participant TEXT NOT NULL,
                    \(participant), \(energy),
                    PRIMARY KEY (hub, interval_start, participant)
                ) WITHOUT ROWID;
                CREATE TABLE daily_hub (
                    hub TEXT NOT NULL, day INTEGER NOT NULL, received INTEGER NOT NULL, estimated INTEGER NOT NULL,
                    \(hub), \(energy),
                    PRIMARY KEY (hub, day)
                ) WITHOUT ROWID;
                CREATE TABLE daily_participant (
                    hub TEXT NOT NULL, day INTEGER NOT NULL, participant TEXT NOT NULL,
                    \(participant), \(energy),
                    PRIMARY KEY (hub, day, participant)
                ) WITHOUT ROWID;
                CREATE TABLE conflict (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, hub TEXT NOT NULL, interval_start INTEGER NOT NULL,
                    sequence INTEGER NOT NULL, hash TEXT NOT NULL, existing_hash TEXT, reason TEXT NOT NULL,
                    payload BLOB NOT NULL, received_at INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX conflict_unique ON conflict (hub, interval_start, hash);
                CREATE TABLE rejection (
                    reason TEXT NOT NULL PRIMARY KEY, count INTEGER NOT NULL, last_topic TEXT NOT NULL,
                    last_detail TEXT NOT NULL, last_at INTEGER NOT NULL
                );
                CREATE TABLE hub_state (
                    hub TEXT NOT NULL PRIMARY KEY, last_status TEXT, last_status_at INTEGER, status_version TEXT
                );
                """)
        }
        // Monthly rollups (UTC months), back-filled from the daily ones for databases made by v1.
        migrator.registerMigration("v2-monthly-rollups") { db in
            let hub = columnDefinitions(StoreColumns.hub), participant = columnDefinitions(StoreColumns.participant),
                energy = columnDefinitions(StoreColumns.energy)
            let hubSums = StoreColumns.hubAndEnergy.map { "SUM(\($0))" }.joined(separator: ", ")
            let participantSums = StoreColumns.participantAndEnergy.map { "SUM(\($0))" }.joined(separator: ", ")
            try db.execute(sql: """
                CREATE TABLE monthly_hub (
                    hub TEXT NOT NULL, month INTEGER NOT NULL, received INTEGER NOT NULL, estimated INTEGER NOT NULL,
                    \(hub), \(energy),
                    PRIMARY KEY (hub, month)
                ) WITHOUT ROWID;
                CREATE TABLE monthly_participant (
                    hub TEXT NOT NULL, month INTEGER NOT NULL, participant TEXT NOT NULL,
                    \(participant), \(energy),
                    PRIMARY KEY (hub, month, participant)
                ) WITHOUT ROWID;
                INSERT INTO monthly_hub (hub, month, received, estimated, \(StoreColumns.hubAndEnergy.joined(separator: ", ")))
                    SELECT hub, \(monthOf("day")) AS m, SUM(received), SUM(estimated), \(hubSums)
                    FROM daily_hub GROUP BY hub, m;
                INSERT INTO monthly_participant (hub, month, participant, \(StoreColumns.participantAndEnergy.joined(separator: ", ")))
                    SELECT hub, \(monthOf("day")) AS m, participant, \(participantSums)
                    FROM daily_participant GROUP BY hub, m, participant;
                """)
        }
        // The raw payload (3–5 kB) out of the WITHOUT ROWID `interval_record` into a rowid table.
        // In a WITHOUT ROWID table (a B-tree keyed like an index) a cell keeps at most ~1 kB of a
        // row on a 4 kB page and chains the rest to overflow pages, so every record took a part-filled
        // leaf cell plus one or two mostly empty overflow pages (in a C model of these statements with
        // 5 kB payloads: 9.6 kB per record on disk, and so in the WAL, against 6.5 kB now), and the key comparisons of every insert
        // and neighbour lookup walked pages holding 4 rows each. A rowid table appends the payload
        // in one cell (larger ones overflow into full pages), and `interval_record` rows are
        // ~0.4 kB. Existing rows keep their bytes: payloads are numbered in key order and linked.
        migrator.registerMigration("v3-payload-table") { db in
            let hub = columnDefinitions(StoreColumns.hub), energy = columnDefinitions(StoreColumns.energy)
            // Spelled out (not `recordColumns`): this migration must read the v2 table whatever the columns become later.
            let kept = (["hub", "interval_start", "sequence", "record_id", "hash", "previous_hash", "kpi_definitions", "agent_version",
                         "received_at", "chain", "complete", "estimated_share", "raw_consumption", "raw_import", "raw_export",
                         "raw_production"] + StoreColumns.hubAndEnergy).joined(separator: ", ")
            let number = "ROW_NUMBER() OVER (ORDER BY hub, interval_start)"
            try db.execute(sql: """
                CREATE TABLE interval_payload (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
                CREATE TABLE interval_record_v3 (
                    hub TEXT NOT NULL, interval_start INTEGER NOT NULL, sequence INTEGER NOT NULL,
                    record_id TEXT NOT NULL, hash TEXT NOT NULL, previous_hash TEXT NOT NULL,
                    kpi_definitions TEXT NOT NULL, agent_version TEXT NOT NULL, payload_id INTEGER NOT NULL,
                    received_at INTEGER NOT NULL, chain TEXT NOT NULL, complete INTEGER NOT NULL, estimated_share REAL NOT NULL,
                    raw_consumption REAL, raw_import REAL, raw_export REAL, raw_production REAL,
                    \(hub), \(energy),
                    PRIMARY KEY (hub, interval_start)
                ) WITHOUT ROWID;
                INSERT INTO interval_payload (id, payload) SELECT \(number), payload FROM interval_record;
                INSERT INTO interval_record_v3 (\(kept), payload_id) SELECT \(kept), \(number) FROM interval_record;
                DROP TABLE interval_record;
                ALTER TABLE interval_record_v3 RENAME TO interval_record;
                CREATE UNIQUE INDEX interval_record_sequence ON interval_record (hub, sequence);
                CREATE INDEX interval_record_chain ON interval_record (hub, chain, interval_start);
                """)
        }
        // Payloads are stored as LZ4 frames from here on (``PayloadFrame``); the rows already
        // there keep their bytes and say so. No rewrite: adding a column with a default is instant.
        migrator.registerMigration("v4-payload-encoding") { db in
            try db.execute(sql: "ALTER TABLE interval_payload ADD COLUMN encoding TEXT NOT NULL DEFAULT 'raw'")
        }
        return migrator
    }

    // MARK: Ingest

    public func store(_ records: [AcceptedInterval]) async throws -> [StoreOutcome] {
        do {
            return try await database.writeWithoutTransaction { db in try self.storeNow(records, db) }
        } catch let error as DatabaseError {
            throw Self.storeError(error)
        }
    }

    /// The same as ``store(_:)``, blocking the caller (for benchmarks and tools that run outside the cooperative pool).
    public func storeBlocking(_ records: [AcceptedInterval]) throws -> [StoreOutcome] {
        do {
            return try database.writeWithoutTransaction { db in try self.storeNow(records, db) }
        } catch let error as DatabaseError {
            throw Self.storeError(error)
        }
    }

    /// SQLite's refusal of these records (a constraint, a value too big or of the wrong type), or
    /// else the store being unavailable for now: locked by another process, disk full, read-only,
    /// I/O error. Unavailable is the default, so that an unforeseen code keeps records rather than dropping them.
    static func storeError(_ error: DatabaseError) -> AggregatorStoreError {
        let refused: [ResultCode] = [.SQLITE_CONSTRAINT, .SQLITE_TOOBIG, .SQLITE_MISMATCH, .SQLITE_RANGE, .SQLITE_ERROR]
        return AggregatorStoreError(refused.contains(error.resultCode) ? .query : .unavailable, operation: "store", detail: "\(error)")
    }

    private func storeNow(_ records: [AcceptedInterval], _ db: Database) throws -> [StoreOutcome] {
        // IMMEDIATE: another aggregator instance may write the same file; taking the write lock before
        // the first read avoids a stale snapshot (SQLITE_BUSY_SNAPSHOT) between the key check and the insert.
        var outcomes: [StoreOutcome] = []
        outcomes.reserveCapacity(records.count)
        try db.inTransaction(.immediate) {
            var statements = try BatchStatements(db)
            var rollups = RollupBatch()
            for record in records { outcomes.append(try self.store(record, &rollups, &statements, db)) }
            try self.flush(rollups, db)
            return .commit
        }
        return outcomes
    }

    static let recordColumns = ["hub", "interval_start", "sequence", "record_id", "hash", "previous_hash", "kpi_definitions",
                                "agent_version", "payload_id", "received_at", "chain", "complete", "estimated_share",
                                "raw_consumption", "raw_import", "raw_export", "raw_production"] + StoreColumns.hubAndEnergy
    static let participantColumns = ["hub", "interval_start", "participant"] + StoreColumns.participantAndEnergy
    static let recordInsertSQL = insertSQL("interval_record", recordColumns)
    /// The row with this record's key, and the rows with sequence − 1, sequence and sequence + 1, in one statement.
    static let neighboursSQL = """
        SELECT interval_start, sequence, hash, previous_hash FROM interval_record WHERE hub = ?1 AND interval_start = ?2
        UNION ALL
        SELECT interval_start, sequence, hash, previous_hash FROM interval_record WHERE hub = ?1 AND sequence BETWEEN ?3 - 1 AND ?3 + 1
        """

    /// The statements of one store transaction, looked up once per batch (not per record: the
    /// statement cache hashes the SQL text), with a multi-row company insert per company count.
    struct BatchStatements {
        let neighbours: Statement
        let payloadInsert: Statement
        let recordInsert: Statement
        var participantInserts: [Int: Statement] = [:]

        init(_ db: Database) throws {
            neighbours = SQLiteBinder.prepare(try db.cachedStatement(sql: SQLiteAggregatorStore.neighboursSQL))
            payloadInsert = SQLiteBinder.prepare(try db.cachedStatement(
                sql: "INSERT INTO interval_payload (encoding, payload) VALUES (?, ?)"))
            recordInsert = SQLiteBinder.prepare(try db.cachedStatement(sql: SQLiteAggregatorStore.recordInsertSQL))
        }

        mutating func participantInsert(count: Int, _ db: Database) throws -> Statement {
            if let statement = participantInserts[count] { return statement }
            let columns = SQLiteAggregatorStore.participantColumns
            let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
            let statement = SQLiteBinder.prepare(try db.cachedStatement(
                sql: "INSERT INTO participant_interval (\(columns.joined(separator: ", "))) VALUES " + Array(repeating: row, count: count).joined(separator: ", ")))
            participantInserts[count] = statement
            return statement
        }
    }

    private func store(_ accepted: AcceptedInterval, _ rollups: inout RollupBatch, _ statements: inout BatchStatements,
                       _ db: Database) throws -> StoreOutcome {
        let message = accepted.message
        let start = accepted.interval.start.rawValue
        var byKey: (hash: String, sequence: Int64)?
        var bySequence: (hash: String, start: Int64)?
        var previousHash: String?
        var successorPreviousHash: String?
        var neighbours = SQLiteBinder(statements.neighbours)
        neighbours.bind(message.hub)
        neighbours.bind(start)
        neighbours.bind(message.sequence)
        try neighbours.forEachRow { row in
            let rowStart = row.int64(0), sequence = row.int64(1)
            if rowStart == start { byKey = (row.text(2), sequence) }
            if sequence == message.sequence { bySequence = (row.text(2), rowStart) }
            if sequence == message.sequence - 1 { previousHash = row.text(2) }
            if sequence == message.sequence + 1 { successorPreviousHash = row.text(3) }
        }
        if let byKey {
            if byKey.hash == message.hash { return .duplicate }
            return try keepAside(accepted, existingHash: byKey.hash,
                                 reason: "interval \(accepted.interval.start) is already stored with sequence \(byKey.sequence) and another hash", db)
        }
        if let bySequence {
            return try keepAside(accepted, existingHash: bySequence.hash,
                                 reason: "sequence \(message.sequence) is already stored for interval \(UTCMilliseconds(bySequence.start))", db)
        }
        let chain = Self.chain(of: message, previousHash: previousHash)
        let sums = accepted.sums
        let totals = accepted.hubTotals
        var payload = SQLiteBinder(statements.payloadInsert)
        let frame = accepted.payloadFrame ?? PayloadFrame.frame(of: accepted.payload)
        payload.bind((frame == nil ? PayloadFrame.Encoding.raw : .lz4).rawValue)
        try payload.bindingInPlace(frame ?? accepted.payload) { try statements.payloadInsert.execute() }
        let payloadID = db.lastInsertedRowID
        var record = SQLiteBinder(statements.recordInsert)
        record.bind(message.hub)
        record.bind(start)
        record.bind(message.sequence)
        record.bind(message.recordID)
        record.bind(message.hash)
        record.bind(message.previousHash)
        record.bind(message.kpiDefinitions)
        record.bind(message.agentVersion)
        record.bind(payloadID)
        record.bind(accepted.receivedAt.rawValue)
        record.bind(chain.rawValue)
        record.bind(sums.isComplete)
        record.bind(sums.estimatedShare)
        record.bind(totals.consumptionWh)
        record.bind(totals.gridImportWh)
        record.bind(totals.gridExportWh)
        record.bind(accepted.rawProductionWh)
        record.bind(sums.hub)
        record.bind(sums.energy)
        try statements.recordInsert.execute()

        // All of a record's companies in one statement.
        let participantCount = sums.participants.count
        if participantCount > 0 {
            let statement = try statements.participantInsert(count: participantCount, db)
            var participants = SQLiteBinder(statement)
            for (kpis, energy) in zip(sums.participants, sums.participantEnergy) {
                participants.bind(message.hub)
                participants.bind(start)
                participants.bind(kpis.participant.rawValue)
                participants.bind(kpis)
                participants.bind(energy)
            }
            try statement.execute()
        }
        rollups.add(hub: message.hub, start: start, sums: sums)
        // A successor that arrived first now has its predecessor.
        if let successorPreviousHash {
            try db.cachedStatement(sql: "UPDATE interval_record SET chain = ? WHERE hub = ? AND sequence = ?")
                .execute(arguments: [successorPreviousHash == message.hash ? ChainLink.linked.rawValue : ChainLink.broken.rawValue,
                                     message.hub, message.sequence + 1])
        }
        return .stored(chain: chain)
    }

    /// The link of a new record, given the hash of the stored record with sequence − 1 (if any).
    static func chain(of message: IntervalMessage, previousHash: String?) -> ChainLink {
        if message.sequence == 1 { return message.previousHash == IntervalMessage.genesisHash ? .linked : .broken }
        guard let previousHash else { return .open }
        return previousHash == message.previousHash ? .linked : .broken
    }

    private func flush(_ rollups: RollupBatch, _ db: Database) throws {
        for grain in RollupBatch.Grain.allCases {
            let (hubTable, participantTable, key) = grain == .day ? ("daily_hub", "daily_participant", "day")
                                                                  : ("monthly_hub", "monthly_participant", "month")
            let hubUpsert = SQLiteBinder.prepare(try db.cachedStatement(sql: Self.upsertSQL(
                hubTable, keys: ["hub", key], fixed: ["received", "estimated"], added: StoreColumns.hubAndEnergy)))
            for (id, increment) in rollups.hub[grain]! {
                var upsert = SQLiteBinder(hubUpsert)
                upsert.bind(id.hub)
                upsert.bind(id.bucket)
                upsert.bind(Int64(increment.received))
                upsert.bind(Int64(increment.estimated))
                upsert.bind(increment.values)
                try hubUpsert.execute()
            }
            let participantUpsert = SQLiteBinder.prepare(try db.cachedStatement(sql: Self.upsertSQL(
                participantTable, keys: ["hub", key, "participant"], fixed: [], added: StoreColumns.participantAndEnergy)))
            for (id, values) in rollups.participant[grain]! {
                var upsert = SQLiteBinder(participantUpsert)
                upsert.bind(id.hub)
                upsert.bind(id.bucket)
                upsert.bind(id.participant)
                upsert.bind(values)
                try participantUpsert.execute()
            }
        }
    }

    private func keepAside(_ accepted: AcceptedInterval, existingHash: String?, reason: String, _ db: Database) throws -> StoreOutcome {
        // The same conflicting record received again is one conflict, not two.
        try db.cachedStatement(sql: """
            INSERT INTO conflict (hub, interval_start, sequence, hash, existing_hash, reason, payload, received_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hub, interval_start, hash) DO NOTHING
            """).execute(arguments: [accepted.message.hub, accepted.interval.start.rawValue, accepted.message.sequence,
                                     accepted.message.hash, existingHash, reason, Data(accepted.payload), accepted.receivedAt.rawValue])
        return .conflict(reason: reason)
    }

    public func recordStatus(hub: String, status: StatusMessage, at: UTCMilliseconds) async throws {
        try await database.write { db in
            try db.execute(sql: """
                INSERT INTO hub_state (hub, last_status, last_status_at, status_version) VALUES (?, ?, ?, ?)
                ON CONFLICT (hub) DO UPDATE SET last_status = excluded.last_status, last_status_at = excluded.last_status_at,
                status_version = excluded.status_version
                """, arguments: [hub, status.state, at.rawValue, status.version])
        }
    }

    public func recordRejection(_ rejection: Rejection, at: UTCMilliseconds) async throws {
        try await database.write { db in
            try db.execute(sql: """
                INSERT INTO rejection (reason, count, last_topic, last_detail, last_at) VALUES (?, 1, ?, ?, ?)
                ON CONFLICT (reason) DO UPDATE SET count = count + 1, last_topic = excluded.last_topic,
                last_detail = excluded.last_detail, last_at = excluded.last_at
                """, arguments: [rejection.reason.rawValue, rejection.topic, String(rejection.detail.prefix(500)), at.rawValue])
        }
    }

    // MARK: Queries

    public func hubs() async throws -> [StoredHub] {
        try await database.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT h.hub, COUNT(r.interval_start) AS records, MIN(r.interval_start) AS first, MAX(r.interval_start) AS last,
                       MAX(r.sequence) AS last_sequence, s.last_status, s.last_status_at
                FROM (SELECT hub FROM interval_record UNION SELECT hub FROM hub_state) h
                LEFT JOIN interval_record r ON r.hub = h.hub
                LEFT JOIN hub_state s ON s.hub = h.hub
                GROUP BY h.hub ORDER BY h.hub
                """)
            return rows.map { (row: Row) -> StoredHub in
                let first: Int64? = row["first"], last: Int64? = row["last"], statusAt: Int64? = row["last_status_at"]
                let hub: String = row["hub"], records: Int = row["records"], sequence: Int64? = row["last_sequence"]
                let status: String? = row["last_status"]
                return StoredHub(hub: hub, records: records, firstInterval: first.map { UTCMilliseconds($0) },
                                 lastInterval: last.map { UTCMilliseconds($0) }, lastSequence: sequence, lastStatus: status,
                                 lastStatusAt: statusAt.map { UTCMilliseconds($0) })
            }
        }
    }

    public func sums(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> RangeSums {
        try await database.read { db in try Self.sums(hub: hub, from: from, to: to, db) }
    }

    static func sums(hub: String, from: UTCMilliseconds, to: UTCMilliseconds, _ db: Database) throws -> RangeSums {
        var result = RangeSums()
        for piece in RangePlan(from: from, to: to).pieces {
            let (hubTable, participantTable, key, received, estimated) = switch piece.source {
            case .months: ("monthly_hub", "monthly_participant", "month", "SUM(received)", "SUM(estimated)")
            case .days: ("daily_hub", "daily_participant", "day", "SUM(received)", "SUM(estimated)")
            case .intervals: ("interval_record", "participant_interval", "interval_start", "COUNT(*)", "SUM(estimated_share > 0)")
            }
            let columns = StoreColumns.hubAndEnergy.map { "TOTAL(\($0))" }.joined(separator: ", ")
            if let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT \(received), \(estimated), \(columns)
                FROM \(hubTable) WHERE hub = ? AND \(key) >= ? AND \(key) < ?
                """), arguments: [hub, piece.from, piece.to]) {
                result.receivedIntervals += (row[0] as Int?) ?? 0
                result.estimatedIntervals += (row[1] as Int?) ?? 0
                StoreColumns.addHub((2..<row.count).map { row[$0] as Double }, to: &result.hub, energy: &result.energy)
            }
            let participantColumns = StoreColumns.participantAndEnergy.map { "TOTAL(\($0))" }.joined(separator: ", ")
            let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT participant, \(participantColumns) FROM \(participantTable)
                WHERE hub = ? AND \(key) >= ? AND \(key) < ? GROUP BY participant
                """), arguments: [hub, piece.from, piece.to])
            while let row = try rows.next() {
                let id: String = row[0]
                var kpis = result.participants[id] ?? ParticipantKPIs(participant: ParticipantID(id))
                var energy = result.participantEnergy[id] ?? EnergyTotals()
                StoreColumns.addParticipant((1..<row.count).map { row[$0] as Double }, to: &kpis, energy: &energy)
                result.participants[id] = kpis
                result.participantEnergy[id] = energy
            }
        }
        // Only the few records that are not linked are counted (index on hub, chain); linked = received − those.
        var unlinked = 0
        for row in try Row.fetchAll(db.cachedStatement(sql: """
            SELECT chain, COUNT(*) AS n FROM interval_record
            WHERE hub = ? AND chain IN ('open', 'broken') AND interval_start >= ? AND interval_start < ? GROUP BY chain
            """), arguments: [hub, from.rawValue, to.rawValue]) {
            if let link = ChainLink(rawValue: row["chain"]) {
                result.chain[link] = row["n"]
                unlinked += row["n"] as Int
            }
        }
        if result.receivedIntervals > unlinked { result.chain[.linked] = result.receivedIntervals - unlinked }
        return result
    }

    public func daily(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [DailySums] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT day, received, \(StoreColumns.hubAndEnergy.joined(separator: ", ")) FROM daily_hub
                WHERE hub = ? AND day >= ? AND day < ? ORDER BY day
                """, arguments: [hub, Self.floorDay(from.rawValue), to.rawValue]).map { row in
                var kpis = HubKPIs(), energy = EnergyTotals()
                StoreColumns.addHub((2..<row.count).map { row[$0] as Double }, to: &kpis, energy: &energy)
                return DailySums(day: UTCMilliseconds(row["day"] as Int64), hub: kpis, receivedIntervals: row["received"])
            }
        }
    }

    public func intervals(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [StoredInterval] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT interval_start, sequence, hash, chain, complete, estimated_share, raw_consumption, raw_import, raw_export,
                       raw_production, e_charge, e_discharge, e_shared
                FROM interval_record WHERE hub = ? AND interval_start >= ? AND interval_start < ? ORDER BY interval_start
                """, arguments: [hub, from.rawValue, to.rawValue]).map { row in
                StoredInterval(hub: hub, intervalStart: UTCMilliseconds(row["interval_start"] as Int64), sequence: row["sequence"],
                               hash: row["hash"], chain: ChainLink(rawValue: row["chain"]) ?? .open, complete: row["complete"],
                               estimatedShare: row["estimated_share"], consumptionWh: row["raw_consumption"], importWh: row["raw_import"],
                               exportWh: row["raw_export"], productionWh: row["raw_production"], batteryChargeWh: row["e_charge"],
                               batteryDischargeWh: row["e_discharge"], sharedWh: row["e_shared"])
            }
        }
    }

    public func intervalGaps(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [IntervalGap] {
        let lower = from.quarterHourCeiling.rawValue, upper = to.quarterHourCeiling.rawValue
        guard lower < upper else { return [] }
        // The daily rollup says which days are complete; only the others are searched interval by interval.
        return try await database.read { db in
            var received: [Int64: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT day, received FROM daily_hub WHERE hub = ? AND day >= ? AND day < ?",
                                        arguments: [hub, Self.floorDay(lower), upper]) {
                received[row["day"]] = row["received"]
            }
            var search = GapSearch()
            let starts = try db.cachedStatement(sql: "SELECT interval_start FROM interval_record WHERE hub = ? AND interval_start >= ? AND interval_start < ? ORDER BY interval_start")
            for window in GapSearch.windows(lower: lower, upper: upper, received: received) {
                switch window.day {
                case .complete: break
                case .missing: search.add(window.from, window.to)
                case .search: search.add(window, starts: try Int64.fetchAll(starts, arguments: [hub, window.from, window.to]))
                }
            }
            return search.gaps
        }
    }

    public func sequenceGaps(hub: String) async throws -> [SequenceGap] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT previous + 1 AS first, sequence - 1 AS last FROM (
                    SELECT sequence, LAG(sequence, 1, 0) OVER (ORDER BY sequence) AS previous
                    FROM interval_record WHERE hub = ?)
                WHERE sequence - previous > 1 ORDER BY first
                """, arguments: [hub]).map { SequenceGap(first: $0["first"], last: $0["last"]) }
        }
    }

    public func conflicts(hub: String?) async throws -> [StoredConflict] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, hub, interval_start, sequence, hash, existing_hash, reason, received_at FROM conflict
                WHERE ?1 IS NULL OR hub = ?1 ORDER BY hub, interval_start, id
                """, arguments: [hub]).map { row in
                StoredConflict(id: row["id"], hub: row["hub"], intervalStart: UTCMilliseconds(row["interval_start"] as Int64),
                               sequence: row["sequence"], hash: row["hash"], existingHash: row["existing_hash"], reason: row["reason"],
                               receivedAt: UTCMilliseconds(row["received_at"] as Int64))
            }
        }
    }

    public func payload(hub: String, sequence: Int64) async throws -> [UInt8]? {
        let stored = try await database.read { db in
            try Row.fetchOne(db, sql: """
                SELECT p.payload, p.encoding FROM interval_record r JOIN interval_payload p ON p.id = r.payload_id
                WHERE r.hub = ? AND r.sequence = ?
                """, arguments: [hub, sequence]).map { row in (bytes: [UInt8](row["payload"] as Data), encoding: row["encoding"] as String) }
        }
        guard let stored else { return nil }
        switch PayloadFrame.Encoding(rawValue: stored.encoding) {
        case .raw:
            return stored.bytes
        case .lz4:
            do { return try PayloadFrame.decompress(stored.bytes) } catch {
                throw AggregatorStoreError(.damaged, operation: "payload of \(hub) #\(sequence)", detail: error.description)
            }
        case nil:
            throw AggregatorStoreError(.damaged, operation: "payload of \(hub) #\(sequence)",
                                       detail: "unknown encoding '\(stored.encoding)'; expected raw or lz4")
        }
    }

    /// Compresses the payload on the classifier's core: the writer then only binds the frame.
    public func prepare(_ record: inout AcceptedInterval) {
        record.payloadFrame = PayloadFrame.frame(of: record.payload)
    }

    public func rejectionCounts() async throws -> [String: Int] {
        try await database.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT reason, count FROM rejection").map { ($0["reason"], $0["count"]) })
        }
    }

    // MARK: Column mapping

    static func insertSQL(_ table: String, _ columns: [String]) -> String {
        "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
    }

    static func upsertSQL(_ table: String, keys: [String], fixed: [String], added: [String]) -> String {
        let all = keys + fixed + added
        let updates = (fixed + added).map { "\($0) = \($0) + excluded.\($0)" }.joined(separator: ", ")
        return insertSQL(table, all) + " ON CONFLICT (\(keys.joined(separator: ", "))) DO UPDATE SET \(updates)"
    }

    static func floorDay(_ ms: Int64) -> Int64 { UTCCalendar.floorDay(ms) }
}
