import Foundation
import HubContract
import HubDomain
import Logging
import PostgresNIO

/// The aggregator's store on PostgreSQL, through postgres-nio: the same tables, rollups and
/// semantics as ``SQLiteAggregatorStore``, for regions that outgrow one machine.
///
/// Several aggregator instances may share one database (and one MQTT shared subscription). Each
/// ``store(_:)`` call is one transaction that first takes a transaction-scoped advisory lock per
/// hub (in sorted order, so two batches never wait for each other in a cycle): the key and
/// sequence checks, the chain bookkeeping and the inserts of one hub are serialized across
/// instances, and a record delivered to two instances is stored by one and found as a duplicate by
/// the other. Rollups are `INSERT … ON CONFLICT DO UPDATE` increments in the same transaction.
///
/// Migrations are recorded in `hubmeter_migrations` and applied under an advisory lock, so
/// instances starting together migrate once.
public final class PostgresAggregatorStore: AggregatorStore {
    /// Where and how to connect. The password is passed in, never logged (``description`` leaves it out).
    public struct Settings: Sendable, CustomStringConvertible {
        public enum TLS: Sendable { case disable, prefer, require }
        public var host: String
        public var port: Int
        /// A directory holding the server's Unix socket; when set, `host`, `port` and `tls` are not used.
        public var unixSocketDirectory: String?
        public var database: String
        public var user: String
        public var password: String?
        public var tls: TLS
        /// Connections in the pool.
        public var maximumConnections: Int

        public init(host: String = "localhost", port: Int = 5432, unixSocketDirectory: String? = nil, database: String, user: String,
                    password: String? = nil, tls: TLS = .require, maximumConnections: Int = 8) {
            self.host = host
            self.port = port
            self.unixSocketDirectory = unixSocketDirectory
            self.database = database
            self.user = user
            self.password = password
            self.tls = tls
            self.maximumConnections = maximumConnections
        }

        public var description: String {
            let place = unixSocketDirectory.map { "socket \($0)/.s.PGSQL.\(port)" } ?? "\(host):\(port) tls \(tls)"
            return "postgres \(user)@\(place)/\(database)"
        }

        public var clientConfiguration: PostgresClient.Configuration {
            var configuration: PostgresClient.Configuration
            if let unixSocketDirectory {
                configuration = .init(unixSocketPath: "\(unixSocketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
            } else {
                let tlsConfiguration = TLSConfiguration.makeClientConfiguration()
                let mode: PostgresClient.Configuration.TLS = switch tls {
                case .disable: .disable
                case .prefer: .prefer(tlsConfiguration)
                case .require: .require(tlsConfiguration)
                }
                configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: mode)
            }
            configuration.options.maximumConnections = maximumConnections
            configuration.options.minimumConnections = 0
            return configuration
        }
    }

    public let settings: Settings
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    /// Connects, applies the migrations that are missing and returns the store.
    public static func open(_ settings: Settings, logger: Logger) async throws -> PostgresAggregatorStore {
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        let store = PostgresAggregatorStore(settings: settings, logger: logger, started: signal)
        // The pool's run loop first (postgres-nio warns about leases before it runs).
        for await _ in started { break }
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    private init(settings: Settings, logger: Logger, started: AsyncStream<Void>.Continuation) {
        self.settings = settings
        self.logger = logger
        let client = PostgresClient(configuration: settings.clientConfiguration, backgroundLogger: logger)
        self.client = client
        runner = Task {
            started.yield()
            started.finish()
            await client.run()
        }
    }

    public func close() async {
        runner.cancel()
        await runner.value
    }

    // MARK: Schema

    static func columnDefinitions(_ names: [String]) -> String {
        names.map { "\($0) DOUBLE PRECISION NOT NULL" }.joined(separator: ", ")
    }

    /// The first millisecond of the UTC month of `column` (milliseconds), in SQL.
    static func monthOf(_ column: String) -> String {
        "(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(\(column) / 1000) AT TIME ZONE 'UTC')) * 1000)::bigint"
    }

    /// Named migrations in order; the names are those of the SQLite store's migrations.
    static var migrations: [(name: String, statements: [String])] {
        let hub = columnDefinitions(StoreColumns.hub), participant = columnDefinitions(StoreColumns.participant),
            energy = columnDefinitions(StoreColumns.energy)
        let hubSums = StoreColumns.hubAndEnergy.map { "SUM(\($0))" }.joined(separator: ", ")
        let participantSums = StoreColumns.participantAndEnergy.map { "SUM(\($0))" }.joined(separator: ", ")
        return [
            ("v1", [
                """
                CREATE TABLE interval_record (
                    hub TEXT NOT NULL, interval_start BIGINT NOT NULL, sequence BIGINT NOT NULL,
                    record_id TEXT NOT NULL, hash TEXT NOT NULL, previous_hash TEXT NOT NULL,
                    kpi_definitions TEXT NOT NULL, agent_version TEXT NOT NULL, payload BYTEA NOT NULL,
                    received_at BIGINT NOT NULL, chain TEXT NOT NULL, complete BOOLEAN NOT NULL, estimated_share DOUBLE PRECISION NOT NULL,
                    raw_consumption DOUBLE PRECISION, raw_import DOUBLE PRECISION, raw_export DOUBLE PRECISION, raw_production DOUBLE PRECISION,
                    \(hub), \(energy),
                    PRIMARY KEY (hub, interval_start)
                )
                """,
                "CREATE UNIQUE INDEX interval_record_sequence ON interval_record (hub, sequence)",
                "CREATE INDEX interval_record_chain ON interval_record (hub, chain, interval_start)",
                """
                CREATE TABLE participant_interval (
                    hub TEXT NOT NULL, interval_start BIGINT NOT NULL, participant TEXT NOT NULL,
                    \(participant), \(energy),
                    PRIMARY KEY (hub, interval_start, participant)
                )
                """,
                """
                CREATE TABLE daily_hub (
                    hub TEXT NOT NULL, day BIGINT NOT NULL, received BIGINT NOT NULL, estimated BIGINT NOT NULL,
                    \(hub), \(energy),
                    PRIMARY KEY (hub, day)
                )
                """,
                """
                CREATE TABLE daily_participant (
                    hub TEXT NOT NULL, day BIGINT NOT NULL, participant TEXT NOT NULL,
                    \(participant), \(energy),
                    PRIMARY KEY (hub, day, participant)
                )
                """,
                """
                CREATE TABLE conflict (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, hub TEXT NOT NULL, interval_start BIGINT NOT NULL,
                    sequence BIGINT NOT NULL, hash TEXT NOT NULL, existing_hash TEXT, reason TEXT NOT NULL,
                    payload BYTEA NOT NULL, received_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX conflict_unique ON conflict (hub, interval_start, hash)",
                """
                CREATE TABLE rejection (
                    reason TEXT NOT NULL PRIMARY KEY, count BIGINT NOT NULL, last_topic TEXT NOT NULL,
                    last_detail TEXT NOT NULL, last_at BIGINT NOT NULL
                )
                """,
                "CREATE TABLE hub_state (hub TEXT NOT NULL PRIMARY KEY, last_status TEXT, last_status_at BIGINT, status_version TEXT)",
            ]),
            ("v2-monthly-rollups", [
                """
                CREATE TABLE monthly_hub (
                    hub TEXT NOT NULL, month BIGINT NOT NULL, received BIGINT NOT NULL, estimated BIGINT NOT NULL,
                    \(hub), \(energy),
                    PRIMARY KEY (hub, month)
                )
                """,
                """
                CREATE TABLE monthly_participant (
                    hub TEXT NOT NULL, month BIGINT NOT NULL, participant TEXT NOT NULL,
                    \(participant), \(energy),
                    PRIMARY KEY (hub, month, participant)
                )
                """,
                """
                INSERT INTO monthly_hub (hub, month, received, estimated, \(StoreColumns.hubAndEnergy.joined(separator: ", ")))
                SELECT hub, \(monthOf("day")) AS m, SUM(received), SUM(estimated), \(hubSums)
                FROM daily_hub GROUP BY hub, m
                """,
                """
                INSERT INTO monthly_participant (hub, month, participant, \(StoreColumns.participantAndEnergy.joined(separator: ", ")))
                SELECT hub, \(monthOf("day")) AS m, participant, \(participantSums)
                FROM daily_participant GROUP BY hub, m, participant
                """,
            ]),
        ]
    }

    /// An arbitrary constant: the advisory lock that serializes migrations across instances.
    static let migrationLock: Int64 = 0x6875_626d_6574_6572

    func migrate() async throws {
        try await run("migrate") { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS hubmeter_migrations (
                        identifier TEXT NOT NULL PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                    """, logger: logger)
                var applied: Set<String> = []
                for try await identifier in try await connection.query("SELECT identifier FROM hubmeter_migrations", logger: logger)
                    .decode(String.self) {
                    applied.insert(identifier)
                }
                for migration in Self.migrations where !applied.contains(migration.name) {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO hubmeter_migrations (identifier) VALUES (\(migration.name))", logger: logger)
                }
            }
        }
    }

    /// SQLSTATEs of a server that cannot do the work now but may later: classes 08 connection,
    /// 40 transaction rollback (serialization, deadlock), 53 insufficient resources (disk full),
    /// 57 operator intervention (shutdown, cancelled), 58 system error (I/O); and 25006, a
    /// read-only session (a standby after a failover, or a database set read-only for maintenance).
    static func isTransient(sqlState: String?) -> Bool {
        guard let sqlState, sqlState.count == 5 else { return false }
        return sqlState == "25006" || ["08", "40", "53", "57", "58"].contains(String(sqlState.prefix(2)))
    }

    /// Runs `body`, turning postgres-nio's errors into ``AggregatorStoreError`` with the server's message.
    private func run<Result: Sendable>(_ operation: String,
                                       _ body: (PostgresClient, Logger) async throws -> Result) async throws -> Result {
        do {
            return try await body(client, logger)
        } catch let error as PSQLError {
            let code: AggregatorStoreError.Code = operation == "migrate" ? .migration
                : error.code != .server ? .connection
                : Self.isTransient(sqlState: error.serverInfo?[.sqlState]) ? .unavailable : .query
            var detail = "\(error.code)"
            if let info = error.serverInfo {
                detail += ": " + [info[.sqlState], info[.message], info[.detail]].compactMap { $0 }.joined(separator: " ")
            }
            throw AggregatorStoreError(code, operation: operation, detail: detail)
        } catch let error as PostgresTransactionError {
            let underlying = [error.beginError, error.closureError, error.rollbackError, error.commitError].compactMap { $0 }
            var detail = "transaction failed"
            for case let psql as PSQLError in underlying {
                detail += "; \(psql.code)"
                if let info = psql.serverInfo { detail += ": " + [info[.sqlState], info[.message]].compactMap { $0 }.joined(separator: " ") }
            }
            for other in underlying where !(other is PSQLError) { detail += "; \(other)" }
            // Away, not refusing, when any step failed for want of the server (or for a transient server state).
            let away = underlying.contains { error in
                guard let psql = error as? PSQLError else { return false }
                return psql.code != .server || Self.isTransient(sqlState: psql.serverInfo?[.sqlState])
            }
            throw AggregatorStoreError(away ? .unavailable : .query, operation: operation, detail: detail)
        } catch let error as AggregatorStoreError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // The pool's own errors: the server could not be reached (its circuit breaker gave up) or the pool shut down.
            throw AggregatorStoreError(.connection, operation: operation, detail: "\(settings): \(error)")
        }
    }

    // MARK: Ingest

    public func store(_ records: [AcceptedInterval]) async throws -> [StoreOutcome] {
        guard !records.isEmpty else { return [] }
        return try await run("store") { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                for hub in Set(records.map(\.message.hub)).sorted() {
                    try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(hub), 7))", logger: logger)
                }
                var rollups = RollupBatch()
                var outcomes: [StoreOutcome] = []
                for record in records { outcomes.append(try await Self.store(record, &rollups, connection, logger)) }
                try await Self.flush(rollups, connection, logger)
                return outcomes
            }
        }
    }

    static let recordColumns = ["hub", "interval_start", "sequence", "record_id", "hash", "previous_hash", "kpi_definitions",
                                "agent_version", "payload", "received_at", "chain", "complete", "estimated_share",
                                "raw_consumption", "raw_import", "raw_export", "raw_production"] + StoreColumns.hubAndEnergy

    static func placeholders(_ count: Int, from first: Int = 1) -> String {
        "(" + (first..<first + count).map { "$\($0)" }.joined(separator: ", ") + ")"
    }

    private static func store(_ accepted: AcceptedInterval, _ rollups: inout RollupBatch, _ connection: PostgresConnection,
                              _ logger: Logger) async throws -> StoreOutcome {
        let message = accepted.message
        let start = accepted.interval.start.rawValue
        var byKey: (hash: String, sequence: Int64)?
        var bySequence: (hash: String, start: Int64)?
        var previousHash: String?
        var successorPreviousHash: String?
        var binds = PostgresBindings()
        binds.append(message.hub)
        binds.append(start)
        binds.append(message.sequence)
        let rows = try await connection.query(PostgresQuery(unsafeSQL: """
            SELECT interval_start, sequence, hash, previous_hash FROM interval_record WHERE hub = $1 AND interval_start = $2
            UNION ALL
            SELECT interval_start, sequence, hash, previous_hash FROM interval_record WHERE hub = $1 AND sequence BETWEEN $3 - 1 AND $3 + 1
            """, binds: binds), logger: logger)
        for try await (rowStart, sequence, hash, rowPrevious) in rows.decode((Int64, Int64, String, String).self) {
            if rowStart == start { byKey = (hash, sequence) }
            if sequence == message.sequence { bySequence = (hash, rowStart) }
            if sequence == message.sequence - 1 { previousHash = hash }
            if sequence == message.sequence + 1 { successorPreviousHash = rowPrevious }
        }
        if let byKey {
            if byKey.hash == message.hash { return .duplicate }
            return try await keepAside(accepted, existingHash: byKey.hash,
                                       reason: "interval \(accepted.interval.start) is already stored with sequence \(byKey.sequence) and another hash",
                                       connection, logger)
        }
        if let bySequence {
            return try await keepAside(accepted, existingHash: bySequence.hash,
                                       reason: "sequence \(message.sequence) is already stored for interval \(UTCMilliseconds(bySequence.start))",
                                       connection, logger)
        }
        let chain = SQLiteAggregatorStore.chain(of: message, previousHash: previousHash)
        let sums = accepted.sums
        let totals = accepted.hubTotals
        var record = PostgresBindings(capacity: recordColumns.count)
        record.append(message.hub)
        record.append(start)
        record.append(message.sequence)
        record.append(message.recordID)
        record.append(message.hash)
        record.append(message.previousHash)
        record.append(message.kpiDefinitions)
        record.append(message.agentVersion)
        record.append(ByteBuffer(bytes: accepted.payload))
        record.append(accepted.receivedAt.rawValue)
        record.append(chain.rawValue)
        record.append(sums.isComplete)
        record.append(sums.estimatedShare)
        record.append(totals.consumptionWh)
        record.append(totals.gridImportWh)
        record.append(totals.gridExportWh)
        record.append(accepted.rawProductionWh)
        for value in StoreColumns.values(sums.hub) + StoreColumns.values(sums.energy) { record.append(value) }
        try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO interval_record (\(recordColumns.joined(separator: ", "))) VALUES "
            + placeholders(recordColumns.count), binds: record), logger: logger)

        // All of a record's companies in one statement.
        let columns = ["hub", "interval_start", "participant"] + StoreColumns.participantAndEnergy
        if !sums.participants.isEmpty {
            var participantBinds = PostgresBindings(capacity: columns.count * sums.participants.count)
            var rowsSQL: [String] = []
            for (kpis, energy) in zip(sums.participants, sums.participantEnergy) {
                rowsSQL.append(placeholders(columns.count, from: participantBinds.count + 1))
                participantBinds.append(message.hub)
                participantBinds.append(start)
                participantBinds.append(kpis.participant.rawValue)
                for value in StoreColumns.values(kpis) + StoreColumns.values(energy) { participantBinds.append(value) }
            }
            try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO participant_interval (\(columns.joined(separator: ", "))) VALUES "
                + rowsSQL.joined(separator: ", "), binds: participantBinds), logger: logger)
        }
        rollups.add(hub: message.hub, start: start, sums: sums)
        // A successor that arrived first now has its predecessor.
        if let successorPreviousHash {
            let link = successorPreviousHash == message.hash ? ChainLink.linked.rawValue : ChainLink.broken.rawValue
            try await connection.query("UPDATE interval_record SET chain = \(link) WHERE hub = \(message.hub) AND sequence = \(message.sequence + 1)",
                                       logger: logger)
        }
        return .stored(chain: chain)
    }

    private static func flush(_ rollups: RollupBatch, _ connection: PostgresConnection, _ logger: Logger) async throws {
        for grain in RollupBatch.Grain.allCases {
            let (hubTable, participantTable, key) = grain == .day ? ("daily_hub", "daily_participant", "day")
                                                                  : ("monthly_hub", "monthly_participant", "month")
            let hubSQL = upsertSQL(hubTable, keys: ["hub", key], fixed: ["received", "estimated"], added: StoreColumns.hubAndEnergy)
            for (id, increment) in rollups.hub[grain]! {
                var binds = PostgresBindings()
                binds.append(id.hub)
                binds.append(id.bucket)
                binds.append(Int64(increment.received))
                binds.append(Int64(increment.estimated))
                for value in increment.values { binds.append(value) }
                try await connection.query(PostgresQuery(unsafeSQL: hubSQL, binds: binds), logger: logger)
            }
            let participantSQL = upsertSQL(participantTable, keys: ["hub", key, "participant"], fixed: [], added: StoreColumns.participantAndEnergy)
            for (id, values) in rollups.participant[grain]! {
                var binds = PostgresBindings()
                binds.append(id.hub)
                binds.append(id.bucket)
                binds.append(id.participant)
                for value in values { binds.append(value) }
                try await connection.query(PostgresQuery(unsafeSQL: participantSQL, binds: binds), logger: logger)
            }
        }
    }

    static func upsertSQL(_ table: String, keys: [String], fixed: [String], added: [String]) -> String {
        let all = keys + fixed + added
        let updates = (fixed + added).map { "\($0) = \(table).\($0) + excluded.\($0)" }.joined(separator: ", ")
        return "INSERT INTO \(table) (\(all.joined(separator: ", "))) VALUES \(placeholders(all.count)) "
            + "ON CONFLICT (\(keys.joined(separator: ", "))) DO UPDATE SET \(updates)"
    }

    private static func keepAside(_ accepted: AcceptedInterval, existingHash: String?, reason: String, _ connection: PostgresConnection,
                                  _ logger: Logger) async throws -> StoreOutcome {
        // The same conflicting record received again is one conflict, not two.
        try await connection.query("""
            INSERT INTO conflict (hub, interval_start, sequence, hash, existing_hash, reason, payload, received_at)
            VALUES (\(accepted.message.hub), \(accepted.interval.start.rawValue), \(accepted.message.sequence),
                    \(accepted.message.hash), \(existingHash), \(reason), \(ByteBuffer(bytes: accepted.payload)), \(accepted.receivedAt.rawValue))
            ON CONFLICT (hub, interval_start, hash) DO NOTHING
            """, logger: logger)
        return .conflict(reason: reason)
    }

    public func recordStatus(hub: String, status: StatusMessage, at: UTCMilliseconds) async throws {
        _ = try await run("record status") { client, logger in
            try await client.query("""
                INSERT INTO hub_state (hub, last_status, last_status_at, status_version) VALUES (\(hub), \(status.state), \(at.rawValue), \(status.version))
                ON CONFLICT (hub) DO UPDATE SET last_status = excluded.last_status, last_status_at = excluded.last_status_at,
                status_version = excluded.status_version
                """, logger: logger)
        }
    }

    public func recordRejection(_ rejection: Rejection, at: UTCMilliseconds) async throws {
        _ = try await run("record rejection") { client, logger in
            try await client.query("""
                INSERT INTO rejection (reason, count, last_topic, last_detail, last_at)
                VALUES (\(rejection.reason.rawValue), 1, \(rejection.topic), \(String(rejection.detail.prefix(500))), \(at.rawValue))
                ON CONFLICT (reason) DO UPDATE SET count = rejection.count + 1, last_topic = excluded.last_topic,
                last_detail = excluded.last_detail, last_at = excluded.last_at
                """, logger: logger)
        }
    }

    // MARK: Queries

    public func hubs() async throws -> [StoredHub] {
        try await run("hubs") { client, logger in
            var hubs: [StoredHub] = []
            let rows = try await client.query("""
                SELECT h.hub, COUNT(r.interval_start), MIN(r.interval_start), MAX(r.interval_start), MAX(r.sequence),
                       MAX(s.last_status), MAX(s.last_status_at)
                FROM (SELECT hub FROM interval_record UNION SELECT hub FROM hub_state) h
                LEFT JOIN interval_record r ON r.hub = h.hub
                LEFT JOIN hub_state s ON s.hub = h.hub
                GROUP BY h.hub ORDER BY h.hub
                """, logger: logger)
            for try await (hub, records, first, last, sequence, status, statusAt)
                in rows.decode((String, Int64, Int64?, Int64?, Int64?, String?, Int64?).self) {
                hubs.append(StoredHub(hub: hub, records: Int(records), firstInterval: first.map { UTCMilliseconds($0) },
                                      lastInterval: last.map { UTCMilliseconds($0) }, lastSequence: sequence, lastStatus: status,
                                      lastStatusAt: statusAt.map { UTCMilliseconds($0) }))
            }
            return hubs
        }
    }

    public func sums(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> RangeSums {
        try await run("sums") { client, logger in
            var result = RangeSums()
            for piece in RangePlan(from: from, to: to).pieces {
                let (hubTable, participantTable, key, received, estimated) = switch piece.source {
                case .months: ("monthly_hub", "monthly_participant", "month", "SUM(received)", "SUM(estimated)")
                case .days: ("daily_hub", "daily_participant", "day", "SUM(received)", "SUM(estimated)")
                case .intervals: ("interval_record", "participant_interval", "interval_start", "COUNT(*)", "SUM((estimated_share > 0)::int)")
                }
                var binds = PostgresBindings()
                binds.append(hub)
                binds.append(piece.from)
                binds.append(piece.to)
                let columns = StoreColumns.hubAndEnergy.map { "COALESCE(SUM(\($0)), 0)::float8" }.joined(separator: ", ")
                for try await row in try await client.query(PostgresQuery(unsafeSQL: """
                    SELECT COALESCE(\(received), 0)::bigint, COALESCE(\(estimated), 0)::bigint, \(columns)
                    FROM \(hubTable) WHERE hub = $1 AND \(key) >= $2 AND \(key) < $3
                    """, binds: binds), logger: logger) {
                    let cells = Array(row)
                    result.receivedIntervals += Int(try cells[0].decode(Int64.self))
                    result.estimatedIntervals += Int(try cells[1].decode(Int64.self))
                    StoreColumns.addHub(try cells[2...].map { try $0.decode(Double.self) }, to: &result.hub, energy: &result.energy)
                }
                let participantColumns = StoreColumns.participantAndEnergy.map { "SUM(\($0))::float8" }.joined(separator: ", ")
                for try await row in try await client.query(PostgresQuery(unsafeSQL: """
                    SELECT participant, \(participantColumns) FROM \(participantTable)
                    WHERE hub = $1 AND \(key) >= $2 AND \(key) < $3 GROUP BY participant
                    """, binds: binds), logger: logger) {
                    let cells = Array(row)
                    let id = try cells[0].decode(String.self)
                    var kpis = result.participants[id] ?? ParticipantKPIs(participant: ParticipantID(id))
                    var energy = result.participantEnergy[id] ?? EnergyTotals()
                    StoreColumns.addParticipant(try cells[1...].map { try $0.decode(Double.self) }, to: &kpis, energy: &energy)
                    result.participants[id] = kpis
                    result.participantEnergy[id] = energy
                }
            }
            var unlinked = 0
            for try await (chain, count) in try await client.query("""
                SELECT chain, COUNT(*) FROM interval_record
                WHERE hub = \(hub) AND chain IN ('open', 'broken') AND interval_start >= \(from.rawValue) AND interval_start < \(to.rawValue)
                GROUP BY chain
                """, logger: logger).decode((String, Int64).self) {
                if let link = ChainLink(rawValue: chain) {
                    result.chain[link] = Int(count)
                    unlinked += Int(count)
                }
            }
            if result.receivedIntervals > unlinked { result.chain[.linked] = result.receivedIntervals - unlinked }
            return result
        }
    }

    public func daily(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [DailySums] {
        try await run("daily") { client, logger in
            var days: [DailySums] = []
            var binds = PostgresBindings()
            binds.append(hub)
            binds.append(UTCCalendar.floorDay(from.rawValue))
            binds.append(to.rawValue)
            for try await row in try await client.query(PostgresQuery(unsafeSQL: """
                SELECT day, received, \(StoreColumns.hubAndEnergy.joined(separator: ", ")) FROM daily_hub
                WHERE hub = $1 AND day >= $2 AND day < $3 ORDER BY day
                """, binds: binds), logger: logger) {
                let cells = Array(row)
                var kpis = HubKPIs(), energy = EnergyTotals()
                StoreColumns.addHub(try cells[2...].map { try $0.decode(Double.self) }, to: &kpis, energy: &energy)
                days.append(DailySums(day: UTCMilliseconds(try cells[0].decode(Int64.self)), hub: kpis,
                                      receivedIntervals: Int(try cells[1].decode(Int64.self))))
            }
            return days
        }
    }

    public func intervals(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [StoredInterval] {
        try await run("intervals") { client, logger in
            var intervals: [StoredInterval] = []
            for try await row in try await client.query("""
                SELECT interval_start, sequence, hash, chain, complete, estimated_share, raw_consumption, raw_import, raw_export,
                       raw_production, e_charge, e_discharge, e_shared
                FROM interval_record WHERE hub = \(hub) AND interval_start >= \(from.rawValue) AND interval_start < \(to.rawValue)
                ORDER BY interval_start
                """, logger: logger) {
                let c = Array(row)
                intervals.append(StoredInterval(
                    hub: hub, intervalStart: UTCMilliseconds(try c[0].decode(Int64.self)), sequence: try c[1].decode(Int64.self),
                    hash: try c[2].decode(String.self), chain: ChainLink(rawValue: try c[3].decode(String.self)) ?? .open,
                    complete: try c[4].decode(Bool.self), estimatedShare: try c[5].decode(Double.self),
                    consumptionWh: try c[6].decode(Double?.self), importWh: try c[7].decode(Double?.self),
                    exportWh: try c[8].decode(Double?.self), productionWh: try c[9].decode(Double?.self),
                    batteryChargeWh: try c[10].decode(Double.self), batteryDischargeWh: try c[11].decode(Double.self),
                    sharedWh: try c[12].decode(Double.self)))
            }
            return intervals
        }
    }

    public func intervalGaps(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [IntervalGap] {
        let lower = from.quarterHourCeiling.rawValue, upper = to.quarterHourCeiling.rawValue
        guard lower < upper else { return [] }
        return try await run("interval gaps") { client, logger in
            var received: [Int64: Int] = [:]
            for try await (day, count) in try await client.query("""
                SELECT day, received FROM daily_hub WHERE hub = \(hub) AND day >= \(UTCCalendar.floorDay(lower)) AND day < \(upper)
                """, logger: logger).decode((Int64, Int64).self) {
                received[day] = Int(count)
            }
            var search = GapSearch()
            for window in GapSearch.windows(lower: lower, upper: upper, received: received) {
                switch window.day {
                case .complete: break
                case .missing: search.add(window.from, window.to)
                case .search:
                    var starts: [Int64] = []
                    for try await start in try await client.query("""
                        SELECT interval_start FROM interval_record
                        WHERE hub = \(hub) AND interval_start >= \(window.from) AND interval_start < \(window.to) ORDER BY interval_start
                        """, logger: logger).decode(Int64.self) {
                        starts.append(start)
                    }
                    search.add(window, starts: starts)
                }
            }
            return search.gaps
        }
    }

    public func sequenceGaps(hub: String) async throws -> [SequenceGap] {
        try await run("sequence gaps") { client, logger in
            var gaps: [SequenceGap] = []
            for try await (first, last) in try await client.query("""
                SELECT previous + 1, sequence - 1 FROM (
                    SELECT sequence, LAG(sequence, 1, 0::bigint) OVER (ORDER BY sequence) AS previous
                    FROM interval_record WHERE hub = \(hub)) AS s
                WHERE sequence - previous > 1 ORDER BY 1
                """, logger: logger).decode((Int64, Int64).self) {
                gaps.append(SequenceGap(first: first, last: last))
            }
            return gaps
        }
    }

    public func conflicts(hub: String?) async throws -> [StoredConflict] {
        try await run("conflicts") { client, logger in
            var conflicts: [StoredConflict] = []
            for try await (id, rowHub, start, sequence, hash, existing, reason, receivedAt) in try await client.query("""
                SELECT id, hub, interval_start, sequence, hash, existing_hash, reason, received_at FROM conflict
                WHERE \(hub)::text IS NULL OR hub = \(hub) ORDER BY hub, interval_start, id
                """, logger: logger).decode((Int64, String, Int64, Int64, String, String?, String, Int64).self) {
                conflicts.append(StoredConflict(id: id, hub: rowHub, intervalStart: UTCMilliseconds(start), sequence: sequence, hash: hash,
                                                existingHash: existing, reason: reason, receivedAt: UTCMilliseconds(receivedAt)))
            }
            return conflicts
        }
    }

    /// Kept raw: PostgreSQL compresses values this large itself (TOAST).
    public func payload(hub: String, sequence: Int64) async throws -> [UInt8]? {
        try await run("payload") { client, logger in
            for try await payload in try await client.query(
                "SELECT payload FROM interval_record WHERE hub = \(hub) AND sequence = \(sequence)", logger: logger).decode(ByteBuffer.self) {
                return Array(payload.readableBytesView)
            }
            return nil
        }
    }

    public func rejectionCounts() async throws -> [String: Int] {
        try await run("rejection counts") { client, logger in
            var counts: [String: Int] = [:]
            for try await (reason, count) in try await client.query("SELECT reason, count FROM rejection", logger: logger)
                .decode((String, Int64).self) {
                counts[reason] = Int(count)
            }
            return counts
        }
    }
}
