import ConfigReading
import HubSupport

/// The regional aggregator: which broker to listen to, where to store, whom to serve.
public struct AggregatorConfiguration: Sendable, Equatable {
    public var region: Region
    public var mqtt: MQTTSettings
    public var subscription: Subscription
    public var storage: Storage
    public var http: ListenAddress
    public var tokens: [APIToken]
    public var hubs: [KnownHub]
    public var maxMessageBytes: Int
    public var logging: LoggingSettings
    /// Where the message schemas are (`schemas/v1/`); nil: next to a checkout's binary, else the installed data.
    public var dataDirectory: String?

    public struct Region: Sendable, Equatable {
        public var id: String
        public var name: String
    }

    public struct Subscription: Sendable, Equatable {
        /// MQTT 5 shared-subscription group; instances in one group split the messages between them.
        public var shareGroup: String?
        public var topicPrefix: String
    }

    public enum Storage: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(Postgres)
    }

    public struct Postgres: Sendable, Equatable {
        public enum TLSMode: String, Sendable, CaseIterable { case disable, prefer, require }
        public var host: String
        public var port: Int
        public var database: String
        public var user: String
        public var password: Secret?
        public var tls: TLSMode
    }

    public struct APIToken: Sendable, Equatable {
        public enum Role: String, Sendable, CaseIterable {
            /// Sees every location in the region.
            case auditor
            /// Sees only its own hub.
            case hubTeam = "hub_team"
        }
        public var name: String
        public var role: Role
        public var hub: String?
        /// Lowercase hex SHA-256 of the token; the token itself is never stored.
        public var sha256: String
    }

    public struct KnownHub: Sendable, Equatable {
        public var id: String
        public var name: String
        public var location: String?
    }

    public static func load(path: String, environment: SecretEnvironment) throws(ConfigError) -> AggregatorConfiguration {
        try read(ConfigDocument.load(path: path), environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: SecretEnvironment) throws(ConfigError) -> AggregatorConfiguration {
        try read(ConfigDocument.parse(text, file: file), environment: environment)
    }

    static func read(_ document: ConfigDocument, environment: SecretEnvironment) throws(ConfigError) -> AggregatorConfiguration {
        let root = try document.root.mapping(keys: ["region", "mqtt", "storage", "http", "tokens", "hubs", "ingest", "logging", "data_directory"])
        let regionMap = try root.required("region", expecting: "the region's id and name").mapping(keys: ["id", "name"])
        let regionID = try regionMap.value("id", expecting: "an identifier for the region") { node throws(ConfigError) in try node.identifier() }
        let region = Region(id: regionID, name: try regionMap.value("name", default: regionID) { node throws(ConfigError) in try node.string() })

        let mqttMap = try root.required("mqtt", expecting: "the MQTT broker connection").mapping(keys: MQTTSettings.keys + ["share_group", "topic_prefix"])
        let mqtt = try MQTTSettings.read(mqttMap, defaultClientID: "hubmeter-aggregator-\(regionID)", environment: environment)
        let shareGroup = try mqttMap.optional("share_group")?.identifier()
        if shareGroup != nil && mqtt.protocolVersion != .mqtt5 {
            throw mqttMap.optional("share_group")!.error(.inconsistent, "shared subscriptions need protocol mqtt5")
        }
        let subscription = Subscription(
            shareGroup: shareGroup,
            topicPrefix: try mqttMap.value("topic_prefix", default: "hubmeter/v1") { node throws(ConfigError) in
                let prefix = try node.string()
                guard !prefix.contains("+"), !prefix.contains("#"), !prefix.hasSuffix("/") else {
                    throw node.error(.invalidValue, "'\(prefix)' is not a topic prefix; expected plain topic levels without wildcards or a trailing /")
                }
                return prefix
            }
        )

        let storage = try readStorage(root.required("storage", expecting: "where interval records are stored"), environment: environment)
        let httpMap = try root.required("http", expecting: "where the API and web page listen").mapping(keys: ["listen"])
        let http = try httpMap.value("listen", expecting: "HOST:PORT") { node throws(ConfigError) in try ListenAddress.read(node) }

        let hubNodes = try root.optional("hubs")?.sequence() ?? []
        let hubs = try hubNodes.map { node throws(ConfigError) in
            let map = try node.mapping(keys: ["id", "name", "location"])
            let id = try map.value("id", expecting: "the hub's id as used in its topics") { node throws(ConfigError) in try node.identifier() }
            return KnownHub(
                id: id,
                name: try map.value("name", default: id) { node throws(ConfigError) in try node.string() },
                location: try map.optional("location")?.string()
            )
        }
        try requireUnique(hubs.map(\.id), nodes: hubNodes, what: "hub id")

        let tokenNodes = try root.optional("tokens")?.sequence() ?? []
        let tokens = try tokenNodes.map { node throws(ConfigError) in
            let map = try node.mapping(keys: ["name", "role", "hub", "sha256"])
            let role = try map.value("role", expecting: "auditor or hub_team") { node throws(ConfigError) in try node.choice(APIToken.Role.self) }
            let hub = try map.optional("hub")?.identifier()
            switch (role, hub) {
            case (.hubTeam, nil):
                throw node.error(.missingKey, "a hub_team token needs 'hub', the hub whose data it may see")
            case (.auditor, .some):
                throw map.optional("hub")!.error(.inconsistent, "an auditor token sees every hub; remove 'hub' or use role hub_team")
            case (.hubTeam, .some(let hubID)) where !hubs.isEmpty && !hubs.contains(where: { $0.id == hubID }):
                throw map.optional("hub")!.error(.unknownReference, "hub '\(hubID)' is not listed under hubs")
            default:
                break
            }
            let hash = try map.value("sha256", expecting: "the SHA-256 of the token as 64 hex digits (see `hubmeter token`)") { node throws(ConfigError) in
                let text = try node.string().lowercased()
                guard text.utf8.count == 64, text.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                    throw node.error(.invalidValue, "expected the token's SHA-256 as 64 hex digits, found \(text.utf8.count) characters")
                }
                return text
            }
            return APIToken(name: try map.value("name", expecting: "a name for the token holder") { node throws(ConfigError) in try node.string() },
                            role: role, hub: hub, sha256: hash)
        }
        try requireUnique(tokens.map(\.sha256), nodes: tokenNodes, what: "token hash")

        let maxMessageBytes: Int = try root.optional("ingest").map { node throws(ConfigError) in
            let map = try node.mapping(keys: ["max_message_size"])
            return try map.value("max_message_size", default: 256 << 10) { node throws(ConfigError) in try node.byteCount(in: 1024...(16 << 20)) }
        } ?? 256 << 10

        var dataDirectory: String?
        if let node = root.optional("data_directory") { dataDirectory = try absolutePath(node) }

        return AggregatorConfiguration(region: region, mqtt: mqtt, subscription: subscription, storage: storage, http: http,
                                       tokens: tokens, hubs: hubs, maxMessageBytes: maxMessageBytes,
                                       logging: try LoggingSettings.read(root.optional("logging")), dataDirectory: dataDirectory)
    }

    static func readStorage(_ node: ConfigNode, environment: SecretEnvironment) throws(ConfigError) -> Storage {
        let map = try node.mapping(keys: ["backend", "path", "host", "port", "database", "user", "password", "password_file", "password_env", "tls"])
        enum Backend: String, CaseIterable { case sqlite, postgres }
        let backend = try map.value("backend", expecting: "sqlite or postgres") { node throws(ConfigError) in try node.choice(Backend.self) }
        switch backend {
        case .sqlite:
            for key in ["host", "port", "database", "user", "password_file", "password_env", "tls"] {
                if let stray = map.optional(key) { throw stray.error(.inconsistent, "'\(key)' does not apply to the sqlite backend") }
            }
            return .sqlite(path: try map.value("path", expecting: "the database file path") { node throws(ConfigError) in try absolutePath(node) })
        case .postgres:
            if let stray = map.optional("path") { throw stray.error(.inconsistent, "'path' does not apply to the postgres backend") }
            if let inline = map.optional("password") {
                throw inline.error(.invalidValue, "inline passwords are not accepted; put the password in a file (password_file) or an environment variable (password_env)")
            }
            return .postgres(Postgres(
                host: try map.value("host", default: "localhost") { node throws(ConfigError) in try node.string() },
                port: try map.value("port", default: 5432) { node throws(ConfigError) in try node.int(in: 1...65535) },
                database: try map.value("database", expecting: "the database name") { node throws(ConfigError) in try node.string() },
                user: try map.value("user", expecting: "the database user") { node throws(ConfigError) in try node.string() },
                password: try map.secret("password", environment: environment),
                tls: try map.value("tls", default: .require) { node throws(ConfigError) in try node.choice(Postgres.TLSMode.self) }
            ))
        }
    }
}
