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
    /// Process-wide settings, made on the main thread before the first `await` (main.swift):
    /// an async function would already run on a thread of the cooperative pool.
    public static func prepareProcess() {
        // A peer that closes its socket must give us EPIPE, not a fatal signal: OpenSSL writes to
        // the MQTT socket with write(2), so a TLS broker going away mid-write would kill the agent.
        signal(SIGPIPE, SIG_IGN)
        // The agent runs on one malloc arena instead of eight per core: its 200 bus threads
        // allocate little and rarely at once, and every extra arena keeps its own free pages (2 MiB
        // with 200 buses; docs/performance.md). Only before any other thread has allocated: glibc
        // gives a thread that allocates before the cap an arena of its own. glibc's
        // MALLOC_ARENA_MAX, when set, decides instead.
        if CommandLine.arguments.dropFirst().first == "agent", getenv("MALLOC_ARENA_MAX") == nil {
            ProcessMemory.limitMallocArenas(to: 1)
        }
    }

    public static func run() async {
        await Hubmeter.main()
    }
}
