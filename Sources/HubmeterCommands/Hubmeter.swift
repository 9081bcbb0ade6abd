import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import HubSupport

/// The `hubmeter` command line: one binary for every role.
public struct Hubmeter: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hubmeter",
        abstract: "Edge metering agent and regional aggregator for business-park energy hubs.",
        version: HubmeterVersion.current,
        subcommands: [
            AgentCommand.self, AggregatorCommand.self, SimulateCommand.self, DemoCommand.self,
            ScanCommand.self, ReadCommand.self, CheckConfigCommand.self, VersionCommand.self,
        ]
    )

    public init() {}
}

public enum HubmeterVersion {
    public static let current = "0.1.0"
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() {
        print("hubmeter \(HubmeterVersion.current)")
    }
}

/// The process entry point, so the executable needs no knowledge of the argument parser.
public enum HubmeterEntryPoint {
    public static func run() async {
        // A peer that closes its socket must give us EPIPE, not a fatal signal: OpenSSL writes to
        // the MQTT socket with write(2), so a TLS broker going away mid-write would kill the agent.
        signal(SIGPIPE, SIG_IGN)
        await Hubmeter.main()
    }
}
