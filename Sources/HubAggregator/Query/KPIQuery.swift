import HubDomain

/// A KPI as the API shows it: the raw ratio, or why there is none, with its notes.
public struct KPIValue: Sendable, Equatable, Codable {
    public var value: Double?
    public var undefinedReason: String?
    public var flags: [String]

    public init(_ result: KPIResult) {
        value = result.value
        if case .undefined(let reason, _) = result { undefinedReason = reason.rawValue }
        var flags: [String] = []
        if result.flags.contains(.negativeConsumptionInterval) { flags.append("negative_consumption_interval") }
        if result.flags.contains(.outsideUnitRange) { flags.append("outside_unit_range") }
        if result.flags.contains(.estimatedInputs) { flags.append("estimated_inputs") }
        if result.flags.contains(.incompleteIntervalsExcluded) { flags.append("incomplete_intervals_excluded") }
        self.flags = flags
    }
}

/// Figures of one location (hub) over `[from, to)`, computed as ratios of sums under
/// ``KPIDefinitions/version`` from the stored sums.
public struct LocationReport: Sendable, Equatable, Codable {
    public struct Energy: Sendable, Equatable, Codable {
        public var consumptionWh: Double
        public var importWh: Double
        public var exportWh: Double
        public var productionWh: Double
        public var sharedWh: Double
        public var batteryChargeWh: Double
        public var batteryDischargeWh: Double
        /// Figures missing in the records and therefore not in these sums.
        public var missingFigures: Int
    }

    public struct Coverage: Sendable, Equatable, Codable {
        /// 15-minute intervals in the range (up to now).
        public var expectedIntervals: Int
        public var receivedIntervals: Int
        /// Complete intervals, the ones the hub KPIs use.
        public var completeIntervals: Int
        /// received / expected, or nil when nothing was expected.
        public var share: Double?
        /// Share of received intervals with estimated figures.
        public var estimatedShare: Double?
        public var gaps: [IntervalGap]
    }

    public struct Chain: Sendable, Equatable, Codable {
        public var linked: Int
        public var broken: Int
        public var open: Int
        /// True when every record in the range links to its predecessor.
        public var intact: Bool
    }

    public struct Company: Sendable, Equatable, Codable {
        public var participant: String
        public var selfSufficiencySite: KPIValue
        public var selfSufficiencyAfterSharing: KPIValue
        public var selfConsumptionSite: KPIValue
        public var selfConsumptionAfterSharing: KPIValue
        public var consumptionWh: Double
        public var importWh: Double
        public var exportWh: Double
        public var productionWh: Double
        public var sharedWh: Double
        public var batteryChargeWh: Double
        public var batteryDischargeWh: Double
        public var intervals: Int
        public var excludedIntervals: Int
    }

    public var hub: String
    public var from: String
    public var to: String
    public var definitions: String
    public var selfSufficiency: KPIValue
    public var selfConsumption: KPIValue
    public var selfSufficiencyExcludingGridCharge: KPIValue
    public var energy: Energy
    public var coverage: Coverage
    public var chain: Chain
    public var companies: [Company]
}

/// Turns stored sums into reports; one place for the arithmetic shared by API, CSV and pages.
public struct KPIQuery: Sendable {
    public let store: any AggregatorStore

    public init(store: any AggregatorStore) {
        self.store = store
    }

    public func report(hub: String, from: UTCMilliseconds, to: UTCMilliseconds, now: UTCMilliseconds) async throws -> LocationReport {
        let sums = try await store.sums(hub: hub, from: from, to: to)
        let horizon = min(to, now.quarterHourFloor)
        let expected = horizon > from ? Int((horizon.rawValue - from.quarterHourCeiling.rawValue + UTCMilliseconds.quarterHourMs - 1) / UTCMilliseconds.quarterHourMs) : 0
        let gaps = horizon > from ? try await store.intervalGaps(hub: hub, from: from, to: horizon) : []
        let linked = sums.chain[.linked] ?? 0, broken = sums.chain[.broken] ?? 0, open = sums.chain[.open] ?? 0
        let companies = sums.participants.keys.sorted().map { id -> LocationReport.Company in
            let k = sums.participants[id]!
            let e = sums.participantEnergy[id] ?? EnergyTotals()
            return LocationReport.Company(
                participant: id, selfSufficiencySite: KPIValue(k.selfSufficiencySite),
                selfSufficiencyAfterSharing: KPIValue(k.selfSufficiencyAfterSharing),
                selfConsumptionSite: KPIValue(k.selfConsumptionSite), selfConsumptionAfterSharing: KPIValue(k.selfConsumptionAfterSharing),
                consumptionWh: k.siteConsumptionWh, importWh: e.importWh, exportWh: e.exportWh, productionWh: e.productionWh,
                sharedWh: e.sharedWh, batteryChargeWh: e.batteryChargeWh, batteryDischargeWh: e.batteryDischargeWh,
                intervals: k.siteIntervals, excludedIntervals: k.excludedIntervals)
        }
        return LocationReport(
            hub: hub, from: from.iso8601, to: to.iso8601, definitions: KPIDefinitions.version,
            selfSufficiency: KPIValue(sums.hub.selfSufficiency), selfConsumption: KPIValue(sums.hub.selfConsumption),
            selfSufficiencyExcludingGridCharge: KPIValue(sums.hub.selfSufficiencyExcludingGridCharge),
            energy: .init(consumptionWh: sums.hub.consumptionWh, importWh: sums.energy.importWh, exportWh: sums.energy.exportWh,
                          productionWh: sums.energy.productionWh, sharedWh: sums.energy.sharedWh,
                          batteryChargeWh: sums.energy.batteryChargeWh, batteryDischargeWh: sums.energy.batteryDischargeWh,
                          missingFigures: sums.energy.missingFigures),
            coverage: .init(expectedIntervals: expected, receivedIntervals: sums.receivedIntervals, completeIntervals: sums.hub.intervals,
                            share: expected > 0 ? Double(sums.receivedIntervals) / Double(expected) : nil,
                            estimatedShare: sums.receivedIntervals > 0 ? Double(sums.estimatedIntervals) / Double(sums.receivedIntervals) : nil,
                            gaps: gaps),
            chain: .init(linked: linked, broken: broken, open: open, intact: broken == 0 && open == 0),
            companies: companies)
    }
}

/// Calendar periods in UTC: day, ISO week (Monday), month, year.
public enum Period: String, Sendable, CaseIterable {
    case day, week, month, year

    /// The period containing `instant`, as `[from, to)`.
    public func range(containing instant: UTCMilliseconds) -> (from: UTCMilliseconds, to: UTCMilliseconds) {
        let dayMs: Int64 = 86_400_000
        let days = instant.rawValue >= 0 ? instant.rawValue / dayMs : (instant.rawValue - dayMs + 1) / dayMs
        let (y, m, d) = Self.civil(fromDays: days)
        switch self {
        case .day: return (UTCMilliseconds(days * dayMs), UTCMilliseconds((days + 1) * dayMs))
        case .week:
            // 1970-01-01 was a Thursday: Monday-based weekday index = (days + 3) mod 7.
            let monday = days - ((days + 3) % 7 + 7) % 7
            return (UTCMilliseconds(monday * dayMs), UTCMilliseconds((monday + 7) * dayMs))
        case .month:
            let next = m == 12 ? (y + 1, 1) : (y, m + 1)
            return (UTCMilliseconds(Self.days(y, m, 1) * dayMs), UTCMilliseconds(Self.days(next.0, next.1, 1) * dayMs))
        case .year:
            _ = d
            return (UTCMilliseconds(Self.days(y, 1, 1) * dayMs), UTCMilliseconds(Self.days(y + 1, 1, 1) * dayMs))
        }
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    static func days(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
