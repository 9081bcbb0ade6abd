import ArgumentParser
import HubSupport

/// Subcommands whose issue has not landed yet: they say so plainly and exit 69 (EX_UNAVAILABLE),
/// so that no script mistakes them for working.
protocol PendingCommand: ParsableCommand {
    static var pendingWork: String { get }
}

extension PendingCommand {
    func run() throws {
        ConsoleOutput.standardError("hubmeter \(Self.configuration.commandName ?? ""): not available yet: \(Self.pendingWork)")
        throw ExitCode(ExitStatus.unavailable.rawValue)
    }
}

struct AggregatorCommand: PendingCommand {
    static let configuration = CommandConfiguration(commandName: "aggregator", abstract: "Run the regional aggregator (ingest, API, web page).")
    static let pendingWork = "the regional aggregator is issue #7"
    @Option(help: "The aggregator configuration file.") var config: String = "/etc/hubmeter/aggregator.yaml"
}

struct SimulateCommand: PendingCommand {
    static let configuration = CommandConfiguration(commandName: "simulate", abstract: "Serve simulated hub devices over Modbus.")
    static let pendingWork = "the hub simulator is issue #4"
    @Argument(help: "The scenario file.") var scenario: String
}

struct DemoCommand: PendingCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Run a demo hub: simulator, agent, broker and aggregator.")
    static let pendingWork = "the demo hub is issue #4"
}
