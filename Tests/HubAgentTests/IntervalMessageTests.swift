import HubContract
import Foundation
import HubAgent
import HubDomain
import HubSupport
import Testing
import TestSupport

@Suite struct IntervalMessageTests {
    @Test func recordsFromTheLedgerAreCompleteAndPlausible() throws {
        let records = try RecordFixtures.records(count: 2)
        #expect(records.count == 2)
        let first = try #require(records.first)
        #expect(first.isComplete)
        #expect(first.violations.isEmpty)
        // 2 kW for 15 minutes = 500 Wh import for alpha; beta exports 750 Wh; pro rata gives alpha 500 Wh.
        #expect(abs((first.participant("alpha")?.importWh.value ?? 0) - 500) < 0.01)
        #expect(abs((first.participant("alpha")?.allocatedWh ?? 0) - 500) < 0.01)
    }

    @Test func payloadRoundTripsAndTheHashChecksOut() throws {
        let record = try #require(try RecordFixtures.records(count: 1).first)
        let message = try IntervalMessage.make(record: record, sequence: 7, previousHash: IntervalMessage.genesisHash,
                                               kpiDefinitions: KPIDefinitions.version, agentVersion: "0.1.0")
        #expect(message.hash.count == 64)
        let (parsed, decoded) = try IntervalMessage.parse(message.payload)
        #expect(parsed == message)
        #expect(decoded == record)
        // The payload is valid JSON with the envelope fields a third party needs.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any])
        #expect(object["schema"] as? String == "hubmeter/v1/interval")
        #expect(object["sequence"] as? Int == 7)
        #expect(object["recordID"] as? String == record.id)
        #expect(record.id.hasPrefix("test-hub:2026-03-01T00:00:00"))
        #expect(object["kpiDefinitions"] as? String == "hubmeter-kpi/1")
    }

    @Test func messagesValidateAgainstTheIntervalSchema() throws {
        let records = try RecordFixtures.records(count: 3)
        var previous = IntervalMessage.genesisHash
        var payloads: [[UInt8]] = []
        for (index, record) in records.enumerated() {
            let message = try IntervalMessage.make(record: record, sequence: Int64(index + 1), previousHash: previous,
                                                   kpiDefinitions: KPIDefinitions.version, agentVersion: "0.1.0")
            previous = message.hash
            payloads.append(message.payload)
        }
        let report = try validateMessages(payloads, schema: "interval")
        #expect(report.contains("3 validated, 0 errors"))
        // The validator is not a rubber stamp: a broken envelope fails.
        var broken = String(decoding: payloads[0], as: UTF8.self)
        broken = broken.replacingOccurrences(of: "\"sequence\":1}", with: "\"sequence\":0}")
        #expect(throws: TestSupportError.self) { try validateMessages([Array(broken.utf8)], schema: "interval") }
    }

    @Test func hashIsTheDocumentedFormula() throws {
        let record = try #require(try RecordFixtures.records(count: 1).first)
        let message = try IntervalMessage.make(record: record, sequence: 1, previousHash: IntervalMessage.genesisHash,
                                               kpiDefinitions: "hubmeter-kpi/1", agentVersion: "0.1.0")
        let canonical = try MessageEncoding.encode(record)
        let preimage = Array("hubmeter-chain/1\ntest-hub\n1\n\(IntervalMessage.genesisHash)\n".utf8) + canonical
        #expect(message.hash == SHA256.hex(preimage))
        // The record's bytes appear verbatim in the payload.
        let payload = String(decoding: message.payload, as: UTF8.self)
        #expect(payload.contains("\"record\":" + String(decoding: canonical, as: UTF8.self) + ","))
    }

    @Test func tamperingIsDetected() throws {
        let record = try #require(try RecordFixtures.records(count: 1).first)
        let message = try IntervalMessage.make(record: record, sequence: 3, previousHash: IntervalMessage.genesisHash,
                                               kpiDefinitions: "hubmeter-kpi/1", agentVersion: "0.1.0")
        var text = String(decoding: message.payload, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"sequence\":3}", with: "\"sequence\":4}")
        let renumbered = #expect(throws: IntervalMessageError.self) { _ = try IntervalMessage.parse(Array(text.utf8)) }
        #expect(renumbered?.kind == .hashMismatch)

        var forged = record
        forged.participants[0].importWh = Figure(value: 1.0, quality: forged.participants[0].importWh.quality)
        let forgedJSON = String(decoding: try MessageEncoding.encode(forged), as: UTF8.self)
        let original = String(decoding: try MessageEncoding.encode(record), as: UTF8.self)
        let swapped = String(decoding: message.payload, as: UTF8.self).replacingOccurrences(of: original, with: forgedJSON)
        let changed = #expect(throws: IntervalMessageError.self) { _ = try IntervalMessage.parse(Array(swapped.utf8)) }
        #expect(changed?.kind == .hashMismatch)

        let garbage = #expect(throws: IntervalMessageError.self) { _ = try IntervalMessage.parse(Array("{\"schema\":1}".utf8)) }
        #expect(garbage?.kind == .malformed)
    }

    @Test func topicsFollowContractV1() {
        let topics = Topics(hub: "elsmoat")
        #expect(topics.status == "hubmeter/v1/elsmoat/status")
        #expect(topics.interval == "hubmeter/v1/elsmoat/interval")
        #expect(topics.balance == "hubmeter/v1/elsmoat/balance")
        #expect(topics.deviceState("pv-1") == "hubmeter/v1/elsmoat/device/pv-1/state")
        #expect(topics.deviceAvailability("pv-1") == "hubmeter/v1/elsmoat/device/pv-1/availability")
        #expect(topics.participantBalance("bakery") == "hubmeter/v1/elsmoat/participant/bakery/balance")
    }
}
