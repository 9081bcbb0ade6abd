import HubContract
import Foundation
import HubAgent
import HubDomain
import HubSupport
import MQTTIO
import Synchronization
import Testing
import TestSupport

/// Simulator → agent → mosquitto → a subscriber, at 60× speed so that a quarter hour passes in
/// 15 s: settlement records arrive complete and chained, survive a broker outage of several
/// intervals, and a SIGKILL of the agent mid-interval neither loses nor doubles energy.
@Suite(.serialized) struct AgentSettlementTests {
    static let speed = 60.0
    /// Constant loads: alpha 40 kW, beta 20 kW, so every quarter hour is exactly 10 kWh and 5 kWh.
    static let alphaWh = 10_000.0, betaWh = 5_000.0

    final class Records: Sendable {
        private let messages = Mutex<[MQTTMessage]>([])
        func append(_ message: MQTTMessage) { messages.withLock { $0.append(message) } }
        var all: [MQTTMessage] { messages.withLock { $0 } }
        /// First message per sequence, in arrival order of sequences; fails on conflicting repeats.
        func distinct() throws -> [(IntervalMessage, IntervalRecord)] {
            var seen: [Int64: IntervalMessage] = [:]
            var result: [(IntervalMessage, IntervalRecord)] = []
            for message in all {
                let (parsed, record) = try IntervalMessage.parse(message.payload)
                if let earlier = seen[parsed.sequence] {
                    guard earlier == parsed else { throw TestSupportError("sequence \(parsed.sequence) arrived twice with different content") }
                    continue
                }
                seen[parsed.sequence] = parsed
                result.append((parsed, record))
            }
            return result
        }
    }

    static func waitUntil(_ what: String, timeout: Duration, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw TestSupportError("\(what): not within \(timeout)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test(.timeLimit(.minutes(5))) func recordsSurviveABrokerOutageAndAnAgentKill() async throws {
        let directory = try RepositoryPaths.makeTemporaryDirectory("settlement-e2e")
        let broker = try await MosquittoBroker(persistent: true)
        defer { broker.stop() }
        let modbusPort = try freePort()
        let origin = UTCTimestamp.now().millisecondsSinceEpoch
        try """
        name: settlement test park
        seed: 7
        step: 1s
        sun: { sunrise: "05:30", sunset: "19:30" }
        servers:
          - { id: lan, host: 127.0.0.1, port: \(modbusPort) }
        companies:
          - id: alpha
            load: { base_kw: 40 }
            devices: [{ id: alpha-grid, map: eastron-sdm630, server: lan, unit_id: 1 }]
          - id: beta
            load: { base_kw: 20 }
            devices: [{ id: beta-grid, map: eastron-sdm630, server: lan, unit_id: 2 }]
        """.write(toFile: directory + "/scenario.yaml", atomically: true, encoding: .utf8)
        try """
        hub:
          id: park
          participants:
            - { id: alpha, devices: [{ id: alpha-grid, role: grid_meter, bus: lan, unit_id: 1, profile: eastron-sdm630 }] }
            - { id: beta, devices: [{ id: beta-grid, role: grid_meter, bus: lan, unit_id: 2, profile: eastron-sdm630 }] }
        buses: [{ id: lan, transport: tcp, host: 127.0.0.1, port: \(modbusPort), timeout: 500ms }]
        polling: { cycle: 5s }
        mqtt: { host: 127.0.0.1, port: \(broker.port), reconnect_delay_max: 1s }
        state_directory: \(directory)/state
        data_directory: \(RepositoryPaths.path("Config"))
        logging: { level: info, format: plain }
        """.write(toFile: directory + "/agent.yaml", atomically: true, encoding: .utf8)
        let timeArguments = ["--speed", String(Self.speed), "--time-origin", String(origin)]

        // The aggregator's side: a persistent session, so nothing is lost while it reconnects.
        var options = MQTTClient.Options(clientID: "settlement-test-subscriber")
        options.protocolVersion = .v311
        options.cleanStart = false
        options.reconnectDelayMax = .seconds(1)
        let subscriber = try MQTTClient(options: options)
        defer { subscriber.stop() }
        let records = Records()
        let subscribed = Mutex(false)
        let events = Task {
            for await event in subscriber.events {
                switch event {
                case .message(let message) where message.topic == "hubmeter/v1/park/interval": records.append(message)
                case .subscribed: subscribed.withLock { $0 = true }
                default: break
                }
            }
        }
        defer { events.cancel() }
        try subscriber.start(host: "127.0.0.1", port: broker.port)
        try await Self.waitUntil("subscriber connected", timeout: .seconds(10)) { (try? subscriber.subscribe("hubmeter/v1/park/interval", qos: 1)) != nil }
        try await Self.waitUntil("subscribed", timeout: .seconds(10)) { subscribed.withLock { $0 } }

        let simulator = try ChildProcess(executable: RepositoryPaths.hubmeterBinary, arguments: [
            "simulate", directory + "/scenario.yaml", "--data-directory", RepositoryPaths.path("Config")] + timeArguments)
        defer { simulator.stop() }
        try await Self.waitUntil("simulator ready", timeout: .seconds(10)) { simulator.output.contains("ready") }
        func startAgent() throws -> ChildProcess {
            try ChildProcess(executable: RepositoryPaths.hubmeterBinary, arguments: ["agent", "--config", directory + "/agent.yaml"] + timeArguments)
        }
        /// Sleeps until the simulated clock is `phase` ms into a quarter hour.
        func sleepUntilPhase(_ phase: Int64) async throws {
            let simulatedNow = origin + Int64(Double(UTCTimestamp.now().millisecondsSinceEpoch - origin) * Self.speed)
            try await Task.sleep(for: .milliseconds(Int64(Double((phase - simulatedNow % 900_000 + 900_000) % 900_000) / Self.speed)))
        }
        // Start one simulated minute into a quarter hour: the first poll then has 14 simulated
        // minutes (14 s real) to arrive inside it, however loaded the machine is. A start just
        // before a boundary could leave the next quarter hour without its first minutes too.
        try await sleepUntilPhase(60_000)
        var agent = try startAgent()
        defer { agent.stop(signal: SIGKILL) }

        // Two records (the first quarter hour is partial: the agent started inside it).
        try await Self.waitUntil("two records (agent: \(agent.output.suffix(1500)))", timeout: .seconds(60)) { records.all.count >= 2 }

        // The broker goes away for more than two quarter hours.
        broker.stop()
        try await Task.sleep(for: .seconds(35))
        try await broker.start()
        try await Self.waitUntil("records after the outage", timeout: .seconds(60)) { try records.distinct().count >= 5 }

        // SIGKILL in the middle of a quarter hour, three simulated minutes down, then back.
        let beforeKill = try records.distinct().count
        try await sleepUntilPhase(450_000)
        agent.stop(signal: SIGKILL)
        try await Task.sleep(for: .seconds(3))
        agent = try startAgent()
        try await Self.waitUntil("records after the restart", timeout: .seconds(60)) { try records.distinct().count >= beforeKill + 3 }
        agent.stop(signal: SIGTERM)

        // In order, contiguous, chained, schema-valid.
        let distinct = try records.distinct()
        let sequences = distinct.map(\.0.sequence)
        #expect(sequences == Array(1...Int64(sequences.count)), "sequences: \(sequences)")
        for index in distinct.indices.dropFirst() {
            #expect(distinct[index].0.previousHash == distinct[index - 1].0.hash)
            #expect(distinct[index].1.interval.start.rawValue == distinct[index - 1].1.interval.start.rawValue + 900_000)
        }
        try validateMessages(records.all.map(\.payload), schema: "interval")

        // Every record after the first (partial) one has the energy that flowed: the outage and
        // the kill neither lost nor doubled any. At 60× a scheduling hiccup of 100 ms real is 6 s
        // simulated, so a single record may shift up to ~1 % across a boundary to its neighbour;
        // over the whole span those shifts cancel and only the two ends remain.
        // The first quarter hour lacks its first minute (no counter reading before the first poll):
        // reported as missing energy, never as a smaller figure.
        let first = try #require(distinct.first).1
        #expect(first.flags.contains(.energyMissing(device: "alpha-grid", quantity: .gridImport)), "record 1: \(first.flags)")
        #expect(first.flags.contains(.energyMissing(device: "beta-grid", quantity: .gridImport)), "record 1: \(first.flags)")
        var alphaTotal = 0.0, betaTotal = 0.0
        let settled = Array(distinct.dropFirst())
        for (message, record) in settled {
            let alpha = try #require(record.participant("alpha")?.importWh.value,
                                     "record \(message.sequence) has no import for alpha: \(record.flags), corrections \(record.gapCorrections)")
            let beta = try #require(record.participant("beta")?.importWh.value)
            #expect(abs(alpha - Self.alphaWh) < 150, "record \(message.sequence): alpha imported \(alpha) Wh")
            #expect(abs(beta - Self.betaWh) < 75, "record \(message.sequence): beta imported \(beta) Wh")
            #expect(record.violations.isEmpty)
            alphaTotal += alpha
            betaTotal += beta
        }
        let count = Double(settled.count)
        #expect(abs(alphaTotal - count * Self.alphaWh) < 150, "alpha over \(settled.count) records: \(alphaTotal) Wh")
        #expect(abs(betaTotal - count * Self.betaWh) < 75, "beta over \(settled.count) records: \(betaTotal) Wh")
    }
}
