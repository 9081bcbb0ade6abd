import ConfigReading
import Foundation
import HubAggregator
import HubConfiguration
import HubContract
import HubDomain
import HubSupport
import Logging
import MQTTIO
import ServiceLifecycle
import TestSupport
import Testing

/// The web pages in a real browser: an aggregator (in process, clock fixed at 2026-03-04T00:00Z)
/// fed three days of a hub's records through mosquitto, then Debian's headless Chromium reads the
/// region overview and a location page. The expected figures are worked out by hand below.
///
/// Per 15-minute interval (AggregatorFixtures; alpha imports 2 kW, beta has a 2 kW load and PV):
///
/// | day | beta PV | beta export | hub net import | consumption | day SS | allocated to alpha |
/// |---|---|---|---|---|---|---|
/// | 03-01 | 3 kW: 750 Wh | 250 Wh | 250 Wh | 1000 Wh | 75 % | 250 Wh |
/// | 03-02 | 2 kW: 500 Wh | 0 | 500 Wh | 1000 Wh | 50 % | 0 |
/// | 03-03 | 4 kW: 1000 Wh | 500 Wh | 0 | 1000 Wh | 100 % | 500 Wh |
///
/// Sequences 100–103 (2026-03-02 00:45 to 01:45) are lost: 284 of 288 intervals.
/// - hub SS = 1 − (96·250 + 92·500 + 0) / (284·1000) = 1 − 70 000 / 284 000 = 75.4 %
/// - production = 96·750 + 92·500 + 96·1000 = 214 kWh; netted export 0, so hub SC = 100 %
/// - alpha: consumption 142 kWh, SS site 0 %, after sharing 1 − (142 − 72)/142 = 50.7 %, shared to it 72 kWh
/// - beta: SS site 100 %, SC site 1 − 72/214 = 66.4 %, SC after sharing 100 % (nothing left the hub)
/// - coverage 284/288 = 98.6 %, one gap of 4 intervals
@Suite("Aggregator pages in headless Chromium", .serialized)
struct AggregatorBrowserTests {
    static let token = "browser-auditor-token"
    static let teamToken = "park-b-team-token"
    static let now = UTCMilliseconds(iso8601: "2026-03-04T00:00:00Z")!

    @Test(.timeLimit(.minutes(3)))
    func overviewAndLocationPageRenderTheHandComputedFigures() async throws {
        let chromium = try HeadlessChromium()
        let broker = try await MosquittoBroker()
        defer { broker.stop() }
        let directory = try RepositoryPaths.makeTemporaryDirectory("aggregator-browser")
        let database = directory + "/aggregator.sqlite"
        let httpPort = try freePort()
        let configuration = try AggregatorConfiguration.parse("""
            region: { id: west, name: West Region }
            mqtt: { host: 127.0.0.1, port: \(broker.port), client_id: agg-browser }
            storage: { backend: sqlite, path: \(database) }
            http: { listen: "127.0.0.1:\(httpPort)" }
            hubs:
              - { id: park-a, name: Park A, location: Enter }
              - { id: park-b, name: Park B }
            tokens:
              - { name: auditor, role: auditor, sha256: \(SHA256.hex(Self.token)) }
              - { name: park-b team, role: hub_team, hub: park-b, sha256: \(SHA256.hex(Self.teamToken)) }
            logging: { level: error, format: plain }
            """, file: "browser.yaml", environment: SecretEnvironment.process([:]))
        let group = try AggregatorDaemon.makeServices(
            configuration: configuration, store: try SQLiteAggregatorStore(path: database),
            loggers: LoggerFactory(level: .error, format: .plain, sink: .standardError),
            clock: { Self.now }, schemas: try AggregatorFixtures.schemas())
        let running = Task { try await group.run() }
        defer { running.cancel() }
        try await AggregatorEndToEndTests.waitUntil { try httpGet(port: httpPort, path: "/health").status == 200 }

        // Three days, chained, with a different PV power per day; sequences 100–103 lost.
        let day = Int64(96) * UTCMilliseconds.quarterHourMs
        var records: [IntervalRecord] = []
        for (index, pvW) in [3000.0, 2000.0, 4000.0].enumerated() {
            records += try AggregatorFixtures.records(count: 96, pvW: pvW, from: AggregatorFixtures.start.adding(milliseconds: Int64(index) * day))
        }
        let messages = try AggregatorFixtures.messages(records).filter { !(100...103).contains($0.sequence) }
        #expect(messages.count == 284)
        let publisher = try MQTTClient(options: .init(clientID: "browser-test-publisher"))
        defer { publisher.stop() }
        try publisher.start(host: "127.0.0.1", port: broker.port)
        for message in messages {
            try await AggregatorEndToEndTests.waitUntil(.seconds(10)) {
                (try? publisher.publish(MQTTMessage(topic: AggregatorFixtures.topic(), payload: message.payload, qos: 1))) != nil
            }
        }
        try await AggregatorEndToEndTests.waitUntil(.seconds(30)) {
            try AggregatorEndToEndTests.get(httpPort, "/api/v1/locations", token: Self.token).body.contains("\"lastSequence\":288")
                && AggregatorEndToEndTests.get(httpPort, "/api/v1/locations/park-a/intervals.csv?from=2026-03-01&to=2026-03-04", token: Self.token)
                    .body.split(separator: "\n").count == 1 + 284
        }

        let base = "http://auditor:\(Self.token)@127.0.0.1:\(httpPort)"
        let screenshots = try HeadlessChromium.screenshotDirectory()

        // The region overview: this month (March, up to the fixed now), trend, coverage warning.
        let overview = try chromium.dumpDOM(base + "/")
        #expect(overview.contains("<h1>West Region: self-sufficiency audit</h1>"), "\(overview.prefix(2000))")
        #expect(overview.contains("<a href=\"/locations/park-a\">Park A (Enter)</a>"))
        #expect(overview.contains("<td class=\"ss\">75.4 %</td>"))
        #expect(overview.contains("coverage 98.6 %, 1 gap(s)"))
        #expect(overview.contains("<a href=\"/locations/park-b\">Park B</a>"))
        #expect(overview.contains("<td class=\"ss\">n/a (no data)</td>") && overview.contains("no records this month"))
        #expect(!overview.contains("<script"))

        // The location page for the three days.
        let location = try chromium.dumpDOM(base + "/locations/park-a?from=2026-03-01&to=2026-03-04")
        #expect(location.contains("<span class=\"ss\">75.4 %</span>"), "\(location.prefix(3000))")
        #expect(location.contains("2026-03-01 00:00 – 2026-03-04 00:00 UTC"))
        #expect(location.contains("Self-consumption 100.0 %"))
        // The daily chart: one bar per day with its value.
        #expect(location.contains("2026-03-01: 75.0 %") && location.contains("2026-03-02: 50.0 %") && location.contains("2026-03-03: 100.0 %"))
        // Energy flows.
        for (label, value) in [("Consumption", "284.0 kWh"), ("Production", "214.0 kWh"), ("Shared within the hub", "72.0 kWh"),
                               ("Grid import (netted per interval)", "70.0 kWh"), ("Grid export (netted per interval)", "0.0 kWh")] {
            #expect(location.contains("<tr><td>\(label)</td><td>\(value)</td></tr>"), "\(label)")
        }
        // Companies: site and after-sharing figures, consumption, shared, intervals.
        let rows = Self.tableRows(location, after: "<h2>Companies</h2>")
        #expect(rows.count == 2, "\(rows)")
        #expect(rows.first == ["alpha", "0.0 %", "50.7 %", "n/a (no production)", "n/a (no production)", "142.0 kWh", "72.0 kWh", "284"])
        #expect(rows.last == ["beta", "100.0 %", "100.0 %", "66.4 %", "100.0 %", "142.0 kWh", "0.0 kWh", "284"])
        // Coverage and gaps.
        #expect(location.contains("284 of 288 intervals received (98.6 %)"))
        #expect(location.contains("<tr><td>2026-03-02T00:45:00.000Z</td><td>2026-03-02T01:45:00.000Z</td><td>4</td></tr>"))
        #expect(location.contains("Missing sequence numbers: 100–103"))
        #expect(!location.contains("<script"))

        // Screenshots: real PNGs of the window size, with content (a blank page compresses to a few kB).
        for (name, path) in [("overview", "/"), ("location-park-a", "/locations/park-a?from=2026-03-01&to=2026-03-04")] {
            let file = screenshots + "/\(name).png"
            try chromium.screenshot(base + path, to: file)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
            let size = try #require(HeadlessChromium.pngSize(bytes), "\(file) is not a PNG")
            #expect(size.width == 1280 && size.height == 1600)
            #expect(bytes.count > 20_000, "\(file): \(bytes.count) bytes")
            print("screenshot: \(file) (\(bytes.count) bytes)")
        }

        // Without credentials the browser gets no page; another hub's team gets 403.
        #expect(try httpGet(port: httpPort, path: "/").status == 401)
        #expect(try AggregatorEndToEndTests.get(httpPort, "/locations/park-a", basic: "team:\(Self.teamToken)").status == 403)
        #expect(try AggregatorEndToEndTests.get(httpPort, "/locations/park-b", basic: "team:\(Self.teamToken)").status == 200)
        let denied = try chromium.dumpDOM("http://127.0.0.1:\(httpPort)/locations/park-a")
        #expect(!denied.contains("Park A"))

        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// The cells of each body row of the first table after `marker`, tags stripped.
    static func tableRows(_ html: String, after marker: String) -> [[String]] {
        guard let start = html.range(of: marker), let body = html[start.upperBound...].range(of: "<tbody>"),
              let end = html[body.upperBound...].range(of: "</tbody>") else { return [] }
        let table = html[body.upperBound..<end.lowerBound]
        return table.components(separatedBy: "<tr>").dropFirst().map { row in
            row.components(separatedBy: "<td").dropFirst().map { cell in
                var text = ""
                var inTag = true // the rest of the <td…> tag
                for character in cell {
                    if character == "<" { inTag = true } else if character == ">" { inTag = false } else if !inTag { text.append(character) }
                }
                return text
            }
        }
    }
}
