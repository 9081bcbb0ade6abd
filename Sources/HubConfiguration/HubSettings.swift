import ConfigReading
import HubSupport

/// The hub: who takes part, what they own, and how shared energy is allocated.
public struct HubSettings: Sendable, Equatable {
    public var id: String
    public var name: String
    public var allocation: AllocationSettings
    public var participants: [ParticipantSettings]
    public var sharedAssets: [SharedAssetSettings]

    public var devices: [DeviceSettings] { participants.flatMap(\.devices) + sharedAssets.flatMap(\.devices) }

    static func read(_ node: ConfigNode) throws(ConfigError) -> (HubSettings, [DeviceReference]) {
        let map = try node.mapping(keys: ["id", "name", "allocation", "participants", "shared_assets"])
        let id = try map.value("id", expecting: "an identifier for the hub, used in MQTT topics") { node throws(ConfigError) in try node.identifier() }
        var references: [DeviceReference] = []

        let participantNodes = try map.required("participants", expecting: "a list of participating companies").sequence()
        guard !participantNodes.isEmpty else {
            throw try map.required("participants", expecting: "").error(.invalidValue, "the list is empty; a hub needs at least one participant")
        }
        var participants: [ParticipantSettings] = []
        for participantNode in participantNodes {
            let (participant, deviceRefs) = try ParticipantSettings.read(participantNode)
            participants.append(participant)
            references += deviceRefs
        }
        try requireUnique(participants.map(\.id), nodes: participantNodes, what: "participant id")

        let assetNodes = try map.optional("shared_assets")?.sequence() ?? []
        var assets: [SharedAssetSettings] = []
        let participantIDs = Set(participants.map(\.id))
        for assetNode in assetNodes {
            let (asset, deviceRefs) = try SharedAssetSettings.read(assetNode, participantIDs: participantIDs)
            assets.append(asset)
            references += deviceRefs
        }
        try requireUnique(assets.map(\.id), nodes: assetNodes, what: "shared asset id")
        try requireUnique(participants.map(\.id) + assets.map(\.id), nodes: participantNodes + assetNodes, what: "participant or asset id")
        try requireUnique(references.map(\.settings.id), nodes: references.map(\.node), what: "device id")

        let allocation = try AllocationSettings.read(map.optional("allocation"), participantIDs: participants.map(\.id))
        let hub = HubSettings(
            id: id,
            name: try map.value("name", default: id) { node throws(ConfigError) in try node.string() },
            allocation: allocation,
            participants: participants,
            sharedAssets: assets
        )
        return (hub, references)
    }
}

/// Where a device was declared, for cross-reference errors that point at the right line.
struct DeviceReference {
    let settings: DeviceSettings
    let node: ConfigNode
    let busNode: ConfigNode
    let unitNode: ConfigNode
    let profileNode: ConfigNode
}

/// A participating company with its own grid connection.
public struct ParticipantSettings: Sendable, Equatable {
    public var id: String
    public var name: String
    /// When the company joined the hub; energy before it is not shared.
    public var joined: UTCTimestamp?
    /// When the company left; energy after it is not shared.
    public var left: UTCTimestamp?
    public var devices: [DeviceSettings]

    static func read(_ node: ConfigNode) throws(ConfigError) -> (ParticipantSettings, [DeviceReference]) {
        let map = try node.mapping(keys: ["id", "name", "joined", "left", "devices"])
        let id = try map.value("id", expecting: "an identifier for the participant") { node throws(ConfigError) in try node.identifier() }
        let deviceNodes = try map.required("devices", expecting: "a list of devices, including the grid connection meter").sequence()
        let references = try deviceNodes.map { node throws(ConfigError) in try DeviceSettings.read(node, allowedRoles: DeviceSettings.Role.allCases) }
        let gridMeters = references.filter { $0.settings.role == .gridMeter }
        if gridMeters.count != 1 {
            throw try map.required("devices", expecting: "").error(.inconsistent,
                "participant '\(id)' has \(gridMeters.count) grid_meter devices; expected exactly one (the meter at its grid connection)")
        }
        let joined = try map.optional("joined")?.timestamp()
        let left = try map.optional("left")?.timestamp()
        if let joined, let left, left <= joined {
            throw map.optional("left")!.error(.inconsistent, "left (\(left)) must be after joined (\(joined))")
        }
        let participant = ParticipantSettings(
            id: id,
            name: try map.value("name", default: id) { node throws(ConfigError) in try node.string() },
            joined: joined,
            left: left,
            devices: references.map(\.settings)
        )
        return (participant, references)
    }
}

/// An asset owned by the collective (a hub battery, a PV field), with ownership shares per participant.
public struct SharedAssetSettings: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Ownership share per participant id; the shares add up to 1.
    public var owners: [String: Double]
    public var devices: [DeviceSettings]

    static func read(_ node: ConfigNode, participantIDs: Set<String>) throws(ConfigError) -> (SharedAssetSettings, [DeviceReference]) {
        let map = try node.mapping(keys: ["id", "name", "owners", "devices"])
        let id = try map.value("id", expecting: "an identifier for the asset") { node throws(ConfigError) in try node.identifier() }
        let ownersNode = try map.required("owners", expecting: "ownership shares per participant, adding up to 1")
        var owners: [String: Double] = [:]
        for (owner, shareNode) in try ownersNode.dictionary() {
            guard participantIDs.contains(owner) else {
                throw shareNode.error(.unknownReference, "'\(owner)' is not a participant of this hub; participants: \(participantIDs.sorted().joined(separator: ", "))")
            }
            owners[owner] = try shareNode.double(in: 0...1)
        }
        let total = owners.values.reduce(0, +)
        guard !owners.isEmpty, abs(total - 1) < 1e-9 else {
            throw ownersNode.error(.inconsistent, "ownership shares add up to \(formatShare(total)); expected exactly 1")
        }
        let sharedRoles: [DeviceSettings.Role] = [.pvInverter, .battery, .productionMeter]
        let references = try map.required("devices", expecting: "a list of the asset's devices").sequence().map { node throws(ConfigError) in
            try DeviceSettings.read(node, allowedRoles: sharedRoles)
        }
        let asset = SharedAssetSettings(
            id: id,
            name: try map.value("name", default: id) { node throws(ConfigError) in try node.string() },
            owners: owners,
            devices: references.map(\.settings)
        )
        return (asset, references)
    }
}

/// One Modbus device and what it measures for the hub.
public struct DeviceSettings: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        /// The meter at a participant's grid connection (import and export).
        case gridMeter = "grid_meter"
        case pvInverter = "pv_inverter"
        case battery
        /// A meter on a production asset without its own inverter data.
        case productionMeter = "production_meter"
        /// A meter on part of a site's load, for information only.
        case subMeter = "sub_meter"
    }

    public var id: String
    public var role: Role
    public var bus: String
    public var unitID: Int
    /// Device profile name (a file in the profile directories) or `sunspec` for discovery.
    public var profile: String
    /// Writes (battery setpoints, PV limits) are refused unless this is true.
    public var writable: Bool
    /// Flip the sign of power readings, for a meter whose current transformers face the other way.
    public var invertPower: Bool
    /// Extra pause before every request to this device (slow RTU meters), on top of the profile's.
    public var requestDelay: Duration = .zero
    /// Largest run of unread registers one request may span; nil keeps the profile's value.
    public var maxGap: Int?
    /// Response timeout for this device; nil uses the bus timeout (never below the profile's minimum).
    public var timeout: Duration?

    static func read(_ node: ConfigNode, allowedRoles: [Role]) throws(ConfigError) -> DeviceReference {
        let map = try node.mapping(keys: ["id", "role", "bus", "unit_id", "profile", "writable", "invert_power", "request_delay", "max_gap", "timeout"])
        let role = try map.value("role", expecting: "the device's role: " + allowedRoles.map(\.rawValue).joined(separator: ", ")) { node throws(ConfigError) in
            try node.choice(Role.self)
        }
        if !allowedRoles.contains(role) {
            throw map.optional("role")!.error(.invalidValue, "role '\(role.rawValue)' is not allowed here; expected one of: \(allowedRoles.map(\.rawValue).joined(separator: ", "))")
        }
        let busNode = try map.required("bus", expecting: "the id of the bus the device is on")
        let unitNode = try map.required("unit_id", expecting: "the Modbus unit id")
        let profileNode = try map.required("profile", expecting: "a device profile name, or sunspec")
        var settings = DeviceSettings(
            id: try map.value("id", expecting: "an identifier for the device") { node throws(ConfigError) in try node.identifier() },
            role: role,
            bus: try busNode.identifier(),
            unitID: try unitNode.int(),
            profile: try profileNode.identifier(),
            writable: try map.value("writable", default: false) { node throws(ConfigError) in try node.bool() },
            invertPower: try map.value("invert_power", default: false) { node throws(ConfigError) in try node.bool() }
        )
        settings.requestDelay = try map.value("request_delay", default: .zero) { node throws(ConfigError) in try node.duration(in: .zero...(.seconds(5))) }
        settings.maxGap = try map.optional("max_gap").map { node throws(ConfigError) in try node.int(in: 0...124) }
        settings.timeout = try map.optional("timeout").map { node throws(ConfigError) in try node.duration(in: .milliseconds(20)...(.seconds(30))) }
        return DeviceReference(settings: settings, node: node, busNode: busNode, unitNode: unitNode, profileNode: profileNode)
    }
}

/// The allocation key: how the pool of local surplus is split between participants each quarter hour.
public struct AllocationSettings: Sendable, Equatable {
    public enum Key: Sendable, Equatable {
        case proRataConsumption
        case staticShares([String: Double], remainder: Remainder)
        case equalShares
        case priority([String])
    }

    public enum Remainder: String, Sendable, CaseIterable {
        /// An unused share is exported (the Austrian rule).
        case exported
        /// An unused share goes to the others, repeatedly, until nothing is left or everyone is served.
        case redistributed
    }

    public var key: Key

    static func read(_ node: ConfigNode?, participantIDs: [String]) throws(ConfigError) -> AllocationSettings {
        guard let node else { return AllocationSettings(key: .proRataConsumption) }
        let map = try node.mapping(keys: ["key", "shares", "remainder", "order"])
        enum Name: String, CaseIterable {
            case proRataConsumption = "pro_rata_consumption", staticShares = "static_shares", equalShares = "equal_shares", priority
        }
        let name = try map.value("key", default: .proRataConsumption) { node throws(ConfigError) in try node.choice(Name.self) }
        let known = Set(participantIDs)
        func forbid(_ keys: [String]) throws(ConfigError) {
            for key in keys {
                if let stray = map.optional(key) {
                    throw stray.error(.inconsistent, "'\(key)' does not apply to the \(name.rawValue) key")
                }
            }
        }
        switch name {
        case .proRataConsumption:
            try forbid(["shares", "remainder", "order"])
            return AllocationSettings(key: .proRataConsumption)
        case .equalShares:
            try forbid(["shares", "remainder", "order"])
            return AllocationSettings(key: .equalShares)
        case .staticShares:
            try forbid(["order"])
            let sharesNode = try map.required("shares", expecting: "a share between 0 and 1 per participant")
            var shares: [String: Double] = [:]
            for (participant, shareNode) in try sharesNode.dictionary() {
                guard known.contains(participant) else {
                    throw shareNode.error(.unknownReference, "'\(participant)' is not a participant of this hub; participants: \(participantIDs.joined(separator: ", "))")
                }
                shares[participant] = try shareNode.double(in: 0...1)
            }
            let total = shares.values.reduce(0, +)
            if total > 1 + 1e-9 {
                throw sharesNode.error(.inconsistent, "shares add up to \(formatShare(total)); expected at most 1")
            }
            let remainder = try map.value("remainder", default: .exported) { node throws(ConfigError) in try node.choice(Remainder.self) }
            return AllocationSettings(key: .staticShares(shares, remainder: remainder))
        case .priority:
            try forbid(["shares", "remainder"])
            let orderNode = try map.required("order", expecting: "a list of participant ids, highest priority first")
            let entries = try orderNode.sequence()
            let order = try entries.map { node throws(ConfigError) in
                let id = try node.identifier()
                guard known.contains(id) else {
                    throw node.error(.unknownReference, "'\(id)' is not a participant of this hub; participants: \(participantIDs.joined(separator: ", "))")
                }
                return id
            }
            try requireUnique(order, nodes: entries, what: "participant")
            let missing = participantIDs.filter { !order.contains($0) }
            if !missing.isEmpty {
                throw orderNode.error(.inconsistent, "the order leaves out \(missing.joined(separator: ", ")); list every participant")
            }
            return AllocationSettings(key: .priority(order))
        }
    }
}

/// A share sum for messages: 0.3 + 0.6 should read 0.9, not 0.8999999999999999.
func formatShare(_ value: Double) -> String {
    let rounded = (value * 1_000_000).rounded() / 1_000_000
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}
