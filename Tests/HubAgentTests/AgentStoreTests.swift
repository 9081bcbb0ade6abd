import HubContract
import Foundation
import HubAgent
import HubDomain
import HubSupport
import Testing
import TestSupport

@Suite struct AgentStoreTests {
    static func makeStore() throws -> (AgentStore, String) {
        let directory = try RepositoryPaths.makeTemporaryDirectory("agent-store")
        let path = directory + "/agent.sqlite"
        return (try AgentStore(path: path), path)
    }

    static func commit(_ store: AgentStore, _ records: [IntervalRecord], snapshot: [UInt8]? = nil) throws -> [IntervalMessage] {
        try store.commitIntervals(hub: "test-hub", recordIDs: records.map(\.id), topic: "hubmeter/v1/test-hub/interval",
                                  snapshot: snapshot, now: UTCTimestamp(millisecondsSinceEpoch: 1)) { index, sequence, previous in
            try IntervalMessage.make(record: records[index], sequence: sequence, previousHash: previous,
                                     kpiDefinitions: "hubmeter-kpi/1", agentVersion: "test")
        }
    }

    /// GRDB turns WAL on after `prepareDatabase` and sets NORMAL on the way, which once overrode
    /// our FULL there: a committed interval could be lost to a power cut.
    @Test func theWriterSyncsEveryCommit() throws {
        let (store, path) = try Self.makeStore()
        #expect(try store.writerSynchronousLevel() == 2)
        #expect(try AgentStore(path: path).writerSynchronousLevel() == 2)
    }

    @Test func chainLinksSurviveReopeningTheDatabase() throws {
        let records = try RecordFixtures.records(count: 3)
        let (store, path) = try Self.makeStore()
        let first = try Self.commit(store, Array(records.prefix(2)), snapshot: [1, 2, 3])
        #expect(first.map(\.sequence) == [1, 2])
        #expect(first[0].previousHash == IntervalMessage.genesisHash)
        #expect(first[1].previousHash == first[0].hash)

        let reopened = try AgentStore(path: path)
        #expect(try reopened.chainHead(hub: "test-hub") == AgentStore.ChainHead(sequence: 2, hash: first[1].hash))
        #expect(try reopened.loadSnapshot(hub: "test-hub") == [1, 2, 3])
        let next = try Self.commit(reopened, [records[2]])
        #expect(next.map(\.sequence) == [3])
        #expect(next[0].previousHash == first[1].hash)
        #expect(try reopened.pending(limit: 10).map(\.kind) == [.interval, .interval, .interval])
    }

    @Test func aRecordIsNeverChainedTwice() throws {
        let records = try RecordFixtures.records(count: 2)
        let (store, _) = try Self.makeStore()
        _ = try Self.commit(store, records)
        let again = try Self.commit(store, records)
        #expect(again.isEmpty)
        #expect(try store.chainHead(hub: "test-hub").sequence == 2)
        #expect(try store.pending(limit: 10).count == 2)
    }

    @Test func deviceStatesAreDroppedFirstAndIntervalsNever() throws {
        let records = try RecordFixtures.records(count: 2)
        let (store, _) = try Self.makeStore()
        _ = try Self.commit(store, records)
        let intervalBytes = try store.statistics().bytes
        for index in 0..<50 {
            try store.enqueue(kind: .deviceState, topic: "t/\(index)", payload: [UInt8](repeating: 65, count: 1000), qos: 0, retain: false,
                              now: UTCTimestamp(millisecondsSinceEpoch: Int64(index)))
        }
        // Room for the intervals plus 10 device states: the 40 oldest states go.
        let limits = AgentStore.Limits(maxBytes: intervalBytes + 10_000, maxAge: .seconds(86_400))
        let enforced = try store.enforce(limits, now: UTCTimestamp(millisecondsSinceEpoch: 100))
        #expect(enforced == AgentStore.Enforcement(droppedDeviceStates: 40, overLimit: false))
        let left = try store.pending(limit: 100)
        #expect(left.filter { $0.kind == .interval }.count == 2)
        #expect(left.filter { $0.kind == .deviceState }.map(\.topic).first == "t/40")

        // Smaller than the intervals alone: every device state goes, the intervals stay, alarm.
        let tight = AgentStore.Limits(maxBytes: intervalBytes / 2, maxAge: .seconds(86_400))
        let alarm = try store.enforce(tight, now: UTCTimestamp(millisecondsSinceEpoch: 100))
        #expect(alarm == AgentStore.Enforcement(droppedDeviceStates: 10, overLimit: true))
        #expect(try store.statistics().count == [.interval: 2])
    }

    @Test func acknowledgedEntriesAreRemovedInOrder() throws {
        let (store, _) = try Self.makeStore()
        for index in 0..<5 {
            try store.enqueue(kind: .deviceState, topic: "t/\(index)", payload: [UInt8(index)], qos: 1, retain: false,
                              now: UTCTimestamp(millisecondsSinceEpoch: 0))
        }
        let pending = try store.pending(limit: 10)
        #expect(pending.map(\.topic) == ["t/0", "t/1", "t/2", "t/3", "t/4"])
        try store.remove(ids: [pending[0].id, pending[2].id])
        #expect(try store.pending(limit: 10).map(\.topic) == ["t/1", "t/3", "t/4"])
        #expect(try store.pending(limit: 10, after: pending[3].id).map(\.topic) == ["t/4"])
    }
}
