import ArgumentParser
import Acquisition
import HubAgent
import HubDomain
import HubSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `hubmeter agent`: the hub agent daemon.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the hub agent daemon: poll devices, balance every cycle, settle per quarter hour, publish over MQTT.",
        discussion: "SIGHUP reloads the configuration (an invalid file keeps the running one); SIGTERM stops gracefully. Exit 78: invalid configuration."
    )

    @Option(help: "The agent configuration file.")
    var config: String = "/etc/hubmeter/agent.yaml"

    @Option(help: "Device data directory (profiles/, sunspec/models/), overriding the file's data_directory.")
    var dataDirectory: String?

    @Option(help: "Run the clock this many times faster than real time (tests and demos; settlement intervals shrink accordingly).")
    var speed: Double = 1

    @Option(help: "Epoch milliseconds at which the fast clock equals real time (share it with 'hubmeter simulate --time-origin').")
    var timeOrigin: Int64?

    func validate() throws {
        guard speed > 0, speed.isFinite, speed <= 10_000 else { throw ValidationError("--speed must be > 0 and at most 10000") }
    }

    func run() async throws {
        // A parent may have started us with signals blocked; SIGTERM and SIGHUP must reach us.
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        let status = await AgentDaemon.run(.init(configurationPath: config, dataDirectory: dataDirectory,
                                                 environment: ProcessEnvironment.current, version: HubmeterVersion.current,
                                                 clock: ScaledWallClock(origin: timeOrigin.map { UTCMilliseconds($0) }, speed: speed)))
        if status != .success { throw ExitCode(status.rawValue) }
    }
}
