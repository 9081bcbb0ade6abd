import Foundation
import HubConfiguration
import HubContract
import HubDomain
import HubSupport

/// An HTTP answer, independent of the server library.
public struct Reply: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: String
    public var headers: [String: String] = [:]
    /// Sent instead of `body` when set: bytes that must go out exactly as stored (a record as published).
    public var bytes: [UInt8]?

    public init(status: Int, contentType: String, body: String, headers: [String: String] = [:]) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    public init(status: Int, contentType: String, bytes: [UInt8], headers: [String: String] = [:]) {
        self.init(status: status, contentType: contentType, body: "", headers: headers)
        self.bytes = bytes
    }

    static func json(_ value: some Encodable, status: Int = 200) -> Reply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let body = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return Reply(status: status, contentType: "application/json", body: body + "\n")
    }

    static func problem(_ status: Int, _ code: String, _ detail: String, headers: [String: String] = [:]) -> Reply {
        var reply = json(["code": code, "detail": detail], status: status)
        reply.headers = headers
        return reply
    }
}

/// The API, CSV export and HTML pages as plain functions of the request; the Hummingbird router
/// (``AggregatorHTTPServer``) only maps routes to them.
public struct Endpoints: Sendable {
    /// Region, hubs and tokens as of the last (re)load.
    public let live: AggregatorLiveSettings
    public let store: any AggregatorStore
    public let clock: @Sendable () -> UTCMilliseconds

    public var region: AggregatorConfiguration.Region { live.snapshot.region }
    public var knownHubs: [AggregatorConfiguration.KnownHub] { live.snapshot.knownHubs }
    public var authenticator: TokenAuthenticator { live.snapshot.authenticator }

    public init(live: AggregatorLiveSettings, store: any AggregatorStore, clock: @escaping @Sendable () -> UTCMilliseconds) {
        self.live = live
        self.store = store
        self.clock = clock
    }

    public init(region: AggregatorConfiguration.Region, knownHubs: [AggregatorConfiguration.KnownHub], store: any AggregatorStore,
                authenticator: TokenAuthenticator, clock: @escaping @Sendable () -> UTCMilliseconds) {
        self.init(live: AggregatorLiveSettings(region: region, knownHubs: knownHubs, authenticator: authenticator), store: store, clock: clock)
    }

    /// Basic first: browsers (Chromium, checked in AggregatorBrowserTests) read only the first
    /// challenge of the field and would never offer to sign in after a leading Bearer.
    static let challenge = ["WWW-Authenticate": "Basic realm=\"hubmeter\", Bearer realm=\"hubmeter\""]

    /// 401 without or with an unknown token, 403 for another hub's data.
    func authorize(_ authorization: String?, hub: String? = nil) -> Result<Principal, ReplyError> {
        guard let principal = authenticator.authenticate(authorization: authorization) else {
            return .failure(ReplyError(Reply.problem(401, "auth.unauthenticated", "a valid bearer token is required", headers: Self.challenge)))
        }
        if let hub, !principal.maySee(hub: hub) {
            return .failure(ReplyError(Reply.problem(403, "auth.forbidden", "token '\(principal.name)' may not see hub '\(hub)'")))
        }
        return .success(principal)
    }

    struct ReplyError: Error {
        let reply: Reply
        init(_ reply: Reply) { self.reply = reply }
    }

    /// Parses `from`/`to` (ISO 8601 instant or date) or `period` (day, week, month, year, around `at` or now).
    func range(_ query: [String: String]) -> Result<(UTCMilliseconds, UTCMilliseconds), ReplyError> {
        func instant(_ text: String) -> UTCMilliseconds? {
            UTCMilliseconds(iso8601: text) ?? UTCMilliseconds(iso8601: text + "T00:00:00Z")
        }
        if let fromText = query["from"], let toText = query["to"] {
            guard let from = instant(fromText), let to = instant(toText), from < to else {
                return .failure(ReplyError(.problem(400, "query.range", "from and to must be ISO 8601 instants or dates with from < to")))
            }
            return .success((from, to))
        }
        let period = Period(rawValue: query["period"] ?? "month")
        guard let period else {
            return .failure(ReplyError(.problem(400, "query.period", "period must be day, week, month or year")))
        }
        let at = query["at"].flatMap(instant) ?? clock()
        let range = period.range(containing: at)
        return .success((range.from, range.to))
    }

    func hubExists(_ hub: String) async throws -> Bool {
        if knownHubs.contains(where: { $0.id == hub }) { return true }
        return try await store.hubs().contains { $0.hub == hub }
    }

    // MARK: API

    public struct LocationSummary: Codable, Sendable, Equatable {
        public var hub: String
        public var name: String
        public var location: String?
        public var records: Int
        public var firstInterval: String?
        public var lastInterval: String?
        public var lastSequence: Int64?
        public var status: String?
    }

    func locationSummaries(for principal: Principal) async throws -> [LocationSummary] {
        let stored = Dictionary(uniqueKeysWithValues: try await store.hubs().map { ($0.hub, $0) })
        let ids = Set(knownHubs.map(\.id)).union(stored.keys).filter { principal.maySee(hub: $0) }.sorted()
        return ids.map { id in
            let known = knownHubs.first { $0.id == id }
            let s = stored[id]
            return LocationSummary(hub: id, name: known?.name ?? id, location: known?.location, records: s?.records ?? 0,
                                   firstInterval: s?.firstInterval?.iso8601, lastInterval: s?.lastInterval?.iso8601,
                                   lastSequence: s?.lastSequence, status: s?.lastStatus)
        }
    }

    public func locations(authorization: String?) async -> Reply {
        await handle {
            let principal = try authorize(authorization).get()
            return .json(LocationsBody(region: region.id, locations: try await locationSummaries(for: principal)))
        }
    }

    struct LocationsBody: Encodable {
        var region: String
        var locations: [LocationSummary]
    }

    public func kpis(hub: String, query: [String: String], authorization: String?) async -> Reply {
        await handle {
            _ = try authorize(authorization, hub: hub).get()
            guard try await hubExists(hub) else { return .problem(404, "hub.unknown", "no hub '\(hub)'") }
            let (from, to) = try range(query).get()
            return .json(try await KPIQuery(store: store).report(hub: hub, from: from, to: to, now: clock()))
        }
    }

    struct IntervalBody: Encodable {
        var start: String
        var sequence: Int64
        var hash: String
        var chain: String
        var complete: Bool
        var estimatedShare: Double
        var consumptionWh: Double?
        var importWh: Double?
        var exportWh: Double?
        var productionWh: Double?
        var batteryChargeWh: Double
        var batteryDischargeWh: Double
        var sharedWh: Double
    }

    public func intervals(hub: String, query: [String: String], authorization: String?) async -> Reply {
        await handle {
            _ = try authorize(authorization, hub: hub).get()
            let (from, to) = try range(query).get()
            let rows = try await store.intervals(hub: hub, from: from, to: to).map { row in
                IntervalBody(start: row.intervalStart.iso8601, sequence: row.sequence, hash: row.hash, chain: row.chain.rawValue,
                             complete: row.complete, estimatedShare: row.estimatedShare, consumptionWh: row.consumptionWh,
                             importWh: row.importWh, exportWh: row.exportWh, productionWh: row.productionWh,
                             batteryChargeWh: row.batteryChargeWh, batteryDischargeWh: row.batteryDischargeWh, sharedWh: row.sharedWh)
            }
            return .json(rows)
        }
    }

    /// CSV: one line per stored interval; missing figures are empty fields, never 0.
    public func intervalsCSV(hub: String, query: [String: String], authorization: String?) async -> Reply {
        await handle {
            _ = try authorize(authorization, hub: hub).get()
            let (from, to) = try range(query).get()
            func field(_ value: Double?) -> String { value.map { String($0) } ?? "" }
            var lines = ["start,sequence,chain,complete,estimated_share,consumption_wh,import_wh,export_wh,production_wh,battery_charge_wh,battery_discharge_wh,shared_wh,hash"]
            for row in try await store.intervals(hub: hub, from: from, to: to) {
                lines.append([row.intervalStart.iso8601, String(row.sequence), row.chain.rawValue, row.complete ? "true" : "false",
                              String(row.estimatedShare), field(row.consumptionWh), field(row.importWh), field(row.exportWh),
                              field(row.productionWh), field(row.batteryChargeWh), field(row.batteryDischargeWh), field(row.sharedWh),
                              row.hash].joined(separator: ","))
            }
            return Reply(status: 200, contentType: "text/csv; charset=utf-8", body: lines.joined(separator: "\n") + "\n",
                         headers: ["Content-Disposition": "attachment; filename=\"\(hub)-intervals.csv\""])
        }
    }

    /// One stored record exactly as the hub published it, for audits: its chain hash can be checked
    /// over these bytes (docs/mqtt.md, "interval: settlement records with a hash chain") without trusting the aggregator's figures.
    public func record(hub: String, sequence: String, authorization: String?) async -> Reply {
        await handle {
            _ = try authorize(authorization, hub: hub).get()
            guard let number = Int64(sequence), number > 0 else {
                throw ReplyError(.problem(400, "path.sequence", "sequence must be a positive integer, got '\(sequence.prefix(40))'"))
            }
            guard let payload = try await store.payload(hub: hub, sequence: number) else {
                throw ReplyError(.problem(404, "record.not_found", "no record with sequence \(number) is stored for hub '\(hub)'"))
            }
            return Reply(status: 200, contentType: "application/json", bytes: payload)
        }
    }

    struct GapsBody: Encodable {
        var hub: String
        var from: String
        var to: String
        var intervalGaps: [GapBody]
        var sequenceGaps: [SequenceGap]
    }

    struct GapBody: Encodable {
        var from: String
        var to: String
        var intervals: Int
    }

    public func gaps(hub: String, query: [String: String], authorization: String?) async -> Reply {
        await handle {
            _ = try authorize(authorization, hub: hub).get()
            let (from, to) = try range(query).get()
            let horizon = min(to, clock().quarterHourFloor)
            let gaps = horizon > from ? try await store.intervalGaps(hub: hub, from: from, to: horizon) : []
            return .json(GapsBody(hub: hub, from: from.iso8601, to: to.iso8601,
                                  intervalGaps: gaps.map { GapBody(from: $0.from.iso8601, to: $0.to.iso8601, intervals: $0.intervals) },
                                  sequenceGaps: try await store.sequenceGaps(hub: hub)))
        }
    }

    struct ConflictBody: Encodable {
        var id: Int64
        var hub: String
        var intervalStart: String
        var sequence: Int64
        var hash: String
        var existingHash: String?
        var reason: String
        var receivedAt: String
    }

    public func conflicts(authorization: String?) async -> Reply {
        await handle {
            let principal = try authorize(authorization).get()
            return .json(try await store.conflicts(hub: principal.hub).map {
                ConflictBody(id: $0.id, hub: $0.hub, intervalStart: $0.intervalStart.iso8601, sequence: $0.sequence, hash: $0.hash,
                             existingHash: $0.existingHash, reason: $0.reason, receivedAt: $0.receivedAt.iso8601)
            })
        }
    }

    // MARK: Pages

    public func overviewPage(authorization: String?) async -> Reply {
        Pages.htmlProblem(await handle {
            let principal = try authorize(authorization).get()
            let now = clock()
            let month = Period.month.range(containing: now)
            let previous = Period.month.range(containing: month.from.adding(milliseconds: -1))
            let query = KPIQuery(store: store)
            var rows: [Pages.OverviewRow] = []
            for summary in try await locationSummaries(for: principal) {
                rows.append(Pages.OverviewRow(summary: summary,
                                              thisMonth: try await query.report(hub: summary.hub, from: month.from, to: month.to, now: now),
                                              lastMonth: try await query.report(hub: summary.hub, from: previous.from, to: previous.to, now: now)))
            }
            return Reply(status: 200, contentType: "text/html; charset=utf-8",
                         body: Pages.overview(region: region, monthStart: month.from, rows: rows))
        })
    }

    public func locationPage(hub: String, query: [String: String], authorization: String?) async -> Reply {
        Pages.htmlProblem(await handle {
            _ = try authorize(authorization, hub: hub).get()
            guard try await hubExists(hub) else { return .problem(404, "hub.unknown", "no hub '\(hub)'") }
            let (from, to) = try range(query).get()
            let report = try await KPIQuery(store: store).report(hub: hub, from: from, to: to, now: clock())
            let days = try await store.daily(hub: hub, from: from, to: to)
            let known = knownHubs.first { $0.id == hub }
            return Reply(status: 200, contentType: "text/html; charset=utf-8",
                         body: Pages.location(name: known?.name ?? hub, location: known?.location, report: report, days: days,
                                              from: from, to: to, sequenceGaps: try await store.sequenceGaps(hub: hub)))
        })
    }

    func handle(_ body: () async throws -> Reply) async -> Reply {
        do {
            return try await body()
        } catch let error as ReplyError {
            return error.reply
        } catch let error as AggregatorStoreError {
            // The store's own code (storage.damaged, storage.query …); 503 while it is away.
            return .problem(error.isOutage ? 503 : 500, error.code.description, "\(error)")
        } catch {
            return .problem(500, "storage.failed", "\(error)")
        }
    }
}
