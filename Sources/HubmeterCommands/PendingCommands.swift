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

struct ScanCommand: PendingCommand {
    static let configuration = CommandConfiguration(commandName: "scan", abstract: "Find Modbus devices on a TCP endpoint or serial port.")
    static let pendingWork = "device scanning is issue #3 (Modbus acquisition)"
    @Argument(help: "tcp://HOST:PORT or a serial device path.") var target: String
}

struct ReadCommand: PendingCommand {
    static let configuration = CommandConfiguration(commandName: "read", abstract: "Read and decode a device's values.")
    static let pendingWork = "reading devices through profiles is issue #3 (Modbus acquisition)"
    @Argument(help: "A device id from the configuration, or tcp://HOST:PORT.") var device: String
}
