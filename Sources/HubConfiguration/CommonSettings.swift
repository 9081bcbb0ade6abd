import ConfigReading
import HubSupport

/// Log settings shared by both roles.
public struct LoggingSettings: Sendable, Equatable {
    public enum Level: String, Sendable, CaseIterable { case trace, debug, info, notice, warning, error, critical }
    public enum Format: String, Sendable, CaseIterable { case auto, plain, journald }

    public var level: Level = .info
    public var format: Format = .auto

    public init(level: Level = .info, format: Format = .auto) {
        self.level = level
        self.format = format
    }

    static func read(_ node: ConfigNode?) throws(ConfigError) -> LoggingSettings {
        guard let node else { return LoggingSettings() }
        let map = try node.mapping(keys: ["level", "format"])
        return LoggingSettings(
            level: try map.value("level", default: .info) { node throws(ConfigError) in try node.choice(Level.self) },
            format: try map.value("format", default: .auto) { node throws(ConfigError) in try node.choice(Format.self) }
        )
    }
}

/// A TCP listen address such as `127.0.0.1:9464` or `[::1]:9464`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this machine can connect: the default is loopback, other addresses are an explicit choice.
    public var isLoopback: Bool { host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.") }

    static func read(_ node: ConfigNode) throws(ConfigError) -> ListenAddress {
        let text = try node.string()
        let host: Substring, portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw node.error(.invalidValue, "'\(text)' is not HOST:PORT; expected for example 127.0.0.1:9464 or [::1]:9464") }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            throw node.error(.invalidValue, "'\(text)' is not HOST:PORT; expected for example 127.0.0.1:9464 or [::1]:9464")
        }
        guard !host.isEmpty, let port = Int(portText) else {
            throw node.error(.invalidValue, "'\(text)' is not HOST:PORT; expected for example 127.0.0.1:9464 or [::1]:9464")
        }
        guard (1...65535).contains(port) else {
            throw node.error(.outOfRange, "port \(port) is out of range 1–65535")
        }
        return ListenAddress(host: String(host), port: port)
    }
}

/// Connection settings for the MQTT broker, shared by agent and aggregator.
public struct MQTTSettings: Sendable, Equatable {
    public enum ProtocolVersion: String, Sendable, CaseIterable { case mqtt5, mqtt311 }

    public struct TLS: Sendable, Equatable {
        /// CA bundle to verify the broker against; nil uses the system's trust store.
        public var caFile: String?
        public var certificateFile: String?
        public var keyFile: String?
        /// Verification of the broker's certificate and host name. Turning it off is possible but loud.
        public var verifyServer: Bool = true
    }

    public var host: String
    public var port: Int
    public var protocolVersion: ProtocolVersion = .mqtt5
    public var clientID: String
    public var keepalive: Duration = .seconds(30)
    public var username: String?
    public var password: Secret?
    public var tls: TLS?
    public var reconnectDelay: Duration = .seconds(1)
    public var reconnectDelayMax: Duration = .seconds(60)

    static let keys = ["host", "port", "protocol", "client_id", "keepalive", "username", "password", "password_file",
                       "password_env", "tls", "reconnect_delay", "reconnect_delay_max"]

    static func read(_ map: ConfigMapping, defaultClientID: String, environment: SecretEnvironment) throws(ConfigError) -> MQTTSettings {
        if let inline = map.optional("password") {
            throw inline.error(.invalidValue, "inline passwords are not accepted; put the password in a file (password_file) or an environment variable (password_env)")
        }
        let tls: TLS? = try map.optional("tls").map { node throws(ConfigError) in
            let tlsMap = try node.mapping(keys: ["ca_file", "cert_file", "key_file", "verify_server"])
            let tls = TLS(
                caFile: try tlsMap.optional("ca_file")?.string(),
                certificateFile: try tlsMap.optional("cert_file")?.string(),
                keyFile: try tlsMap.optional("key_file")?.string(),
                verifyServer: try tlsMap.value("verify_server", default: true) { node throws(ConfigError) in try node.bool() }
            )
            if (tls.certificateFile == nil) != (tls.keyFile == nil) {
                throw node.error(.inconsistent, "cert_file and key_file go together; give both for a client certificate or neither")
            }
            return tls
        }
        let username = try map.optional("username")?.string()
        let password = try map.secret("password", environment: environment)
        if password != nil && username == nil {
            throw map.owner.error(.inconsistent, "a password needs a username")
        }
        let settings = MQTTSettings(
            host: try map.value("host", expecting: "the broker's host name or address") { node throws(ConfigError) in try node.string() },
            port: try map.value("port", default: tls == nil ? 1883 : 8883) { node throws(ConfigError) in try node.int(in: 1...65535) },
            protocolVersion: try map.value("protocol", default: .mqtt5) { node throws(ConfigError) in try node.choice(ProtocolVersion.self) },
            clientID: try map.value("client_id", default: defaultClientID) { node throws(ConfigError) in
                let id = try node.string()
                guard id.utf8.count <= 128 else { throw node.error(.outOfRange, "client id is \(id.utf8.count) bytes long; at most 128 are accepted") }
                return id
            },
            keepalive: try map.value("keepalive", default: .seconds(30)) { node throws(ConfigError) in try node.duration(in: .seconds(5)...(.seconds(65535))) },
            username: username,
            password: password,
            tls: tls,
            reconnectDelay: try map.value("reconnect_delay", default: .seconds(1)) { node throws(ConfigError) in try node.duration(in: .seconds(1)...(.seconds(3600))) },
            reconnectDelayMax: try map.value("reconnect_delay_max", default: .seconds(60)) { node throws(ConfigError) in try node.duration(in: .seconds(1)...(.seconds(3600))) }
        )
        if settings.reconnectDelayMax < settings.reconnectDelay {
            throw map.owner.error(.inconsistent, "reconnect_delay_max must not be shorter than reconnect_delay")
        }
        return settings
    }
}
