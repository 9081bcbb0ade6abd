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
