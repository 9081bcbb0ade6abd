import Foundation
import GRDB
import HubContract
import HubDomain
import HubSupport

/// The aggregator's store on SQLite (WAL), through GRDB.
///
/// Tables: `interval_record` (one row per hub and interval: the raw payload, the chain fields, the
/// record's additive KPI sums), `participant_interval` (the same sums per company), `conflict`
/// (records whose key was taken by a different record), `rejection` (dropped messages),
/// `hub_state` (last status, counts), and the rollups `daily_hub` and `daily_participant`, updated
/// in the same transaction as every insert so that a year is ~365 rows per query.
public final class SQLiteAggregatorStore: AggregatorStore {
    public let path: String
    private let database: DatabasePool
    static let dayMs: Int64 = 86_400_000

    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.label = "hubmeter.aggregator-store"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // NORMAL in WAL mode: a power cut may lose the last transactions, never corrupt; hubs re-send
            // what was not acknowledged only while the broker holds it, so this is a trade-off for speed.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    // MARK: Schema

    static let hubColumns = ["h_intervals", "h_excluded", "h_negative", "h_estimated", "h_import", "h_export",
                             "h_consumption", "h_production", "h_grid_origin"]
    static let participantColumns = ["p_site_intervals", "p_site_import", "p_site_export", "p_site_production", "p_site_consumption",
                                     "p_shared_intervals", "p_shared_consumption", "p_residual_import", "p_residual_export",
                                     "p_shared_production", "p_grid_origin", "p_excluded", "p_negative", "p_estimated"]
    static let energyColumns = ["e_import", "e_export", "e_production", "e_charge", "e_discharge", "e_shared", "e_missing"]

    static func columnDefinitions(_ names: [String]) -> String {
        names.map { "\($0) REAL NOT NULL" }.joined(separator: ", ")
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            let hub = columnDefinitions(hubColumns), participant = columnDefinitions(participantColumns),
                energy = columnDefinitions(energyColumns)
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
        return migrator
    }

    // MARK: Ingest

    public func store(_ records: [AcceptedInterval]) throws -> [StoreOutcome] {
        // IMMEDIATE: another aggregator instance may write the same file; taking the write lock before
        // the first read avoids a stale snapshot (SQLITE_BUSY_SNAPSHOT) between the key check and the insert.
        try database.writeWithoutTransaction { db in
            var outcomes: [StoreOutcome] = []
            try db.inTransaction(.immediate) {
                outcomes = try records.map { try self.store($0, db) }
                return .commit
            }
            return outcomes
        }
    }

    private func store(_ accepted: AcceptedInterval, _ db: Database) throws -> StoreOutcome {
        let message = accepted.message
        let start = accepted.record.interval.start.rawValue
        let byKey = try Row.fetchOne(db.cachedStatement(sql: "SELECT hash, sequence FROM interval_record WHERE hub = ? AND interval_start = ?"),
                                     arguments: [message.hub, start])
        if let byKey {
            let existing: String = byKey["hash"]
            if existing == message.hash { return .duplicate }
            return try keepAside(accepted, existingHash: existing,
                                 reason: "interval \(accepted.record.interval.start) is already stored with sequence \(byKey["sequence"] as Int64) and another hash", db)
        }
        if let bySequence = try Row.fetchOne(db.cachedStatement(sql: "SELECT hash, interval_start FROM interval_record WHERE hub = ? AND sequence = ?"),
                                             arguments: [message.hub, message.sequence]) {
            return try keepAside(accepted, existingHash: bySequence["hash"],
                                 reason: "sequence \(message.sequence) is already stored for interval \(UTCMilliseconds(bySequence["interval_start"] as Int64))", db)
        }
        let chain: ChainLink
        if message.sequence == 1 {
            chain = message.previousHash == IntervalMessage.genesisHash ? .linked : .broken
        } else if let previous = try String.fetchOne(db.cachedStatement(sql: "SELECT hash FROM interval_record WHERE hub = ? AND sequence = ?"),
                                                     arguments: [message.hub, message.sequence - 1]) {
            chain = previous == message.previousHash ? .linked : .broken
        } else {
            chain = .open
        }
        let sums = accepted.sums
        let totals = accepted.record.hub
        let production: Double? = totals.participantPVWh.flatMap { pv in totals.collectivePVWh.map { pv + $0 } }
        var values: [(any DatabaseValueConvertible)?] = [
            message.hub, start, message.sequence, message.recordID, message.hash, message.previousHash, message.kpiDefinitions,
            message.agentVersion, Data(accepted.payload), accepted.receivedAt.rawValue, chain.rawValue, sums.isComplete,
            sums.estimatedShare, totals.consumptionWh, totals.gridImportWh, totals.gridExportWh, production,
        ]
        values += Self.values(sums.hub) + Self.values(sums.energy)
        let recordColumns = ["hub", "interval_start", "sequence", "record_id", "hash", "previous_hash", "kpi_definitions", "agent_version",
                             "payload", "received_at", "chain", "complete", "estimated_share",
                             "raw_consumption", "raw_import", "raw_export", "raw_production"] + Self.hubColumns + Self.energyColumns
        try db.cachedStatement(sql: Self.insertSQL("interval_record", recordColumns)).execute(arguments: StatementArguments(values))

        let day = start - start % Self.dayMs
        let estimated = sums.estimatedShare > 0 ? 1 : 0
        try db.cachedStatement(sql: Self.upsertSQL("daily_hub", keys: ["hub", "day"], fixed: ["received", "estimated"],
                                                   added: Self.hubColumns + Self.energyColumns))
            .execute(arguments: StatementArguments([message.hub, day, 1, estimated] + Self.values(sums.hub) + Self.values(sums.energy)))

        let participantInsert = try db.cachedStatement(sql: Self.insertSQL(
            "participant_interval", ["hub", "interval_start", "participant"] + Self.participantColumns + Self.energyColumns))
        let participantRollup = try db.cachedStatement(sql: Self.upsertSQL(
            "daily_participant", keys: ["hub", "day", "participant"], fixed: [], added: Self.participantColumns + Self.energyColumns))
        for (kpis, energy) in zip(sums.participants, sums.participantEnergy) {
            let rest = Self.values(kpis) + Self.values(energy)
            try participantInsert.execute(arguments: StatementArguments([message.hub, start, kpis.participant.rawValue] + rest))
            try participantRollup.execute(arguments: StatementArguments([message.hub, day, kpis.participant.rawValue] + rest))
        }
        // A successor that arrived first now has its predecessor.
        try db.cachedStatement(sql: """
            UPDATE interval_record SET chain = CASE WHEN previous_hash = ? THEN 'linked' ELSE 'broken' END
            WHERE hub = ? AND sequence = ?
            """).execute(arguments: [message.hash, message.hub, message.sequence + 1])
        return .stored(chain: chain)
    }

    private func keepAside(_ accepted: AcceptedInterval, existingHash: String?, reason: String, _ db: Database) throws -> StoreOutcome {
        // The same conflicting record received again is one conflict, not two.
        try db.cachedStatement(sql: """
            INSERT INTO conflict (hub, interval_start, sequence, hash, existing_hash, reason, payload, received_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hub, interval_start, hash) DO NOTHING
            """).execute(arguments: [accepted.message.hub, accepted.record.interval.start.rawValue, accepted.message.sequence,
                                     accepted.message.hash, existingHash, reason, Data(accepted.payload), accepted.receivedAt.rawValue])
        return .conflict(reason: reason)
    }

    public func recordStatus(hub: String, status: StatusMessage, at: UTCMilliseconds) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO hub_state (hub, last_status, last_status_at, status_version) VALUES (?, ?, ?, ?)
                ON CONFLICT (hub) DO UPDATE SET last_status = excluded.last_status, last_status_at = excluded.last_status_at,
                status_version = excluded.status_version
                """, arguments: [hub, status.state, at.rawValue, status.version])
        }
    }

    public func recordRejection(_ rejection: Rejection, at: UTCMilliseconds) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO rejection (reason, count, last_topic, last_detail, last_at) VALUES (?, 1, ?, ?, ?)
                ON CONFLICT (reason) DO UPDATE SET count = count + 1, last_topic = excluded.last_topic,
                last_detail = excluded.last_detail, last_at = excluded.last_at
                """, arguments: [rejection.reason.rawValue, rejection.topic, String(rejection.detail.prefix(500)), at.rawValue])
        }
    }

    // MARK: Queries

    public func hubs() throws -> [StoredHub] {
        try database.read { db in
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

    public func sums(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) throws -> RangeSums {
        try database.read { db in
            var result = RangeSums()
            let firstDay = Self.ceilDay(from.rawValue), lastDay = Self.floorDay(to.rawValue)
            var pieces: [(table: String, participantTable: String, key: String, from: Int64, to: Int64)] = []
            if firstDay < lastDay {
                pieces.append(("daily_hub", "daily_participant", "day", firstDay, lastDay))
                if from.rawValue < firstDay { pieces.append(("interval_record", "participant_interval", "interval_start", from.rawValue, firstDay)) }
                if lastDay < to.rawValue { pieces.append(("interval_record", "participant_interval", "interval_start", lastDay, to.rawValue)) }
            } else if from.rawValue < to.rawValue {
                pieces.append(("interval_record", "participant_interval", "interval_start", from.rawValue, to.rawValue))
            }
            for piece in pieces {
                let received = piece.table == "daily_hub" ? "SUM(received)" : "COUNT(*)"
                let estimated = piece.table == "daily_hub" ? "SUM(estimated)" : "SUM(estimated_share > 0)"
                let columns = (Self.hubColumns + Self.energyColumns).map { "TOTAL(\($0)) AS \($0)" }.joined(separator: ", ")
                if let row = try Row.fetchOne(db, sql: """
                    SELECT \(received) AS received, \(estimated) AS estimated, \(columns)
                    FROM \(piece.table) WHERE hub = ? AND \(piece.key) >= ? AND \(piece.key) < ?
                    """, arguments: [hub, piece.from, piece.to]) {
                    result.receivedIntervals += (row["received"] as Int?) ?? 0
                    result.estimatedIntervals += (row["estimated"] as Int?) ?? 0
                    Self.add(row, to: &result.hub)
                    result.energy.merge(Self.energy(row))
                }
                let participantColumns = (Self.participantColumns + Self.energyColumns).map { "TOTAL(\($0)) AS \($0)" }.joined(separator: ", ")
                for row in try Row.fetchAll(db, sql: """
                    SELECT participant, \(participantColumns) FROM \(piece.participantTable)
                    WHERE hub = ? AND \(piece.key) >= ? AND \(piece.key) < ? GROUP BY participant
                    """, arguments: [hub, piece.from, piece.to]) {
                    let id: String = row["participant"]
                    var kpis = result.participants[id] ?? ParticipantKPIs(participant: ParticipantID(id))
                    Self.add(row, to: &kpis)
                    result.participants[id] = kpis
                    var energy = result.participantEnergy[id] ?? EnergyTotals()
                    energy.merge(Self.energy(row))
                    result.participantEnergy[id] = energy
                }
            }
            // Only the few records that are not linked are counted (index on hub, chain); linked = received − those.
            var unlinked = 0
            for row in try Row.fetchAll(db, sql: """
                SELECT chain, COUNT(*) AS n FROM interval_record
                WHERE hub = ? AND chain IN ('open', 'broken') AND interval_start >= ? AND interval_start < ? GROUP BY chain
                """, arguments: [hub, from.rawValue, to.rawValue]) {
                if let link = ChainLink(rawValue: row["chain"]) {
                    result.chain[link] = row["n"]
                    unlinked += row["n"] as Int
                }
            }
            if result.receivedIntervals > unlinked { result.chain[.linked] = result.receivedIntervals - unlinked }
            return result
        }
    }

    public func daily(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) throws -> [DailySums] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT day, received, \(Self.hubColumns.joined(separator: ", ")) FROM daily_hub
                WHERE hub = ? AND day >= ? AND day < ? ORDER BY day
                """, arguments: [hub, Self.floorDay(from.rawValue), to.rawValue]).map { row in
                var kpis = HubKPIs()
                Self.add(row, to: &kpis)
                return DailySums(day: UTCMilliseconds(row["day"] as Int64), hub: kpis, receivedIntervals: row["received"])
            }
        }
    }

    public func intervals(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) throws -> [StoredInterval] {
        try database.read { db in
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

    public func intervalGaps(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) throws -> [IntervalGap] {
        let step = UTCMilliseconds.quarterHourMs
        let lower = from.quarterHourCeiling.rawValue, upper = to.quarterHourCeiling.rawValue
        guard lower < upper else { return [] }
        // The daily rollup says which days are complete; only the others are searched interval by interval.
        return try database.read { db in
            var received: [Int64: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT day, received FROM daily_hub WHERE hub = ? AND day >= ? AND day < ?",
                                        arguments: [hub, Self.floorDay(lower), upper]) {
                received[row["day"]] = row["received"]
            }
            var gaps: [IntervalGap] = []
            func add(_ from: Int64, _ to: Int64) {
                if let last = gaps.last, last.to.rawValue == from {
                    gaps[gaps.count - 1].to = UTCMilliseconds(to)
                } else {
                    gaps.append(IntervalGap(from: UTCMilliseconds(from), to: UTCMilliseconds(to)))
                }
            }
            let starts = try db.cachedStatement(sql: "SELECT interval_start FROM interval_record WHERE hub = ? AND interval_start >= ? AND interval_start < ? ORDER BY interval_start")
            var day = Self.floorDay(lower)
            while day < upper {
                let windowStart = max(lower, day), windowEnd = min(upper, day + Self.dayMs)
                let count = received[day] ?? 0
                if count == 0 {
                    add(windowStart, windowEnd)
                } else if count < Int(Self.dayMs / step) || windowStart != day || windowEnd != day + Self.dayMs {
                    var expected = windowStart
                    for start in try Int64.fetchAll(starts, arguments: [hub, windowStart, windowEnd]) {
                        if start > expected { add(expected, start) }
                        expected = start + step
                    }
                    if expected < windowEnd { add(expected, windowEnd) }
                }
                day += Self.dayMs
            }
            return gaps
        }
    }

    public func sequenceGaps(hub: String) throws -> [SequenceGap] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT previous + 1 AS first, sequence - 1 AS last FROM (
                    SELECT sequence, LAG(sequence, 1, 0) OVER (ORDER BY sequence) AS previous
                    FROM interval_record WHERE hub = ?)
                WHERE sequence - previous > 1 ORDER BY first
                """, arguments: [hub]).map { SequenceGap(first: $0["first"], last: $0["last"]) }
        }
    }

    public func conflicts(hub: String?) throws -> [StoredConflict] {
        try database.read { db in
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

    public func rejectionCounts() throws -> [String: Int] {
        try database.read { db in
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

    static func values(_ k: HubKPIs) -> [(any DatabaseValueConvertible)?] {
        [Double(k.intervals), Double(k.excludedIntervals), Double(k.negativeConsumptionIntervals), Double(k.estimatedIntervals),
         k.gridImportWh, k.gridExportWh, k.consumptionWh, k.productionWh, k.gridOriginToLoadWh]
    }

    static func values(_ k: ParticipantKPIs) -> [(any DatabaseValueConvertible)?] {
        [Double(k.siteIntervals), k.siteImportWh, k.siteExportWh, k.siteProductionWh, k.siteConsumptionWh,
         Double(k.sharedIntervals), k.sharedConsumptionWh, k.residualImportWh, k.residualExportWh, k.sharedProductionWh,
         k.gridOriginToLoadWh, Double(k.excludedIntervals), Double(k.negativeConsumptionIntervals), Double(k.estimatedIntervals)]
    }

    static func values(_ e: EnergyTotals) -> [(any DatabaseValueConvertible)?] {
        [e.importWh, e.exportWh, e.productionWh, e.batteryChargeWh, e.batteryDischargeWh, e.sharedWh, Double(e.missingFigures)]
    }

    static func add(_ row: Row, to k: inout HubKPIs) {
        k.intervals += Int(row["h_intervals"] as Double)
        k.excludedIntervals += Int(row["h_excluded"] as Double)
        k.negativeConsumptionIntervals += Int(row["h_negative"] as Double)
        k.estimatedIntervals += Int(row["h_estimated"] as Double)
        k.gridImportWh += row["h_import"]
        k.gridExportWh += row["h_export"]
        k.consumptionWh += row["h_consumption"]
        k.productionWh += row["h_production"]
        k.gridOriginToLoadWh += row["h_grid_origin"]
    }

    static func add(_ row: Row, to k: inout ParticipantKPIs) {
        k.siteIntervals += Int(row["p_site_intervals"] as Double)
        k.siteImportWh += row["p_site_import"]
        k.siteExportWh += row["p_site_export"]
        k.siteProductionWh += row["p_site_production"]
        k.siteConsumptionWh += row["p_site_consumption"]
        k.sharedIntervals += Int(row["p_shared_intervals"] as Double)
        k.sharedConsumptionWh += row["p_shared_consumption"]
        k.residualImportWh += row["p_residual_import"]
        k.residualExportWh += row["p_residual_export"]
        k.sharedProductionWh += row["p_shared_production"]
        k.gridOriginToLoadWh += row["p_grid_origin"]
        k.excludedIntervals += Int(row["p_excluded"] as Double)
        k.negativeConsumptionIntervals += Int(row["p_negative"] as Double)
        k.estimatedIntervals += Int(row["p_estimated"] as Double)
    }

    static func energy(_ row: Row) -> EnergyTotals {
        var e = EnergyTotals()
        e.importWh = row["e_import"]
        e.exportWh = row["e_export"]
        e.productionWh = row["e_production"]
        e.batteryChargeWh = row["e_charge"]
        e.batteryDischargeWh = row["e_discharge"]
        e.sharedWh = row["e_shared"]
        e.missingFigures = Int(row["e_missing"] as Double)
        return e
    }

    static func floorDay(_ ms: Int64) -> Int64 { ms - ((ms % dayMs) + dayMs) % dayMs }
    static func ceilDay(_ ms: Int64) -> Int64 { floorDay(ms) == ms ? ms : floorDay(ms) + dayMs }
}
