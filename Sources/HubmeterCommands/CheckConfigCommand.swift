import ArgumentParser
import ConfigReading
import HubAgent
import HubConfiguration
import HubContract
import HubSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Validates a configuration file without starting anything; exits 78 (EX_CONFIG) when it is invalid.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate an agent or aggregator configuration file.",
        discussion: "Exits 0 when the file is valid, 78 (EX_CONFIG) when it is not, printing file:line:column: key.path: problem."
    )

    enum Kind: String, ExpressibleByArgument, CaseIterable { case agent, aggregator, auto }

    @Argument(help: "The configuration file.")
    var file: String

    @Option(help: "Which kind of file: agent, aggregator, or auto (decided by its top-level keys).")
    var kind: Kind = .auto

    @Option(help: "Data directory (profiles/ and sunspec/models/ for an agent, schemas/v1/ for an aggregator), overriding the file's data_directory.")
    var dataDirectory: String?

    func run() throws {
        let environment = SecretEnvironment.process(ProcessEnvironment.current)
        do {
            let summary = try ConfigurationCheck.check(path: file, kind: kind.rawValue, environment: environment, dataDirectory: dataDirectory)
            print("\(file): valid \(summary)")
        } catch {
            ConsoleOutput.standardError("\(error.description)")
            throw ExitCode(ExitStatus.configurationError.rawValue)
        }
    }
}

/// The check behind `check-config`, shared with the daemons' start-up and reload.
public enum ConfigurationCheck {
    /// Returns a one-line summary of a valid file.
    public static func check(path: String, kind: String, environment: SecretEnvironment, dataDirectory: String? = nil) throws(ConfigError) -> String {
        var resolvedKind = kind
        if kind == "auto" {
            let document = try ConfigDocument.load(path: path)
            let keys = (try? document.root.dictionary().map(\.key)) ?? []
            if keys.contains("hub") {
                resolvedKind = "agent"
            } else if keys.contains("region") {
                resolvedKind = "aggregator"
            } else {
                throw ConfigError(.invalidValue, file: path, keyPath: "", line: 1, column: 1,
                                  problem: "cannot tell the kind of file; an agent configuration has 'hub', an aggregator configuration has 'region'")
            }
        }
        if resolvedKind == "agent" {
            let (configuration, _) = try AgentConfigurationLoader.load(path: path, environment: environment, dataDirectory: dataDirectory)
            let devices = configuration.hub.devices.count
            return "agent configuration: hub \(configuration.hub.id), \(configuration.hub.participants.count) participants, "
                + "\(configuration.hub.sharedAssets.count) shared assets, \(devices) devices on \(configuration.buses.count) buses"
        } else {
            let configuration = try AggregatorConfiguration.load(path: path, environment: environment)
            // The daemon validates every message against these schemas and refuses to start without them.
            let data = dataDirectory ?? configuration.dataDirectory ?? DataDirectory.resolve(nil)
            do {
                _ = try MessageSchemas.load(directory: MessageSchemas.directory(inDataDirectory: data))
            } catch {
                throw ConfigError(.invalidValue, file: path, keyPath: "data_directory", line: nil, column: nil,
                                  problem: "the message JSON Schemas cannot be loaded: \(error.description)")
            }
            return "aggregator configuration: region \(configuration.region.id), \(configuration.hubs.count) known hubs, \(configuration.tokens.count) API tokens"
        }
    }
}

enum ProcessEnvironment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

enum ConsoleOutput {
    static func standardError(_ text: String) {
        let line = text + "\n"
        line.withCString { _ = fputs($0, stderr) }
    }
}
