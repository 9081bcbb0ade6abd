import HubConfiguration
import Synchronization

/// The part of the configuration a SIGHUP changes while the aggregator runs: the region's name,
/// the known hubs and the API tokens. The HTTP endpoints read it on every request.
public final class AggregatorLiveSettings: Sendable {
    public struct Snapshot: Sendable {
        public var region: AggregatorConfiguration.Region
        public var knownHubs: [AggregatorConfiguration.KnownHub]
        public var authenticator: TokenAuthenticator
    }

    private let current: Mutex<Snapshot>

    public init(region: AggregatorConfiguration.Region, knownHubs: [AggregatorConfiguration.KnownHub], authenticator: TokenAuthenticator) {
        current = Mutex(Snapshot(region: region, knownHubs: knownHubs, authenticator: authenticator))
    }

    public convenience init(_ configuration: AggregatorConfiguration) {
        self.init(region: configuration.region, knownHubs: configuration.hubs, authenticator: TokenAuthenticator(tokens: configuration.tokens))
    }

    public var snapshot: Snapshot { current.withLock { $0 } }

    public func apply(_ configuration: AggregatorConfiguration) {
        let next = Snapshot(region: configuration.region, knownHubs: configuration.hubs, authenticator: TokenAuthenticator(tokens: configuration.tokens))
        current.withLock { $0 = next }
    }

    /// The settings that differ between two configurations but only take effect after a restart
    /// (the broker connection and subscription, storage, the HTTP address, the message size limit,
    /// the log format, the data directory), as configuration key names.
    public static func restartRequired(running: AggregatorConfiguration, new: AggregatorConfiguration) -> [String] {
        var keys: [String] = []
        if running.mqtt != new.mqtt { keys.append("mqtt") }
        if running.subscription != new.subscription { keys.append("mqtt.share_group/topic_prefix") }
        if running.storage != new.storage { keys.append("storage") }
        if running.http != new.http { keys.append("http.listen") }
        if running.maxMessageBytes != new.maxMessageBytes { keys.append("ingest.max_message_size") }
        if running.logging.format != new.logging.format { keys.append("logging.format") }
        if running.dataDirectory != new.dataDirectory { keys.append("data_directory") }
        return keys
    }
}
