import Acquisition
import ConfigReading
import Foundation
import HubConfiguration

/// Loads an agent configuration together with the device data it refers to, so that an unknown
/// profile name is a configuration error with its line, caught by `check-config` and at start-up.
public enum AgentConfigurationLoader {
    public static func load(path: String, environment: SecretEnvironment, dataDirectory override: String?) throws(ConfigError) -> (AgentConfiguration, ProfileCatalog) {
        var configuration = try AgentConfiguration.load(path: path, environment: environment)
        if let override { configuration.dataDirectory = override }
        let dataDirectory = configuration.dataDirectory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataDirectory + "/profiles", isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConfigError(.invalidValue, file: path, keyPath: "data_directory", line: nil, column: nil,
                              problem: "\(dataDirectory) has no profiles/ directory; expected the installed device data (/usr/local/share/hubmeter) or a checkout's Config/ (--data-directory)")
        }
        let catalog: ProfileCatalog
        do {
            catalog = try ProfileCatalog(dataDirectory: dataDirectory, userDirectories: configuration.profileDirectories)
        } catch {
            switch error {
            case .config(let configError): throw configError
            case .sunspec(let sunspecError):
                throw ConfigError(.invalidValue, file: path, keyPath: "data_directory", line: nil, column: nil,
                                  problem: "the SunSpec model definitions under \(dataDirectory) cannot be loaded: \(sunspecError)")
            }
        }
        // Read again with the known profile names, so an unknown one is reported at its line.
        var checked = try AgentConfiguration.load(path: path, environment: environment, profiles: Set(catalog.profiles.keys))
        checked.dataDirectory = dataDirectory
        return (checked, catalog)
    }
}
