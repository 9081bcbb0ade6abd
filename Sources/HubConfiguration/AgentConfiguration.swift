import ConfigReading
import HubSupport

/// Everything the agent on a hub's gateway box needs, read from one YAML file
/// (documented key by key in docs/configuration.md).
public struct AgentConfiguration: Sendable, Equatable {
    public var hub: HubSettings
    public var buses: [BusSettings]
    public var polling: PollingSettings
    public var mqtt: MQTTSettings
    public var outbox: OutboxSettings
    public var stateDirectory: String
    public var http: ListenAddress?
    public var profileDirectories: [String]
    /// Device data: `profiles/` and `sunspec/models/` (installed to /usr/local/share/hubmeter).
    public var dataDirectory: String
    public var logging: LoggingSettings
    /// Home Assistant MQTT discovery prefix (`homeassistant`), nil when discovery is off.
    public var homeAssistantPrefix: String?

    /// Reads and validates an agent configuration file. Every error names the file, key path and line.
    ///
    /// With `profiles`, every device's profile name must be one of them (the caller loads the
    /// catalog from `data_directory` and `profile_directories`); the error points at the line.
    public static func load(path: String, environment: SecretEnvironment, profiles: Set<String>? = nil) throws(ConfigError) -> AgentConfiguration {
        try read(ConfigDocument.load(path: path), environment: environment, profiles: profiles)
    }

    public static func parse(_ text: String, file: String, environment: SecretEnvironment, profiles: Set<String>? = nil) throws(ConfigError) -> AgentConfiguration {
        try read(ConfigDocument.parse(text, file: file), environment: environment, profiles: profiles)
    }

    static func read(_ document: ConfigDocument, environment: SecretEnvironment, profiles: Set<String>?) throws(ConfigError) -> AgentConfiguration {
        let root = try document.root.mapping(keys: ["hub", "buses", "polling", "mqtt", "outbox", "state_directory", "http",
                                                    "profile_directories", "data_directory", "logging", "home_assistant"])
        let (hub, deviceReferences) = try HubSettings.read(root.required("hub", expecting: "the hub with its participants"))
        let buses = try root.required("buses", expecting: "a list of Modbus buses").sequence().map { node throws(ConfigError) in
            try BusSettings.read(node)
        }
        try requireUnique(buses.map(\.id), nodes: root.required("buses", expecting: "").sequence(), what: "bus id")

        // Cross references: every device names a bus that exists, and its unit id fits that bus.
        let busesByID = Dictionary(uniqueKeysWithValues: buses.map { ($0.id, $0) })
        for device in deviceReferences {
            if let profiles, !profiles.contains(device.settings.profile) {
                throw device.profileNode.error(.unknownReference,
                    "profile '\(device.settings.profile)' is not in the data or profile directories; available: \(profiles.sorted().joined(separator: ", "))")
            }
            guard let bus = busesByID[device.settings.bus] else {
                throw device.busNode.error(.unknownReference, "bus '\(device.settings.bus)' is not defined; defined buses: \(buses.map(\.id).joined(separator: ", "))")
            }
            let range = bus.transport.unitIDRange
            if !range.contains(device.settings.unitID) {
                throw device.unitNode.error(.outOfRange, "\(device.settings.unitID) is out of range \(range.lowerBound)–\(range.upperBound)")
            }
        }

        let mqttNode = try root.required("mqtt", expecting: "the MQTT broker connection")
        let mqtt = try MQTTSettings.read(mqttNode.mapping(keys: MQTTSettings.keys), defaultClientID: "hubmeter-\(hub.id)", environment: environment)
        let http: ListenAddress? = try root.optional("http").map { node throws(ConfigError) in
            let map = try node.mapping(keys: ["listen"])
            return try map.value("listen", expecting: "HOST:PORT for /metrics and /health") { node throws(ConfigError) in try ListenAddress.read(node) }
        }
        return AgentConfiguration(
            hub: hub,
            buses: buses,
            polling: try PollingSettings.read(root.optional("polling")),
            mqtt: mqtt,
            outbox: try OutboxSettings.read(root.optional("outbox")),
            stateDirectory: try root.value("state_directory", default: "/var/lib/hubmeter") { node throws(ConfigError) in try absolutePath(node) },
            http: http,
            profileDirectories: try root.value("profile_directories", default: []) { node throws(ConfigError) in
                try node.sequence().map { node throws(ConfigError) in try absolutePath(node) }
            },
            dataDirectory: try root.value("data_directory", default: "/usr/local/share/hubmeter") { node throws(ConfigError) in try absolutePath(node) },
            logging: try LoggingSettings.read(root.optional("logging")),
            homeAssistantPrefix: try root.optional("home_assistant").flatMap { node throws(ConfigError) -> String? in
                let map = try node.mapping(keys: ["enabled", "discovery_prefix"])
                guard try map.value("enabled", default: true, { node throws(ConfigError) in try node.bool() }) else { return nil }
                return try map.value("discovery_prefix", default: "homeassistant") { node throws(ConfigError) in
                    let prefix = try node.string()
                    guard !prefix.contains("+"), !prefix.contains("#"), !prefix.hasSuffix("/") else {
                        throw node.error(.invalidValue, "'\(prefix)' is not a topic prefix; expected plain topic levels such as homeassistant")
                    }
                    return prefix
                }
            }
        )
    }
}

func absolutePath(_ node: ConfigNode) throws(ConfigError) -> String {
    let path = try node.string()
    guard path.hasPrefix("/") else { throw node.error(.invalidValue, "'\(path)' is not an absolute path; expected a path starting with /") }
    return path
}

func requireUnique(_ ids: [String], nodes: [ConfigNode], what: String) throws(ConfigError) {
    var seen: [String: Int] = [:]
    for (index, id) in ids.enumerated() {
        if let first = seen[id] {
            let firstLine = nodes[first].line.map { " (first at line \($0))" } ?? ""
            throw nodes[index].error(.duplicateIdentifier, "\(what) '\(id)' is used twice\(firstLine); ids must be unique")
        }
        seen[id] = index
    }
}

/// How often to poll, aligned to wall-clock seconds.
public struct PollingSettings: Sendable, Equatable {
    public var cycle: Duration = .seconds(1)
    public var slowInterval: Duration = .seconds(60)
    /// Longest pause between re-probes of a device that does not answer (backoff doubles from one cycle).
    public var backoffLimit: Duration = .seconds(60)

    static func read(_ node: ConfigNode?) throws(ConfigError) -> PollingSettings {
        guard let node else { return PollingSettings() }
        let map = try node.mapping(keys: ["cycle", "slow_interval", "backoff_limit"])
        let settings = PollingSettings(
            cycle: try map.value("cycle", default: .seconds(1)) { node throws(ConfigError) in try node.duration(in: .milliseconds(100)...(.seconds(60))) },
            slowInterval: try map.value("slow_interval", default: .seconds(60)) { node throws(ConfigError) in try node.duration(in: .seconds(1)...(.seconds(86400))) },
            backoffLimit: try map.value("backoff_limit", default: .seconds(60)) { node throws(ConfigError) in try node.duration(in: .seconds(1)...(.seconds(3600))) }
        )
        if settings.slowInterval < settings.cycle {
            throw node.error(.inconsistent, "slow_interval must not be shorter than cycle")
        }
        // A cycle that does not divide a quarter hour would straddle settlement boundaries.
        let cycleMilliseconds = settings.cycle.components.seconds * 1000 + settings.cycle.components.attoseconds / 1_000_000_000_000_000
        if 900_000 % cycleMilliseconds != 0 {
            throw map.optional("cycle")!.error(.invalidValue, "a cycle of \(cycleMilliseconds)ms does not divide 15 minutes evenly; expected for example 250ms, 500ms, 1s, 2s, 5s or 10s")
        }
        return settings
    }
}

/// Limits of the on-disk outbox (explicit policy: device states go first, settlement records never silently).
public struct OutboxSettings: Sendable, Equatable {
    public var maxBytes: Int = 256 << 20
    public var maxAge: Duration = .seconds(90 * 86_400)
    /// Whether device states are also queued while the broker is away (settlement records always are).
    public var queueDeviceStates: Bool = false

    static func read(_ node: ConfigNode?) throws(ConfigError) -> OutboxSettings {
        guard let node else { return OutboxSettings() }
        let map = try node.mapping(keys: ["max_size", "max_age", "queue_device_states"])
        return OutboxSettings(
            maxBytes: try map.value("max_size", default: 256 << 20) { node throws(ConfigError) in try node.byteCount(in: (1 << 20)...(64 << 30)) },
            maxAge: try map.value("max_age", default: .seconds(90 * 86_400)) { node throws(ConfigError) in try node.duration(in: .seconds(3600)...(.seconds(3650 * 86_400))) },
            queueDeviceStates: try map.value("queue_device_states", default: false) { node throws(ConfigError) in try node.bool() }
        )
    }
}
