// Ingest throughput outside the benchmark harness (whose async runner did not let two child
// tasks run at once here: see docs/performance.md), as the aggregator runs it: a plain async main
// on the cooperative pool, `IngestPipeline` fed interval messages, classified on the pipeline's
// classifier tasks and stored by one SQLite writer. Prints wall clock, process CPU and records/s per run.
// The writer alone is the harness's `SQLite ingest 10000 records …` (AggregatorBenchmarks).
//
//   swift run -c release IngestThroughput [RUNS] [COMPANIES] [CLASSIFIERS|default] [MESSAGES]
//
// MESSAGES (default 10,000) per run; longer runs show the sustained rate, past the pipeline's
// fill and drain. (valgrind 3.19 cannot run this binary: "brk segment overflow", then a crash.)
import Foundation
import HubAggregator
import HubContract
import HubDomain
import Logging
import Synchronization

/// The SQLite store, timing its `store` calls (the writer's busy time inside the pipeline).
final class TimedStore: AggregatorStore {
    let base: SQLiteAggregatorStore
    let busy = Mutex<Duration>(.zero)
    init(_ base: SQLiteAggregatorStore) { self.base = base }
    func store(_ records: [AcceptedInterval]) async throws -> [StoreOutcome] {
        let start = ContinuousClock.now
        defer { let elapsed = ContinuousClock.now - start; busy.withLock { $0 += elapsed } }
        return try await base.store(records)
    }
    func recordStatus(hub: String, status: StatusMessage, at: UTCMilliseconds) async throws { try await base.recordStatus(hub: hub, status: status, at: at) }
    func recordRejection(_ rejection: Rejection, at: UTCMilliseconds) async throws { try await base.recordRejection(rejection, at: at) }
    func hubs() async throws -> [StoredHub] { try await base.hubs() }
    func sums(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> RangeSums { try await base.sums(hub: hub, from: from, to: to) }
    func daily(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [DailySums] { try await base.daily(hub: hub, from: from, to: to) }
    func intervals(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [StoredInterval] { try await base.intervals(hub: hub, from: from, to: to) }
    func intervalGaps(hub: String, from: UTCMilliseconds, to: UTCMilliseconds) async throws -> [IntervalGap] { try await base.intervalGaps(hub: hub, from: from, to: to) }
    func sequenceGaps(hub: String) async throws -> [SequenceGap] { try await base.sequenceGaps(hub: hub) }
    func conflicts(hub: String?) async throws -> [StoredConflict] { try await base.conflicts(hub: hub) }
    func rejectionCounts() async throws -> [String: Int] { try await base.rejectionCounts() }
    func payload(hub: String, sequence: Int64) async throws -> [UInt8]? { try await base.payload(hub: hub, sequence: sequence) }
    func prepare(_ record: inout AcceptedInterval) { base.prepare(&record) }
}

func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let arguments = CommandLine.arguments
let runs = arguments.count > 1 ? Int(arguments[1]) ?? 5 : 5
let companies = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
/// Classification tasks of the pipeline; default: the pipeline's own default.
let classifiers = arguments.count > 3 && arguments[3] != "default" ? Int(arguments[3]) : nil
let perRun = arguments.count > 4 ? Int(arguments[4]) ?? 10_000 : 10_000
let directory = NSTemporaryDirectory() + "ingest-throughput-\(UUID().uuidString)"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }

let day = try BenchmarkRecords.day(companies: companies)
let hubs = try (0...runs).map { index in
    let hub = "throughput-\(index)"
    return (hub, try BenchmarkRecords.accepted(hub: hub, count: perRun, from: BenchmarkRecords.start, day: day).map(\.payload))
}
let bytes = hubs[0].1.reduce(0) { $0 + $1.count } / perRun
let ingest = IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 256 << 10, schemas: try MessageSchemas.load(directory: BenchmarkPaths.schemas))
let store = TimedStore(try SQLiteAggregatorStore(path: directory + "/aggregator.sqlite"))
var logger = Logger(label: "throughput")
logger.logLevel = .warning
print("\(perRun) messages per run, \(companies) companies, \(bytes) bytes each, \(ProcessInfo.processInfo.activeProcessorCount) cores, classifiers \(classifiers.map(String.init) ?? "default")")

/// Classification alone, on `tasks` tasks: how well it scales here.
func classifyOnly(_ payloads: [[UInt8]], topic: String, ingest: IntervalIngest, tasks: Int) async -> Int {
    await withTaskGroup(of: Int.self) { group in
        let slice = (payloads.count + tasks - 1) / tasks
        for start in stride(from: 0, to: payloads.count, by: slice) {
            let part = payloads[start..<min(start + slice, payloads.count)]
            group.addTask {
                var accepted = 0
                for payload in part {
                    if case .interval = ingest.classify(topic: topic, payload: payload, receivedAt: BenchmarkRecords.start) { accepted += 1 }
                }
                return accepted
            }
        }
        return await group.reduce(0, +)
    }
}

for tasks in [1, ProcessInfo.processInfo.activeProcessorCount] {
    let (wall0, cpu0) = (Date(), processCPUSeconds())
    let accepted = await classifyOnly(hubs[0].1, topic: "hubmeter/v1/\(hubs[0].0)/interval", ingest: ingest, tasks: tasks)
    let wall = Date().timeIntervalSince(wall0), cpu = processCPUSeconds() - cpu0
    precondition(accepted == perRun)
    print(String(format: "classify only, %d task(s): wall %.0f ms, CPU %.0f ms, %.0f records/s", tasks, wall * 1000, cpu * 1000, Double(perRun) / wall))
}

// The pipeline: run 0 warms up (and creates the tables' pages), runs 1… are reported.
var rates: [Double] = []
for (index, (hub, payloads)) in hubs.enumerated() {
    let metrics = AggregatorMetrics()
    let pipeline = classifiers.map {
        IngestPipeline(ingest: ingest, store: store, metrics: metrics, logger: logger, clock: { BenchmarkRecords.start }, classifiers: $0)
    } ?? IngestPipeline(ingest: ingest, store: store, metrics: metrics, logger: logger, clock: { BenchmarkRecords.start })
    store.busy.withLock { $0 = .zero }
    let (wall0, cpu0) = (Date(), processCPUSeconds())
    for payload in payloads { pipeline.submit(topic: "hubmeter/v1/\(hub)/interval", payload: payload) }
    pipeline.finish()
    await pipeline.run()
    let wall = Date().timeIntervalSince(wall0), cpu = processCPUSeconds() - cpu0
    guard metrics.snapshot["stored"] == perRun else { fatalError("stored \(metrics.snapshot)") }
    if index == 0 { continue }
    rates.append(Double(perRun) / wall)
    let busy = store.busy.withLock { $0 }
    let busyMs = Double(busy.components.seconds) * 1000 + Double(busy.components.attoseconds) / 1e15
    print(String(format: "pipeline run %d: wall %.0f ms, CPU %.0f ms (%.2f cores), writer in store() %.0f ms, %.0f records/s",
                 index, wall * 1000, cpu * 1000, cpu / wall, busyMs, Double(perRun) / wall))
}
// What the SQLite file holds per record once the WAL is copied in (payload frames, rows, indexes, rollups).
store.base.checkpointAndWait()
let fileBytes = (try FileManager.default.attributesOfItem(atPath: directory + "/aggregator.sqlite")[.size] as? Int) ?? 0
let frameBytes = hubs[0].1.prefix(1_000).reduce(0) { $0 + PayloadFrame.compress($1).count } / min(1_000, perRun)
print(String(format: "database file: %.1f MB, %d bytes per stored record; payload frames: %d bytes on average for %d-byte payloads",
             Double(fileBytes) / 1e6, fileBytes / (hubs.count * perRun), frameBytes, bytes))
let sorted = rates.sorted()
print(String(format: "pipeline records/s over %d runs: min %.0f, median %.0f, max %.0f", sorted.count, sorted.first!, sorted[sorted.count / 2], sorted.last!))
