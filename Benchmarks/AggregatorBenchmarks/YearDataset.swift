import Foundation
import GRDB
import HubAggregator
import Logging
import PostgresNIO

/// A year of 15-minute data for `hubs` hubs of `companies` companies each, written with bulk SQL
/// straight into the aggregator's schema (made by the store's own migrations): interval rows,
/// company rows, and the daily and monthly rollups aggregated from those rows, as the store keeps
/// them. Every 10 007th interval of a hub is missing (a few gaps per hub-year, so that the gap search
/// has days to look into). Payloads are empty (in SQLite, one shared empty payload row): no query reads them. Built once and kept.
struct YearDataset: Sendable {
    var hubs: Int
    var companies: Int
    static let intervals = 35_040 // 365 days
    static let yearStart: Int64 = 1_735_689_600_000 // 2025-01-01T00:00:00Z

    var name: String { "year-\(hubs)x\(companies)" }
    static func hub(_ index: Int) -> String { String(format: "hub-%03d", index) }

    /// Figures of company `p` in interval `i` (integers, so SQLite stores them compactly): a load
    /// of 200–299 Wh, PV on every third company following the sun (0 at night, 480 Wh at noon).
    static let participantSelect = """
        SELECT ?1 AS hub, ?2 + t.i * 900000 AS interval_start, printf('company-%02d', p.n) AS participant,
               t.i AS i, p.n AS n, 200 + (t.i * 7 + p.n * 13) % 100 AS load,
               CASE WHEN p.n % 3 = 0 THEN 40 * max(0, 12 - abs(t.i % 96 - 48)) ELSE 0 END AS pv
        FROM t, p
        """

    /// The values of StoreLayout.participant + StoreLayout.energy for a company with `load` and `pv`
    /// (Wh) and no sharing: what it draws beyond its own PV is imported, what its PV makes beyond its load exported.
    static func participantValues(least: String, greatest: String) -> String {
        let imported = "load - \(least)(load, pv)", exported = "\(greatest)(0, pv - load)"
        return [
            "1", imported, exported, "pv", "load",                   // site: intervals, import, export, production, consumption
            "1", "load", imported, exported, "pv", "0", "0", "0", "0", // shared, residuals, grid origin, excluded, negative, estimated
            imported, exported, "pv", "0", "0", "0", "0",            // energy: import, export, production, charge, discharge, shared, missing
        ].joined(separator: ", ")
    }

    // MARK: SQLite

    func sqlitePath() -> String { BenchmarkPaths.directory + "/\(name).sqlite" }

    /// Opens the dataset, building it first if it is not there; returns the store and the build time (nil when reused).
    func openSQLite() throws -> (SQLiteAggregatorStore, buildSeconds: Double?) {
        let path = sqlitePath()
        if FileManager.default.fileExists(atPath: path), try isComplete(path) {
            return (try SQLiteAggregatorStore(path: path), nil)
        }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let began = Date()
        _ = try SQLiteAggregatorStore(path: path) // schema by the store's migrations
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY")
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        let p = (StoreLayout.participant + StoreLayout.energy).joined(separator: ", ")
        let h = (StoreLayout.hub + StoreLayout.energy).joined(separator: ", ")
        for index in 0..<hubs {
            let hub = Self.hub(index)
            try queue.write { db in
                let cte = """
                    WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < \(Self.intervals - 1)),
                    p(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM p WHERE n < \(companies - 1))
                    """
                // Company rows, in primary key order.
                try db.execute(sql: """
                    \(cte)
                    INSERT INTO participant_interval (hub, interval_start, participant, \(p))
                    SELECT hub, interval_start, participant,
                           \(Self.participantValues(least: "min", greatest: "max"))
                    FROM (\(Self.participantSelect)) WHERE i % 10007 != 5 ORDER BY interval_start, participant
                    """, arguments: [hub, Self.yearStart])
                // Hub rows: the sums of its companies; all point at one empty payload (schema v3: payloads in their own table).
                try db.execute(sql: "INSERT OR IGNORE INTO interval_payload (id, payload) VALUES (1, x'')")
                try db.execute(sql: """
                    INSERT INTO interval_record (hub, interval_start, sequence, record_id, hash, previous_hash, kpi_definitions, agent_version,
                        payload_id, received_at, chain, complete, estimated_share, raw_consumption, raw_import, raw_export, raw_production, \(h))
                    SELECT hub, interval_start, (interval_start - ?2) / 900000 + 1, hub || ':' || interval_start,
                           printf('%064x', interval_start), printf('%064x', interval_start - 900000), 'hubmeter-kpi/1', 'bench',
                           1, interval_start + 900000, 'linked', 1, 0,
                           SUM(p_site_consumption), SUM(e_import), SUM(e_export), SUM(e_production),
                           1, 0, 0, 0, SUM(e_import), SUM(e_export), SUM(p_site_consumption), SUM(e_production), SUM(p_grid_origin),
                           SUM(e_import), SUM(e_export), SUM(e_production), 0, 0, 0, 0
                    FROM participant_interval WHERE hub = ?1 GROUP BY interval_start ORDER BY interval_start
                    """, arguments: [hub, Self.yearStart])
                try rollups(db, hub: hub)
            }
        }
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE bench_dataset (name TEXT NOT NULL, build_seconds REAL NOT NULL)")
            try db.execute(sql: "INSERT INTO bench_dataset VALUES (?, ?)", arguments: [name, Date().timeIntervalSince(began)])
        }
        try queue.close()
        return (try SQLiteAggregatorStore(path: path), Date().timeIntervalSince(began))
    }

    private func rollups(_ db: Database, hub: String) throws {
        let h = (StoreLayout.hub + StoreLayout.energy)
        let p = (StoreLayout.participant + StoreLayout.energy)
        for (grain, key, bucket) in [("daily", "day", "interval_start - interval_start % 86400000"),
                                     ("monthly", "month", "CAST(strftime('%s', interval_start / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000")] {
            try db.execute(sql: """
                INSERT INTO \(grain)_hub (hub, \(key), received, estimated, \(h.joined(separator: ", ")))
                SELECT hub, \(bucket) AS b, COUNT(*), 0, \(h.map { "SUM(\($0))" }.joined(separator: ", "))
                FROM interval_record WHERE hub = ? GROUP BY b
                """, arguments: [hub])
            try db.execute(sql: """
                INSERT INTO \(grain)_participant (hub, \(key), participant, \(p.joined(separator: ", ")))
                SELECT hub, \(bucket) AS b, participant, \(p.map { "SUM(\($0))" }.joined(separator: ", "))
                FROM participant_interval WHERE hub = ? GROUP BY b, participant
                """, arguments: [hub])
        }
    }

    private func isComplete(_ path: String) throws -> Bool {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try db.tableExists("bench_dataset") && (try String.fetchOne(db, sql: "SELECT name FROM bench_dataset") == name)
        }
    }

    static func buildSeconds(sqlite path: String) throws -> Double? {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in try Double.fetchOne(db, sql: "SELECT build_seconds FROM bench_dataset") }
    }

    // MARK: PostgreSQL

    /// Opens (building if needed) the dataset in database `hubmeter_bench_<name>` on `server`.
    func openPostgres(server: PostgresAggregatorStore.Settings, logger: Logger) async throws -> (PostgresAggregatorStore, buildSeconds: Double?) {
        let database = "hubmeter_bench_" + name.replacingOccurrences(of: "-", with: "_")
        var admin = server
        admin.database = "postgres"
        var target = server
        target.database = database
        let exists = try await Self.withClient(admin, logger) { client in
            try await client.query("SELECT 1 FROM pg_database WHERE datname = \(database)").collect().count == 1
        }
        if exists {
            let built = try await Self.withClient(target, logger) { client -> Double? in
                // A database left by a build that did not finish has no bench_dataset table.
                let marked = try await client.query("SELECT to_regclass('bench_dataset') IS NOT NULL").collect()
                guard try marked.first?.decode(Bool.self) == true else { return nil }
                let rows = try await client.query("SELECT build_seconds FROM bench_dataset WHERE name = \(name)").collect()
                return try rows.first.map { try $0.decode(Double.self) }
            }
            if built != nil { return (try await PostgresAggregatorStore.open(target, logger: logger), nil) }
            _ = try await Self.withClient(admin, logger) { client in try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(database) WITH (FORCE)")) }
        }
        let began = Date()
        _ = try await Self.withClient(admin, logger) { client in try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)")) }
        let store = try await PostgresAggregatorStore.open(target, logger: logger)
        let p = (StoreLayout.participant + StoreLayout.energy)
        let h = (StoreLayout.hub + StoreLayout.energy)
        try await Self.withClient(target, logger) { client in
            for index in 0..<hubs {
                let hub = Self.hub(index)
                try await client.query(PostgresQuery(unsafeSQL: """
                    INSERT INTO participant_interval (hub, interval_start, participant, \(p.joined(separator: ", ")))
                    SELECT $1, $2 + i::bigint * 900000, 'company-' || lpad(n::text, 2, '0'),
                           \(Self.participantValues(least: "least", greatest: "greatest"))
                    FROM (SELECT i, n, 200 + (i * 7 + n * 13) % 100 AS load,
                                 CASE WHEN n % 3 = 0 THEN 40 * greatest(0, 12 - abs(i % 96 - 48)) ELSE 0 END AS pv
                          FROM generate_series(0, \(Self.intervals - 1)) AS i, generate_series(0, \(companies - 1)) AS n
                          WHERE i % 10007 <> 5) s
                    """, binds: Self.binds(hub, Self.yearStart)))
                try await client.query(PostgresQuery(unsafeSQL: """
                    INSERT INTO interval_record (hub, interval_start, sequence, record_id, hash, previous_hash, kpi_definitions, agent_version,
                        payload, received_at, chain, complete, estimated_share, raw_consumption, raw_import, raw_export, raw_production,
                        \(h.joined(separator: ", ")))
                    SELECT hub, interval_start, (interval_start - $2) / 900000 + 1, hub || ':' || interval_start,
                           lpad(to_hex(interval_start), 64, '0'), lpad(to_hex(interval_start - 900000), 64, '0'), 'hubmeter-kpi/1', 'bench',
                           '\\x'::bytea, interval_start + 900000, 'linked', true, 0,
                           SUM(p_site_consumption), SUM(e_import), SUM(e_export), SUM(e_production),
                           1, 0, 0, 0, SUM(e_import), SUM(e_export), SUM(p_site_consumption), SUM(e_production), SUM(p_grid_origin),
                           SUM(e_import), SUM(e_export), SUM(e_production), 0, 0, 0, 0
                    FROM participant_interval WHERE hub = $1 GROUP BY hub, interval_start
                    """, binds: Self.binds(hub, Self.yearStart)))
                for (grain, key, bucket) in [("daily", "day", "interval_start - interval_start % 86400000"),
                                             ("monthly", "month", "(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(interval_start / 1000) AT TIME ZONE 'UTC')) * 1000)::bigint")] {
                    try await client.query(PostgresQuery(unsafeSQL: """
                        INSERT INTO \(grain)_hub (hub, \(key), received, estimated, \(h.joined(separator: ", ")))
                        SELECT hub, \(bucket) AS b, COUNT(*), 0, \(h.map { "SUM(\($0))" }.joined(separator: ", "))
                        FROM interval_record WHERE hub = $1 GROUP BY hub, b
                        """, binds: Self.binds(hub)))
                    try await client.query(PostgresQuery(unsafeSQL: """
                        INSERT INTO \(grain)_participant (hub, \(key), participant, \(p.joined(separator: ", ")))
                        SELECT hub, \(bucket) AS b, participant, \(p.map { "SUM(\($0))" }.joined(separator: ", "))
                        FROM participant_interval WHERE hub = $1 GROUP BY hub, b, participant
                        """, binds: Self.binds(hub)))
                }
            }
            try await client.query("ANALYZE")
            try await client.query("CREATE TABLE bench_dataset (name TEXT NOT NULL, build_seconds DOUBLE PRECISION NOT NULL)")
            try await client.query("INSERT INTO bench_dataset VALUES (\(name), \(Date().timeIntervalSince(began)))")
        }
        return (store, Date().timeIntervalSince(began))
    }

    static func binds(_ hub: String, _ start: Int64? = nil) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(hub)
        if let start { binds.append(start) }
        return binds
    }

    static func withClient<R: Sendable>(_ settings: PostgresAggregatorStore.Settings, _ logger: Logger,
                                        _ body: @Sendable (PostgresClient) async throws -> R) async throws -> R {
        let client = PostgresClient(configuration: settings.clientConfiguration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}

/// The store's column names, as the schema has them (kept in step with HubAggregator's StoreColumns).
enum StoreLayout {
    static let hub = ["h_intervals", "h_excluded", "h_negative", "h_estimated", "h_import", "h_export",
                      "h_consumption", "h_production", "h_grid_origin"]
    static let participant = ["p_site_intervals", "p_site_import", "p_site_export", "p_site_production", "p_site_consumption",
                              "p_shared_intervals", "p_shared_consumption", "p_residual_import", "p_residual_export",
                              "p_shared_production", "p_grid_origin", "p_excluded", "p_negative", "p_estimated"]
    static let energy = ["e_import", "e_export", "e_production", "e_charge", "e_discharge", "e_shared", "e_missing"]
}
