import Benchmark
import Foundation
import HubAggregator
import HubContract
import HubDomain
import Logging
import Synchronization

/// State shared by a benchmark's setup and its runs (the runner executes benchmarks one at a time).
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value?> = Mutex(nil)
    func set(_ newValue: Value?) { value.withLock { $0 = newValue } }
    func get() throws -> Value {
        guard let current = value.withLock({ $0 }) else { throw BenchmarkFailure("setup did not run") }
        return current
    }
}

/// Inputs prepared in a benchmark's setup, one per run (the warm-up and each measured run get a
/// new hub, so that every record is new to the store), with the store they go into.
final class PreparedRuns<Run: Sendable>: Sendable {
    let store: SQLiteAggregatorStore
    let directory: String
    let runs: [Run]
    private let next = Mutex(0)

    init(store: SQLiteAggregatorStore, directory: String, runs: [Run]) {
        self.store = store
        self.directory = directory
        self.runs = runs
    }

    func take() throws -> Run {
        let index = next.withLock { index in
            defer { index += 1 }
            return index
        }
        guard index < runs.count else { throw BenchmarkFailure("only \(runs.count) runs were prepared") }
        return runs[index]
    }
}

/// One hub's interval messages as received, and the checks they go through.
struct ReceivedMessages: Sendable {
    var hub: String
    var payloads: [[UInt8]]
    var ingest: IntervalIngest

    var topic: String { "hubmeter/v1/\(hub)/interval" }

    init(hub: String, count: Int, day: [IntervalRecord]) throws {
        self.hub = hub
        payloads = try BenchmarkRecords.accepted(hub: hub, count: count, from: BenchmarkRecords.start, day: day).map(\.payload)
        ingest = IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 256 << 10, schemas: try MessageSchemas.load(directory: BenchmarkPaths.schemas))
    }
}

/// Environment knobs: the size of the query dataset and the PostgreSQL server, if any.
enum BenchmarkEnvironment {
    static let variables = ProcessInfo.processInfo.environment
    static var yearHubs: Int { Int(variables["HUBMETER_BENCH_HUBS"] ?? "") ?? 100 }
    static var postgresHubs: Int { Int(variables["HUBMETER_BENCH_POSTGRES_HUBS"] ?? "") ?? 10 }
    /// `host=… port=… user=…` of a server where the user may create databases; unset: no PostgreSQL benchmark.
    static var postgres: PostgresAggregatorStore.Settings? {
        guard let text = variables["HUBMETER_BENCH_POSTGRES"] else { return nil }
        var values: [String: String] = [:]
        for pair in text.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        return PostgresAggregatorStore.Settings(host: values["host"] ?? "127.0.0.1", port: Int(values["port"] ?? "") ?? 5432,
                                                database: "postgres", user: values["user"] ?? "postgres", password: values["password"],
                                                tls: .disable, maximumConnections: 4)
    }
}

let ingestBatch = 500
let ingestRecordsPerRun = 10_000

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(20)

    // (a) Ingest into SQLite: 10 000 new records of a hub with 5 companies per run, 500 per store()
    // call (one transaction), as IngestService drains its queue. records/s = 10 000 / wall clock.
    let ingest = Shared<PreparedRuns<[AcceptedInterval]>>()
    Benchmark(
        "SQLite ingest 10000 records (5 companies) in batches of 500",
        configuration: .init(metrics: [.wallClock, .cpuTotal], warmupIterations: 1, maxIterations: 6),
        closure: { benchmark async throws in
            let run = try ingest.get()
            let records = try run.take()
            benchmark.startMeasurement()
            for start in stride(from: 0, to: records.count, by: ingestBatch) {
                let outcomes = try await run.store.store(Array(records[start..<min(start + ingestBatch, records.count)]))
                blackHole(outcomes)
            }
            benchmark.stopMeasurement()
        },
        setup: {
            let directory = BenchmarkPaths.directory + "/ingest-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let day = try BenchmarkRecords.day(companies: 5)
            // Warm-up + up to 6 measured runs, each a new hub, so that every record is new.
            let hubs = try (0..<7).map { index in
                try BenchmarkRecords.accepted(hub: "ingest-\(index)", count: ingestRecordsPerRun, from: BenchmarkRecords.start, day: day)
            }
            ingest.set(PreparedRuns(store: try SQLiteAggregatorStore(path: directory + "/aggregator.sqlite"), directory: directory, runs: hubs))
        },
        teardown: {
            if let run = try? ingest.get() { try? FileManager.default.removeItem(atPath: run.directory) }
            ingest.set(nil)
        }
    )

    // (a2) The whole ingest path after the broker: `IngestPipeline` (what `IngestService` feeds)
    // gets 10 000 interval messages of a new hub with 5 companies, classifies them (topic, size,
    // JSON Schema, decoding, hash; one task per core but one) and stores them in SQLite in batches
    // of 500. records/s = 10 000 / wall clock, from the first submit until the last batch is committed.
    let pipelineRuns = Shared<PreparedRuns<ReceivedMessages>>()
    Benchmark(
        "Ingest pipeline 10000 messages (5 companies): classify + SQLite store",
        configuration: .init(metrics: [.wallClock, .cpuTotal], warmupIterations: 1, maxIterations: 6),
        closure: { benchmark async throws in
            let runs = try pipelineRuns.get()
            let messages = try runs.take()
            let metrics = AggregatorMetrics()
            var logger = Logger(label: "bench.ingest")
            logger.logLevel = .warning
            let pipeline = IngestPipeline(ingest: messages.ingest, store: runs.store, metrics: metrics, logger: logger,
                                          clock: { BenchmarkRecords.start }, maxBatch: ingestBatch)
            benchmark.startMeasurement()
            for payload in messages.payloads { pipeline.submit(topic: messages.topic, payload: payload) }
            pipeline.finish()
            await pipeline.run()
            benchmark.stopMeasurement()
            let stored = metrics.snapshot["stored"] ?? 0
            guard stored == messages.payloads.count else {
                throw BenchmarkFailure("\(stored) of \(messages.payloads.count) stored: \(metrics.snapshot)")
            }
        },
        setup: {
            let directory = BenchmarkPaths.directory + "/pipeline-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let day = try BenchmarkRecords.day(companies: 5)
            let runs = try (0..<7).map { try ReceivedMessages(hub: "pipeline-\($0)", count: ingestRecordsPerRun, day: day) }
            pipelineRuns.set(PreparedRuns(store: try SQLiteAggregatorStore(path: directory + "/aggregator.sqlite"), directory: directory, runs: runs))
        },
        teardown: {
            if let runs = try? pipelineRuns.get() { try? FileManager.default.removeItem(atPath: runs.directory) }
            pipelineRuns.set(nil)
        }
    )

    // How well classification alone scales on this machine: the same 10 000 messages classified
    // by one task, and split in halves over two tasks (no store).
    let classifyInput = Shared<ReceivedMessages>()
    for tasks in [1, 2] {
        Benchmark(
            "classify 10000 messages (5 companies) on \(tasks) task\(tasks == 1 ? "" : "s"), no store",
            configuration: .init(metrics: [.wallClock, .cpuTotal], warmupIterations: 1, maxIterations: 6),
            closure: { benchmark async throws in
                let messages = try classifyInput.get()
                let (payloads, ingest, topic) = (messages.payloads, messages.ingest, messages.topic)
                benchmark.startMeasurement()
                let accepted = await withTaskGroup(of: Int.self) { group in
                    let slice = (payloads.count + tasks - 1) / tasks
                    for start in stride(from: 0, to: payloads.count, by: slice) {
                        group.addTask {
                            var accepted = 0
                            for payload in payloads[start..<min(start + slice, payloads.count)] {
                                if case .interval = ingest.classify(topic: topic, payload: payload, receivedAt: BenchmarkRecords.start) { accepted += 1 }
                            }
                            return accepted
                        }
                    }
                    return await group.reduce(0, +)
                }
                benchmark.stopMeasurement()
                guard accepted == payloads.count else { throw BenchmarkFailure("\(accepted) of \(payloads.count) accepted") }
            },
            setup: { classifyInput.set(try ReceivedMessages(hub: "classify", count: ingestRecordsPerRun, day: try BenchmarkRecords.day(companies: 5))) },
            teardown: { classifyInput.set(nil) }
        )
    }

    // What comes before the store in the service: parsing and checking one message
    // (JSON decode, canonical re-encode, SHA-256, topic checks), 1000 per run.
    let payloads = Shared<[[UInt8]]>()
    Benchmark(
        "IntervalIngest.classify 1000 messages (5 companies)",
        configuration: .init(metrics: [.wallClock, .cpuTotal], warmupIterations: 1, maxIterations: 20),
        closure: { benchmark async throws in
            let ingest = IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 256 << 10)
            for payload in try payloads.get() {
                blackHole(ingest.classify(topic: "hubmeter/v1/parse/interval", payload: payload, receivedAt: BenchmarkRecords.start))
            }
        },
        setup: {
            let day = try BenchmarkRecords.day(companies: 5)
            payloads.set(try BenchmarkRecords.accepted(hub: "parse", count: 1000, from: BenchmarkRecords.start, day: day).map(\.payload))
        },
        teardown: { payloads.set(nil) }
    )

    // (b) A year of one location's KPIs: the report (sums over the year, coverage with gaps, chain)
    // and the daily series, with `HUBMETER_BENCH_HUBS` (100) hubs × 20 companies × one year loaded.
    let year = YearDataset(hubs: BenchmarkEnvironment.yearHubs, companies: 20)
    let sqliteYear = Shared<SQLiteAggregatorStore>()
    Benchmark(
        "SQLite year of one location's KPIs + daily series (\(year.hubs) hubs x 20 companies x 1 year loaded)",
        configuration: .init(metrics: [.wallClock, .cpuTotal], warmupIterations: 3, maxIterations: 200),
        closure: { benchmark async throws in
            try await yearQuery(try sqliteYear.get(), hub: YearDataset.hub(year.hubs / 2))
        },
        setup: {
            let (store, built) = try year.openSQLite()
            let seconds = try YearDataset.buildSeconds(sqlite: year.sqlitePath()) ?? 0
            FileHandle.standardError.write(Data("""
                \(year.name) SQLite dataset \(built == nil ? "reused" : "built") (\(year.sqlitePath()), built in \(Int(seconds)) s)\n
                """.utf8))
            try await checkYearQuery(store, hub: YearDataset.hub(year.hubs / 2))
            sqliteYear.set(store)
        },
        teardown: { sqliteYear.set(nil) }
    )

    if let server = BenchmarkEnvironment.postgres {
        let postgresYear = YearDataset(hubs: BenchmarkEnvironment.postgresHubs, companies: 20)
        let store = Shared<PostgresAggregatorStore>()
        Benchmark(
            "PostgreSQL year of one location's KPIs + daily series (\(postgresYear.hubs) hubs x 20 companies x 1 year loaded)",
            configuration: .init(metrics: [.wallClock, .cpuTotal], warmupIterations: 3, maxIterations: 200),
            closure: { benchmark async throws in
                try await yearQuery(try store.get(), hub: YearDataset.hub(postgresYear.hubs / 2))
            },
            setup: {
                var logger = Logger(label: "bench.postgres")
                logger.logLevel = .warning
                let opened: PostgresAggregatorStore, built: Double?
                do {
                    (opened, built) = try await postgresYear.openPostgres(server: server, logger: logger)
                } catch {
                    // postgres-nio hides the server's message from `description`.
                    throw BenchmarkFailure(String(reflecting: error))
                }
                FileHandle.standardError.write(Data("\(postgresYear.name) PostgreSQL dataset \(built.map { "built in \(Int($0)) s" } ?? "reused")\n".utf8))
                try await checkYearQuery(opened, hub: YearDataset.hub(postgresYear.hubs / 2))
                store.set(opened)
            },
            teardown: {
                if let opened = try? store.get() { await opened.close() }
                store.set(nil)
            }
        )
    }
}

/// What the location page asks for a year: the report and the daily series.
func yearQuery(_ store: any AggregatorStore, hub: String) async throws {
    let from = UTCMilliseconds(YearDataset.yearStart), to = from.adding(milliseconds: 365 * 86_400_000)
    let report = try await KPIQuery(store: store).report(hub: hub, from: from, to: to, now: to.adding(milliseconds: 86_400_000))
    let days = try await store.daily(hub: hub, from: from, to: to)
    blackHole(report)
    blackHole(days)
}

/// The figures are those of the dataset (so the benchmark measures a real answer, not an empty one).
func checkYearQuery(_ store: any AggregatorStore, hub: String) async throws {
    let from = UTCMilliseconds(YearDataset.yearStart), to = from.adding(milliseconds: 365 * 86_400_000)
    let report = try await KPIQuery(store: store).report(hub: hub, from: from, to: to, now: to.adding(milliseconds: 86_400_000))
    let missing = (0..<YearDataset.intervals).filter { $0 % 10007 == 5 }.count
    guard report.coverage.receivedIntervals == YearDataset.intervals - missing, report.coverage.gaps.count == missing,
          report.companies.count == 20, report.selfSufficiency.value != nil,
          try await store.daily(hub: hub, from: from, to: to).count == 365 else {
        throw BenchmarkFailure("unexpected year report for \(hub): received \(report.coverage.receivedIntervals), gaps \(report.coverage.gaps.count), companies \(report.companies.count)")
    }
}
