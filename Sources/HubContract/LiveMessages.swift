import HubDomain

/// A number on the wire with its unit and quality: a missing value is `null` with quality
/// `missing`, never a zero.
public struct QualifiedValue: Sendable, Hashable, Codable {
    public var value: Double?
    public var unit: String
    /// `measured`, `estimated`, `stale` or `missing`.
    public var quality: String
    /// For `stale`: the value's age; for `estimated`: the estimated share (0–1).
    public var ageMs: Int64?
    public var estimatedShare: Double?

    public init(value: Double?, unit: String, quality: String, ageMs: Int64? = nil, estimatedShare: Double? = nil) {
        self.value = value
        self.unit = unit
        self.quality = quality
        self.ageMs = ageMs
        self.estimatedShare = estimatedShare
    }

    private enum CodingKeys: String, CodingKey { case value, unit, quality, ageMs, estimatedShare }

    /// `value` is always present: a gap is an explicit `null`, so a reader cannot mistake it for an omission.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(value, forKey: .value)
        try container.encode(unit, forKey: .unit)
        try container.encode(quality, forKey: .quality)
        try container.encodeIfPresent(ageMs, forKey: .ageMs)
        try container.encodeIfPresent(estimatedShare, forKey: .estimatedShare)
    }

    public init(_ figure: Figure, unit: String) {
        switch figure.quality {
        case .measured: self.init(value: figure.value, unit: unit, quality: figure.value == nil ? "missing" : "measured")
        case .estimated(let share): self.init(value: figure.value, unit: unit, quality: "estimated", estimatedShare: share)
        case .stale(let age): self.init(value: nil, unit: unit, quality: "stale", ageMs: age)
        case .missing: self.init(value: nil, unit: unit, quality: "missing")
        }
    }
}

/// `hubmeter/v1/{hub}/status`, retained: birth message (online) and last will (offline).
public struct StatusMessage: Sendable, Hashable, Codable {
    public static let schema = "hubmeter/v1/status"
    public var schema = StatusMessage.schema
    public var hub: String
    /// `online` or `offline`.
    public var state: String
    public var version: String
    /// SHA-256 of the configuration file the agent runs with.
    public var configurationHash: String
    public var startedAt: String

    public init(hub: String, state: String, version: String, configurationHash: String, startedAt: String) {
        self.hub = hub
        self.state = state
        self.version = version
        self.configurationHash = configurationHash
        self.startedAt = startedAt
    }
}

/// `hubmeter/v1/{hub}/device/{device}/availability`, retained.
public struct AvailabilityMessage: Sendable, Hashable, Codable {
    public static let schema = "hubmeter/v1/availability"
    public var schema = AvailabilityMessage.schema
    public var hub: String
    public var device: String
    /// `online` or `offline`.
    public var state: String
    /// Why the device is offline (the last error), or why the agent stopped.
    public var reason: String?
    public var since: String

    public init(hub: String, device: String, state: String, reason: String?, since: String) {
        self.hub = hub
        self.device = device
        self.state = state
        self.reason = reason
        self.since = since
    }
}

/// `hubmeter/v1/{hub}/device/{device}/state`: every point of the device with time and quality.
public struct DeviceStateMessage: Sendable, Hashable, Codable {
    public static let schema = "hubmeter/v1/device-state"

    public struct Point: Sendable, Hashable, Codable {
        public var value: Double?
        public var text: String?
        public var unit: String?
        /// `good`, `stale`, `missing` or `error`.
        public var quality: String
        public var ageMs: Int64?
        public var error: String?
        public var acquiredAt: String?

        public init(value: Double?, text: String?, unit: String?, quality: String, ageMs: Int64?, error: String?, acquiredAt: String?) {
            self.value = value
            self.text = text
            self.unit = unit
            self.quality = quality
            self.ageMs = ageMs
            self.error = error
            self.acquiredAt = acquiredAt
        }
    }

    public var schema = DeviceStateMessage.schema
    public var hub: String
    public var device: String
    public var profile: String
    /// `online`, `backing_off` or `unknown`.
    public var health: String
    public var at: String
    public var points: [String: Point]
    /// The canonical quantities the hub uses, by name (`grid_power`, `pv_energy`, …), pointing into `points`.
    public var canonical: [String: String]

    public init(hub: String, device: String, profile: String, health: String, at: String, points: [String: Point], canonical: [String: String]) {
        self.hub = hub
        self.device = device
        self.profile = profile
        self.health = health
        self.at = at
        self.points = points
        self.canonical = canonical
    }
}

/// `hubmeter/v1/{hub}/participant/{participant}/balance`: one company's real-time balance.
public struct ParticipantBalanceMessage: Sendable, Hashable, Codable {
    public static let schema = "hubmeter/v1/participant-balance"
    public var schema = ParticipantBalanceMessage.schema
    public var hub: String
    public var participant: String
    public var at: String
    public var member: Bool
    public var complete: Bool
    public var gridPower: QualifiedValue
    public var importPower: QualifiedValue
    public var exportPower: QualifiedValue
    public var productionPower: QualifiedValue
    public var batteryPower: QualifiedValue
    public var consumptionPower: QualifiedValue
    public var allocationPower: QualifiedValue
    public var residualImportPower: QualifiedValue

    public init(hub: String, participant: String, at: String, balance: ParticipantBalance) {
        self.hub = hub
        self.participant = participant
        self.at = at
        member = balance.isMember
        complete = balance.isComplete
        gridPower = QualifiedValue(balance.gridW, unit: "W")
        importPower = QualifiedValue(balance.importW, unit: "W")
        exportPower = QualifiedValue(balance.exportW, unit: "W")
        productionPower = QualifiedValue(balance.productionW, unit: "W")
        batteryPower = QualifiedValue(balance.batteryW, unit: "W")
        consumptionPower = QualifiedValue(balance.consumptionW, unit: "W")
        allocationPower = QualifiedValue(balance.allocationW, unit: "W")
        residualImportPower = QualifiedValue(balance.residualImportW, unit: "W")
    }
}

/// `hubmeter/v1/{hub}/balance`: the hub's real-time balance.
public struct HubBalanceMessage: Sendable, Hashable, Codable {
    public static let schema = "hubmeter/v1/hub-balance"
    public var schema = HubBalanceMessage.schema
    public var hub: String
    public var at: String
    public var allocationKey: String
    public var memberCount: Int
    public var incompleteParticipants: Int
    public var complete: Bool
    public var netGridPower: QualifiedValue
    public var poolPower: QualifiedValue
    public var allocatedPower: QualifiedValue
    public var exportedSurplusPower: QualifiedValue
    public var consumptionPower: QualifiedValue
    public var productionPower: QualifiedValue
    public var collectiveProductionPower: QualifiedValue
    public var collectiveBatteryPower: QualifiedValue

    public init(hub: String, balance: HubBalance) {
        self.hub = hub
        at = balance.at.iso8601
        allocationKey = balance.keyVersion
        memberCount = balance.memberCount
        incompleteParticipants = balance.incompleteParticipantCount
        complete = balance.isComplete
        netGridPower = QualifiedValue(balance.netGridW, unit: "W")
        poolPower = QualifiedValue(balance.poolW, unit: "W")
        allocatedPower = QualifiedValue(balance.allocatedW, unit: "W")
        exportedSurplusPower = QualifiedValue(balance.exportedSurplusW, unit: "W")
        consumptionPower = QualifiedValue(balance.consumptionW, unit: "W")
        productionPower = QualifiedValue(balance.productionW, unit: "W")
        collectiveProductionPower = QualifiedValue(balance.collectiveProductionW, unit: "W")
        collectiveBatteryPower = QualifiedValue(balance.collectiveBatteryW, unit: "W")
    }
}
