import ArgumentParser
import HubAgent
import HubAggregator
import HubSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `hubmeter aggregator`: the regional aggregator daemon.
struct AggregatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregator",
        abstract: "Run the regional aggregator: ingest the hubs' interval records over MQTT, store them, serve the API and web page.",
        discussion: "SIGHUP reloads tokens, hubs, region name and log level (an invalid file keeps the running one; other changes need a restart); SIGTERM stops gracefully. Exit 78: invalid configuration."
    )

    @Option(help: "The aggregator configuration file.")
    var config: String = "/etc/hubmeter/aggregator.yaml"

    @Option(help: "Data directory holding schemas/v1/ (the message JSON Schemas), overriding the file's data_directory.")
    var dataDirectory: String?

    func run() async throws {
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        let status = await AggregatorDaemon.run(.init(configurationPath: config, environment: ProcessEnvironment.current,
                                                      version: HubmeterVersion.current, dataDirectory: dataDirectory,
                                                      defaultDataDirectory: DataDirectory.resolve(nil)))
        if status != .success { throw ExitCode(status.rawValue) }
    }
}
