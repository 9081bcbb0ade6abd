import Foundation
import GRDB
import HubAggregator
import HubConfiguration
import HubContract
import HubDomain
import Testing
import TestSupport

/// Every store test runs on SQLite and on PostgreSQL (see ``StoreBackend``).
@Suite("Aggregator ingest and store")
struct AggregatorStoreTests {
    let ingest = IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 64 << 10)
    let now = UTCMilliseconds(epochSeconds: 1_772_409_600) // 2026-03-02T00:00:00Z

    func accept(_ message: IntervalMessage, topic: String = AggregatorFixtures.topic()) throws -> AcceptedInterval {
        guard case .interval(let accepted) = ingest.classify(topic: topic, payload: message.payload, receivedAt: now) else {
            throw Failure("message \(message.sequence) was not accepted")
        }
        return accepted
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test(arguments: StoreBackend.allCases)
    func handComputedKPIsFromStoredSums(backend: StoreBackend) async throws {
        let records = try AggregatorFixtures.records(count: 8)
        #expect(records.count == 8)
        #expect(records.allSatisfy { $0.isComplete })
        try await backend.withStore { store, _ in
            let outcomes = try await store.store(try AggregatorFixtures.messages(records).map { try accept($0) })
            #expect(outcomes == Array(repeating: .stored(chain: .linked), count: 8))

            let report = try await KPIQuery(store: store).report(hub: "park-a", from: AggregatorFixtures.start,
                                                           to: AggregatorFixtures.start.adding(milliseconds: 2 * UTCMilliseconds.quarterHourMs * 4), now: now)
            // 8 intervals: hub import 8 × 250 = 2000 Wh, consumption 8 × 1000 = 8000 Wh, production 8 × 750 = 6000 Wh, export 0.
            // SS_hub = 1 − 2000/8000 = 0.75; SC_hub = 1 − 0/6000 = 1.
            #expect(abs(report.energy.importWh - 2000) < 0.5)
            #expect(abs(report.energy.consumptionWh - 8000) < 0.5)
            #expect(abs(report.energy.productionWh - 6000) < 0.5)
            #expect(abs((report.selfSufficiency.value ?? -1) - 0.75) < 1e-4)
            #expect(abs((report.selfConsumption.value ?? -1) - 1.0) < 1e-4)
            // alpha, site only: SS = 1 − 4000/4000 = 0; after sharing, beta's 250 Wh export per interval is allocated to alpha
            // (pro rata, alpha is the only one drawing): SS = 1 − (4000 − 2000)/4000 = 0.5.
            let alpha = try #require(report.companies.first { $0.participant == "alpha" })
            #expect(abs((alpha.selfSufficiencySite.value ?? -1) - 0) < 1e-4)
            #expect(abs((alpha.selfSufficiencyAfterSharing.value ?? -1) - 0.5) < 1e-4)
            #expect(abs(alpha.sharedWh - 2000) < 0.5)
            // beta, site only: SS = 1 − 0/4000 = 1; SC = 1 − 2000/6000 = 2/3; after sharing nothing leaves the hub: SC = 1.
            let beta = try #require(report.companies.first { $0.participant == "beta" })
            #expect(abs((beta.selfSufficiencySite.value ?? -1) - 1) < 1e-4)
            #expect(abs((beta.selfConsumptionSite.value ?? -1) - 2.0 / 3) < 1e-4)
            #expect(abs((beta.selfConsumptionAfterSharing.value ?? -1) - 1) < 1e-4)
            #expect(report.coverage.receivedIntervals == 8 && report.coverage.expectedIntervals == 8 && report.coverage.gaps.isEmpty)
            #expect(report.chain.intact)

            // The same figures as HubDomain's own aggregation of the records.
            let direct = KPIAggregator(records: records)
            #expect(abs((direct.hub.selfSufficiency.value ?? -1) - (report.selfSufficiency.value ?? -2)) < 1e-9)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func wholeDaysComeFromTheRollupWithTheSameFigures(backend: StoreBackend) async throws {
        // 2 days + 3 intervals: the range query mixes the daily rollup and interval rows.
        let records = try AggregatorFixtures.records(count: 96 * 2 + 3)
        try await backend.withStore { store, _ in
            _ = try await store.store(try AggregatorFixtures.messages(records).map { try accept($0) })
            let start = AggregatorFixtures.start
            let mixed = try await store.sums(hub: "park-a", from: start.adding(milliseconds: UTCMilliseconds.quarterHourMs),
                                       to: start.adding(milliseconds: 2 * 86_400_000 + 2 * UTCMilliseconds.quarterHourMs))
            let direct = KPIAggregator(records: records.dropFirst().prefix(96 * 2 + 1))
            #expect(mixed.receivedIntervals == 96 * 2 + 1)
            #expect(mixed.hub.intervals == direct.hub.intervals)
            #expect(abs(mixed.hub.consumptionWh - direct.hub.consumptionWh) < 1e-6)
            #expect(abs(mixed.hub.gridImportWh - direct.hub.gridImportWh) < 1e-6)
            let days = try await store.daily(hub: "park-a", from: start, to: start.adding(milliseconds: 3 * 86_400_000))
            #expect(days.map(\.receivedIntervals) == [96, 96, 3])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func duplicateIsNotCountedTwiceAndConflictIsKeptAside(backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let messages = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 3))
            let other = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 3, pvW: 4000))
            #expect(try await store.store([try accept(messages[0]), try accept(messages[1])]) == [.stored(chain: .linked), .stored(chain: .linked)])
            #expect(try await store.store([try accept(messages[1])]) == [.duplicate])
            // Same hub and interval, different content (and hash): a conflict, not counted.
            guard case .conflict = try await store.store([try accept(other[1])])[0] else { Issue.record("expected a conflict"); return }
            #expect(try await store.store([try accept(other[1])]).count == 1)
            let sums = try await store.sums(hub: "park-a", from: AggregatorFixtures.start, to: now)
            #expect(sums.receivedIntervals == 2)
            #expect(abs(sums.hub.consumptionWh - 2000) < 0.5)
            let conflicts = try await store.conflicts(hub: nil)
            #expect(conflicts.count == 1)
            #expect(conflicts.first?.sequence == 2)
            #expect(try await store.conflicts(hub: "other").isEmpty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func outOfOrderGapAndBrokenChain(backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let messages = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 6))
            // 1, 2, then 5 before 4, and 3 never arrives.
            #expect(try await store.store([try accept(messages[0]), try accept(messages[1])]) == [.stored(chain: .linked), .stored(chain: .linked)])
            #expect(try await store.store([try accept(messages[4])]) == [.stored(chain: .open)])
            #expect(try await store.store([try accept(messages[3])]) == [.stored(chain: .open)])
            #expect(try await store.sequenceGaps(hub: "park-a") == [SequenceGap(first: 3, last: 3)])
            let start = AggregatorFixtures.start
            let gaps = try await store.intervalGaps(hub: "park-a", from: start, to: start.adding(milliseconds: 6 * UTCMilliseconds.quarterHourMs))
            #expect(gaps == [IntervalGap(from: start.adding(milliseconds: 2 * UTCMilliseconds.quarterHourMs),
                                         to: start.adding(milliseconds: 3 * UTCMilliseconds.quarterHourMs)),
                             IntervalGap(from: start.adding(milliseconds: 5 * UTCMilliseconds.quarterHourMs),
                                         to: start.adding(milliseconds: 6 * UTCMilliseconds.quarterHourMs))])
            var sums = try await store.sums(hub: "park-a", from: start, to: now)
            #expect(sums.chain == [.linked: 3, .open: 1])  // 5 became linked when 4 arrived
            // The late 3 closes the gap and links 4.
            #expect(try await store.store([try accept(messages[2])]) == [.stored(chain: .linked)])
            sums = try await store.sums(hub: "park-a", from: start, to: now)
            #expect(sums.chain == [.linked: 5])
            #expect(try await store.sequenceGaps(hub: "park-a").isEmpty)

            // A record whose previous hash is not its predecessor's: the chain is broken.
            let records = try AggregatorFixtures.records(count: 7)
            let forged = try IntervalMessage.make(record: records[6], sequence: 7, previousHash: String(repeating: "a", count: 64),
                                                  kpiDefinitions: KPIDefinitions.version, agentVersion: "test")
            _ = try await store.store([try accept(messages[5])])
            #expect(try await store.store([try accept(forged)]) == [.stored(chain: .broken)])
        }
    }

    /// Stores `records` (chained from sequence 1) in batches, as the ingest service does.
    func storeAll(_ records: [IntervalRecord], in store: any AggregatorStore, batch: Int = 400) async throws -> [StoreOutcome] {
        let accepted = try AggregatorFixtures.messages(records).map { try accept($0) }
        var outcomes: [StoreOutcome] = []
        for start in stride(from: 0, to: accepted.count, by: batch) {
            outcomes += try await store.store(Array(accepted[start..<min(start + batch, accepted.count)]))
        }
        return outcomes
    }

    static func expectSameFigures(_ sums: RangeSums, _ direct: KPIAggregator, _ label: String) {
        #expect(sums.hub.intervals == direct.hub.intervals, "\(label)")
        #expect(abs(sums.hub.consumptionWh - direct.hub.consumptionWh) < 1e-6, "\(label)")
        #expect(abs(sums.hub.gridImportWh - direct.hub.gridImportWh) < 1e-6, "\(label)")
        #expect(abs(sums.hub.productionWh - direct.hub.productionWh) < 1e-6, "\(label)")
        #expect(sums.participants.count == direct.participants.count, "\(label)")
        for participant in direct.participants {
            let stored = sums.participants[participant.participant.rawValue]
            #expect(stored?.siteIntervals == participant.siteIntervals, "\(label) \(participant.participant)")
            #expect(abs((stored?.siteConsumptionWh ?? -1) - participant.siteConsumptionWh) < 1e-6, "\(label) \(participant.participant)")
            #expect(abs((stored?.sharedConsumptionWh ?? -1) - participant.sharedConsumptionWh) < 1e-6, "\(label) \(participant.participant)")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func monthlyRollupEqualsTheIntervalsAcrossMonthBoundaries(backend: StoreBackend) async throws {
        // 2026-01-30 00:00 to 2026-03-02 12:00 UTC: two month boundaries, February whole.
        let first = UTCMilliseconds(iso8601: "2026-01-30T00:00:00Z")!
        let records = AggregatorFixtures.shifted(try AggregatorFixtures.records(count: 96), count: 31 * 96 + 48, from: first)
        func direct(_ from: String, _ to: String) -> KPIAggregator {
            let from = UTCMilliseconds(iso8601: from)!, to = UTCMilliseconds(iso8601: to)!
            return KPIAggregator(records: records.filter { $0.interval.start >= from && $0.interval.start < to })
        }
        try await backend.withStore { store, _ in
                #expect(try await storeAll(records, in: store).allSatisfy { $0 == .stored(chain: .linked) })
                // Intervals + days + February from the monthly rollup + days + intervals.
                let from = "2026-01-30T06:15:00Z", to = "2026-03-02T10:00:00Z"
                let plan = RangePlan(from: UTCMilliseconds(iso8601: from)!, to: UTCMilliseconds(iso8601: to)!)
                #expect(plan.pieces.map(\.source) == [.intervals, .days, .months, .days, .intervals])
                let mixed = try await store.sums(hub: "park-a", from: UTCMilliseconds(iso8601: from)!, to: UTCMilliseconds(iso8601: to)!)
                #expect(mixed.receivedIntervals == 96 * 31 + 40 - 25)
                Self.expectSameFigures(mixed, direct(from, to), "mixed range")
                // A whole month alone, and the 48 intervals of March.
                let february = try await store.sums(hub: "park-a", from: UTCMilliseconds(iso8601: "2026-02-01T00:00:00Z")!,
                                                    to: UTCMilliseconds(iso8601: "2026-03-01T00:00:00Z")!)
                #expect(february.receivedIntervals == 28 * 96)
                Self.expectSameFigures(february, direct("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"), "February")
                let march = try await store.sums(hub: "park-a", from: UTCMilliseconds(iso8601: "2026-03-01T00:00:00Z")!,
                                                 to: UTCMilliseconds(iso8601: "2026-04-01T00:00:00Z")!)
                #expect(march.receivedIntervals == 96 + 48)
                #expect(march.chain == [.linked: 96 + 48])
                Self.expectSameFigures(march, direct("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"), "March")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func migrationBackFillsMonthlyRollupsFromDaily(backend: StoreBackend) async throws {
        let first = UTCMilliseconds(iso8601: "2026-02-20T00:00:00Z")!
        let records = AggregatorFixtures.shifted(try AggregatorFixtures.records(count: 96), count: 20 * 96, from: first)
        let from = UTCMilliseconds(iso8601: "2026-02-01T00:00:00Z")!, to = UTCMilliseconds(iso8601: "2026-04-01T00:00:00Z")!
        try await backend.withStore { store, openAnother in
            _ = try await storeAll(records, in: store)
            let before = try await store.sums(hub: "park-a", from: from, to: to)
            #expect(before.receivedIntervals == 20 * 96)
            // Back to a database of schema v1: no monthly tables, v2 not applied.
            let migrations = store is SQLiteAggregatorStore ? "grdb_migrations" : "hubmeter_migrations"
            try await StoreBackend.execute(["DROP TABLE monthly_hub", "DROP TABLE monthly_participant",
                                            "DELETE FROM \(migrations) WHERE identifier = 'v2-monthly-rollups'"], on: store)
            let migrated = try await openAnother()
            let after = try await migrated.sums(hub: "park-a", from: from, to: to)
            #expect(after.receivedIntervals == 20 * 96)
            #expect(abs(after.hub.consumptionWh - before.hub.consumptionWh) < 1e-6)
            Self.expectSameFigures(after, KPIAggregator(records: records), "back-filled")
            // And the rollups go on from there.
            let more = AggregatorFixtures.shifted(try AggregatorFixtures.records(count: 96), count: 20 * 96 + 4, from: first)
            let outcomes = try await storeAll(more, in: migrated)
            #expect(outcomes.filter { $0 == .duplicate }.count == 20 * 96 && outcomes.suffix(4).allSatisfy { $0 == .stored(chain: .linked) })
            #expect(try await migrated.sums(hub: "park-a", from: from, to: to).receivedIntervals == 20 * 96 + 4)
        }
    }

    /// A committed batch survives a power cut: the writing connection syncs every commit (FULL).
    /// GRDB sets NORMAL when it turns WAL on, after `prepareDatabase`, which once overrode ours.
    @Test func theSQLiteWriterSyncsEveryCommit() throws {
        let path = try RepositoryPaths.makeTemporaryDirectory("aggregator-sync") + "/aggregator.sqlite"
        #expect(try SQLiteAggregatorStore(path: path).writerSynchronousLevel() == 2)
        #expect(try SQLiteAggregatorStore(path: path).writerSynchronousLevel() == 2)
    }

    /// The WAL is copied into the database file by the store's own checkpointer, beside the writer:
    /// in the background once it holds `start` frames, and by the committing writer itself once it
    /// holds `limit`, so that it stays bounded while a writer never pauses. Nothing is lost on the way.
    @Test func theWALIsCheckpointedBesideTheWriterAndStaysBounded() async throws {
        let directory = try RepositoryPaths.makeTemporaryDirectory("aggregator-checkpoint")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/aggregator.sqlite"
        let records = AggregatorFixtures.shifted(try AggregatorFixtures.records(count: 96), count: 400, from: AggregatorFixtures.start)
        let accepted = try AggregatorFixtures.messages(records).map { try accept($0) }
        let store = try SQLiteAggregatorStore(path: path, walCheckpointFrames: (start: 20, limit: 60))
        var largestWAL = 0
        for start in stride(from: 0, to: accepted.count, by: 10) {
            let outcomes = try await store.store(Array(accepted[start..<start + 10]))
            #expect(outcomes == Array(repeating: .stored(chain: .linked), count: 10))
            let size = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
            largestWAL = max(largestWAL, size)
        }
        let counts = store.checkpoints
        #expect(counts.background > 0, "background checkpoints: \(counts)")
        #expect(counts.waited > 0, "a commit past the limit waits for one: \(counts)")
        #expect(counts.failed == 0, "\(counts.lastFailure ?? "")")
        // A batch of 10 records is well under 60 frames: the WAL never holds much more than the limit
        // (4 kB pages and a 24-byte header per frame; without the checkpoints it would reach ~3 MB).
        #expect(largestWAL > 0 && largestWAL <= (60 + 60) * (4096 + 24) + 32, "largest WAL: \(largestWAL) bytes")
        // Everything committed reaches the database file.
        let (walFrames, copied) = store.checkpointAndWait()
        #expect(walFrames >= 0 && copied == walFrames)
        let month = Period.month.range(containing: AggregatorFixtures.start)
        let sums = try await store.sums(hub: "park-a", from: month.from, to: month.to)
        #expect(sums.receivedIntervals == 400)
        #expect(sums.chain == [.linked: 400])
        Self.expectSameFigures(sums, KPIAggregator(records: records), "checkpointed")
        // Another store on the same file (a restarted aggregator) reads the same.
        let reopened = try SQLiteAggregatorStore(path: path)
        #expect(try await reopened.sums(hub: "park-a", from: month.from, to: month.to).receivedIntervals == 400)
        #expect(try await reopened.store([accepted[0]]) == [.duplicate])
    }

    /// The payloads in the SQLite file, decoded by hand from each row's encoding, with the encodings seen.
    static func storedPayloads(_ path: String) async throws -> (payloads: [Int64: [UInt8]], encodings: [String: Int]) {
        let queue = try DatabaseQueue(path: path)
        return try await queue.read { db in
            var payloads: [Int64: [UInt8]] = [:]
            var encodings: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT r.interval_start, p.payload, p.encoding FROM interval_record r JOIN interval_payload p ON p.id = r.payload_id
                WHERE r.hub = 'park-a'
                """) {
                let bytes = [UInt8](row[1] as Data), encoding: String = row[2]
                encodings[encoding, default: 0] += 1
                payloads[row[0]] = encoding == "lz4" ? try PayloadFrame.decompress(bytes) : bytes
            }
            return (payloads, encodings)
        }
    }

    /// Schema v3 of the SQLite store keeps payloads in `interval_payload` (PostgreSQL keeps them
    /// inline: TOAST already stores large values out of line), v4 says how each is encoded. A
    /// database of schema v2 keeps every payload byte through both migrations, and ingest goes on from there.
    @Test func payloadMigrationKeepsEveryPayload() async throws {
        let accepted = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 6)).map { try accept($0) }
        func expected(_ records: ArraySlice<AcceptedInterval>) -> [Int64: [UInt8]] {
            Dictionary(uniqueKeysWithValues: records.map { ($0.interval.start.rawValue, $0.payload) })
        }
        try await StoreBackend.sqlite.withStore { store, openAnother in
            let path = try #require(store as? SQLiteAggregatorStore).path
            #expect(try await store.store(Array(accepted.prefix(5))) == Array(repeating: .stored(chain: .linked), count: 5))
            #expect(try await Self.storedPayloads(path) == (expected(accepted.prefix(5)), ["lz4": 5]))
            // Back to schema v2: the raw payload in `interval_record`, no payload table, v3 and v4 not applied.
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "ALTER TABLE interval_record ADD COLUMN payload BLOB")
                for record in accepted.prefix(5) {
                    try db.execute(sql: "UPDATE interval_record SET payload = ? WHERE hub = 'park-a' AND interval_start = ?",
                                   arguments: [Data(record.payload), record.interval.start.rawValue])
                }
                try db.execute(sql: """
                    ALTER TABLE interval_record DROP COLUMN payload_id;
                    DROP TABLE interval_payload;
                    DELETE FROM grdb_migrations WHERE identifier IN ('v3-payload-table', 'v4-payload-encoding');
                    """)
            }
            let migrated = try await openAnother()
            #expect(try await Self.storedPayloads(path) == (expected(accepted.prefix(5)), ["raw": 5]))
            #expect(try await migrated.sums(hub: "park-a", from: AggregatorFixtures.start, to: now).chain == [.linked: 5])
            // Replays are still duplicates, and the next record is stored and linked, with its payload compressed.
            #expect(try await migrated.store(accepted) == Array(repeating: .duplicate, count: 5) + [.stored(chain: .linked)])
            #expect(try await Self.storedPayloads(path) == (expected(accepted[...]), ["raw": 5, "lz4": 1]))
            #expect(try await migrated.sums(hub: "park-a", from: AggregatorFixtures.start, to: now).receivedIntervals == 6)
            // Both kinds of rows read back byte for byte.
            for (index, record) in accepted.enumerated() {
                #expect(try await migrated.payload(hub: "park-a", sequence: Int64(index + 1)) == record.payload)
            }
        }
    }

    /// Every stored record reads back exactly as published, prepared on a classifier or not, and
    /// its chain hash checks out over those bytes; SQLite keeps it as an LZ4 frame.
    @Test(arguments: StoreBackend.allCases)
    func storedRecordsReadBackByteForByte(backend: StoreBackend) async throws {
        let messages = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 4))
        try await backend.withStore { store, _ in
            var accepted = try messages.map { try accept($0) }
            store.prepare(&accepted[0])
            store.prepare(&accepted[2])
            #expect((accepted[0].payloadFrame != nil) == (backend == .sqlite))
            #expect(try await store.store(accepted) == Array(repeating: .stored(chain: .linked), count: 4))
            for (index, message) in messages.enumerated() {
                let payload = try #require(try await store.payload(hub: "park-a", sequence: Int64(index + 1)))
                #expect(payload == message.payload)
                let (parsed, _) = try IntervalMessage.parse(payload)
                #expect(parsed.hash == message.hash && parsed.sequence == Int64(index + 1))
            }
            #expect(try await store.payload(hub: "park-a", sequence: 5) == nil)
            #expect(try await store.payload(hub: "park-b", sequence: 1) == nil)
            if let sqlite = store as? SQLiteAggregatorStore {
                let queue = try DatabaseQueue(path: sqlite.path)
                let sizes = try await queue.read { db in
                    try Row.fetchAll(db, sql: "SELECT LENGTH(payload), encoding, HEX(SUBSTR(payload, 1, 4)) FROM interval_payload ORDER BY id")
                        .map { (bytes: $0[0] as Int, encoding: $0[1] as String, magic: $0[2] as String) }
                }
                #expect(sizes.count == 4)
                for (size, message) in zip(sizes, messages) {
                    #expect(size.encoding == "lz4" && size.magic == "04224D18", "an LZ4 frame starts with 04 22 4D 18: \(size)")
                    #expect(size.bytes * 2 < message.payload.count, "\(size.bytes) bytes stored for \(message.payload.count)")
                }
            }
        }
    }

    /// An empty payload (ingest never accepts one; `store` takes any record) is kept raw and read
    /// back empty, not as a frame without a content size that would later count as damaged.
    @Test func anEmptyPayloadIsKeptRaw() async throws {
        let (message, record) = try IntervalMessage.parse(try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 1))[0].payload)
        try await StoreBackend.sqlite.withStore { store, _ in
            var empty = AcceptedInterval(message: message, record: record, payload: [], receivedAt: now)
            store.prepare(&empty)
            #expect(empty.payloadFrame == nil)
            #expect(try await store.store([empty]) == [.stored(chain: .linked)])
            #expect(try await store.payload(hub: "park-a", sequence: 1) == [])
            let path = try #require(store as? SQLiteAggregatorStore).path
            #expect(try await Self.storedPayloads(path).encodings == ["raw": 1])
        }
    }

    /// A stored frame that no longer matches its checksum is reported as damaged, never returned.
    @Test func aDamagedPayloadFrameIsReportedNotReturned() async throws {
        let messages = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 2))
        try await StoreBackend.sqlite.withStore { store, _ in
            #expect(try await store.store(try messages.map { try accept($0) }).count == 2)
            let path = try #require(store as? SQLiteAggregatorStore).path
            // One byte of the second record's compressed content changed, as a failing disk might.
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                let frame = try #require(try Data.fetchOne(db, sql: "SELECT payload FROM interval_payload WHERE id = 2"))
                var damaged = [UInt8](frame)
                damaged[damaged.count / 2] ^= 0x20
                try db.execute(sql: "UPDATE interval_payload SET payload = ? WHERE id = 2", arguments: [Data(damaged)])
            }
            #expect(try await store.payload(hub: "park-a", sequence: 1) == messages[0].payload)
            do {
                let payload = try await store.payload(hub: "park-a", sequence: 2)
                Issue.record("a damaged frame was returned: \(payload?.count ?? -1) bytes")
            } catch let error as AggregatorStoreError {
                #expect(error.code == .damaged)
                #expect(error.description.contains("park-a #2"), "\(error)")
            }
            // The API says so with the store's code, and still serves the intact record.
            let configuration = try AggregatorEndToEndTests.configuration(brokerPort: 1883, httpPort: 8080, database: path, clientID: "t")
            let endpoints = Endpoints(region: configuration.region, knownHubs: configuration.hubs, store: store,
                                      authenticator: TokenAuthenticator(tokens: configuration.tokens), clock: { self.now })
            let bearer = "Bearer \(AggregatorEndToEndTests.auditorToken)"
            let damaged = await endpoints.record(hub: "park-a", sequence: "2", authorization: bearer)
            #expect(damaged.status == 500 && damaged.body.contains("\"code\":\"storage.damaged\""), "\(damaged)")
            #expect(await endpoints.record(hub: "park-a", sequence: "1", authorization: bearer).bytes == messages[0].payload)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func twoInstancesStoringTheSameRecordsConcurrentlyCountEachOnce(backend: StoreBackend) async throws {
        let records = AggregatorFixtures.shifted(try AggregatorFixtures.records(count: 96), count: 300, from: AggregatorFixtures.start)
        let accepted = try AggregatorFixtures.messages(records).map { try accept($0) }
        let batches = stride(from: 0, to: accepted.count, by: 25).map { Array(accepted[$0..<min($0 + 25, accepted.count)]) }
        try await backend.withStore { first, openAnother in
            let second = try await openAnother()
            // Two instances (two connections, two pools), one in order and one in reverse order of batches.
            async let forward: [StoreOutcome] = {
                var outcomes: [StoreOutcome] = []
                for batch in batches { outcomes += try await first.store(batch) }
                return outcomes
            }()
            async let backward: [StoreOutcome] = {
                var outcomes: [StoreOutcome] = []
                for batch in batches.reversed() { outcomes += try await second.store(batch) }
                return outcomes
            }()
            let all = try await forward + backward
            let stored = all.filter { if case .stored = $0 { true } else { false } }.count
            #expect(stored == 300)
            #expect(all.filter { $0 == .duplicate }.count == 300)
            let month = Period.month.range(containing: AggregatorFixtures.start)
            for store in [first, second] {
                let sums = try await store.sums(hub: "park-a", from: month.from, to: month.to)
                #expect(sums.receivedIntervals == 300)
                #expect(sums.chain == [.linked: 300])
                Self.expectSameFigures(sums, KPIAggregator(records: records), "concurrent")
                let days = try await store.daily(hub: "park-a", from: month.from, to: month.to)
                #expect(days.map(\.receivedIntervals) == [96, 96, 96, 12])
                #expect(try await store.sequenceGaps(hub: "park-a").isEmpty)
                #expect(try await store.hubs().map(\.records) == [300])
            }
        }
    }

    @Test func malformedOversizedAndSpoofedMessagesAreRejected() throws {
        let message = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 1))[0]
        func reason(_ topic: String, _ payload: [UInt8]) -> Rejection.Reason? {
            if case .rejected(let rejection) = ingest.classify(topic: topic, payload: payload, receivedAt: now) { return rejection.reason }
            return nil
        }
        #expect(reason(AggregatorFixtures.topic(), Array("{not json".utf8)) == .malformed)
        #expect(reason(AggregatorFixtures.topic(), Array(repeating: UInt8(ascii: " "), count: 70_000)) == .oversized)
        #expect(reason(AggregatorFixtures.topic("park-b"), message.payload) == .hubMismatch)
        var tampered = message.payload
        let text = String(decoding: tampered, as: UTF8.self).replacingOccurrences(of: "\"sequence\":1}", with: "\"sequence\":2}")
        tampered = Array(text.utf8)
        #expect(reason(AggregatorFixtures.topic(), tampered) == .hashMismatch)
        // A status published under another hub's topic.
        let status = try MessageEncoding.encode(StatusMessage(hub: "park-a", state: "online", version: "1", configurationHash: "x", startedAt: "t"))
        #expect(reason("hubmeter/v1/park-b/status", status) == .hubMismatch)
        if case .ignored = ingest.classify(topic: "hubmeter/v1/park-a/balance", payload: [], receivedAt: now) {} else {
            Issue.record("balances are not stored")
        }
        #expect(ingest.subscriptions(shareGroup: "agg") == ["$share/agg/hubmeter/v1/+/interval", "$share/agg/hubmeter/v1/+/status"])
    }

    @Test func periodsAreCalendarRanges() {
        let instant = UTCMilliseconds(iso8601: "2026-03-18T10:00:00Z")!
        #expect(Period.month.range(containing: instant).from.iso8601.hasPrefix("2026-03-01T00:00:00"))
        #expect(Period.month.range(containing: instant).to.iso8601.hasPrefix("2026-04-01T00:00:00"))
        #expect(Period.week.range(containing: instant).from.iso8601.hasPrefix("2026-03-16T00:00:00")) // a Monday
        #expect(Period.year.range(containing: instant).to.iso8601.hasPrefix("2027-01-01T00:00:00"))
    }
}
