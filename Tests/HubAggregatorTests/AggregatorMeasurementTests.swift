import Foundation
import HubAggregator
import HubContract
import HubDomain
import Testing

/// Rough numbers for docs/performance.md; runs only with HUBMETER_MEASURE=1 (not a benchmark harness).
@Suite("Aggregator measurements", .enabled(if: ProcessInfo.processInfo.environment["HUBMETER_MEASURE"] == "1"))
struct AggregatorMeasurementTests {
    /// A year of one hub (2 companies): `count` records made by shifting one real record through time.
    static func yearOfMessages(count: Int) throws -> [IntervalMessage] {
        let template = try AggregatorFixtures.records(count: 1)[0]
        var previous = IntervalMessage.genesisHash
        var messages: [IntervalMessage] = []
        messages.reserveCapacity(count)
        for index in 0..<count {
            var record = template
            record.interval = SettlementInterval(containing: AggregatorFixtures.start.adding(milliseconds: Int64(index) * UTCMilliseconds.quarterHourMs))
            record.id = record.interval.recordID(hub: record.hubID)
            let message = try IntervalMessage.make(record: record, sequence: Int64(index + 1), previousHash: previous,
                                                   kpiDefinitions: KPIDefinitions.version, agentVersion: "measure")
            previous = message.hash
            messages.append(message)
        }
        return messages
    }

    @Test func ingestAndYearQuery() throws {
        let count = 35_040
        let messages = try Self.yearOfMessages(count: count)
        let ingest = IntervalIngest(topicPrefix: "hubmeter/v1", maxMessageBytes: 256 << 10)
        let now = UTCMilliseconds(epochSeconds: 1_900_000_000)
        let clock = ContinuousClock()

        var accepted: [AcceptedInterval] = []
        let parse = clock.measure {
            for message in messages {
                if case .interval(let a) = ingest.classify(topic: AggregatorFixtures.topic(), payload: message.payload, receivedAt: now) { accepted.append(a) }
            }
        }
        #expect(accepted.count == count)

        let batched = try AggregatorFixtures.temporaryStore()
        let batchTime = try clock.measure {
            var index = 0
            while index < accepted.count {
                _ = try batched.store(Array(accepted[index..<min(index + 500, accepted.count)]))
                index += 500
            }
        }
        let single = try AggregatorFixtures.temporaryStore()
        let singleCount = 5_000
        let singleTime = try clock.measure {
            for record in accepted.prefix(singleCount) { _ = try single.store([record]) }
        }
        let year = (from: AggregatorFixtures.start, to: AggregatorFixtures.start.adding(milliseconds: Int64(count) * UTCMilliseconds.quarterHourMs))
        let query = KPIQuery(store: batched)
        _ = try query.report(hub: "park-a", from: year.from, to: year.to, now: now)
        var reports: [LocationReport] = []
        let queryTime = try clock.measure {
            for _ in 0..<10 { reports.append(try query.report(hub: "park-a", from: year.from, to: year.to, now: now)) }
        }
        #expect(reports.last?.coverage.receivedIntervals == count)
        let sumsTime = try clock.measure { _ = try batched.sums(hub: "park-a", from: year.from, to: year.to) }
        let gapsTime = try clock.measure { _ = try batched.intervalGaps(hub: "park-a", from: year.from, to: year.to) }
        print("MEASURE year sums \(sumsTime), gaps \(gapsTime)")

        func perSecond(_ n: Int, _ d: Duration) -> Int { Int(Double(n) / (Double(d.components.attoseconds) / 1e18 + Double(d.components.seconds))) }
        print("""
            MEASURE parse+check (classify): \(perSecond(count, parse)) records/s
            MEASURE store, batches of 500: \(perSecond(count, batchTime)) records/s
            MEASURE store, one transaction per record: \(perSecond(singleCount, singleTime)) records/s
            MEASURE year report (1 hub, 2 companies, \(count) intervals): \(queryTime / 10) per query
            """)
    }
}
