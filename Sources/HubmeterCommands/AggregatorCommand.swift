import ArgumentParser
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
        discussion: "SIGTERM stops gracefully. Exit 78: invalid configuration."
    )

    @Option(help: "The aggregator configuration file.")
    var config: String = "/etc/hubmeter/aggregator.yaml"

    func run() async throws {
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        let status = await AggregatorDaemon.run(.init(configurationPath: config, environment: ProcessEnvironment.current,
                                                      version: HubmeterVersion.current))
        if status != .success { throw ExitCode(status.rawValue) }
    }
}
