import ConfigReading
import DeviceProfiles
import Foundation

/// Loads profiles (`*.yaml`) and SunSpec model definitions from the data directory and the
/// user's profile directories. Later directories override earlier ones, so an installer can
/// fix or add a device without a new release.
public struct ProfileCatalog: Sendable {
    public private(set) var profiles: [String: DeviceProfile] = [:]
    /// Where each profile came from, for `hubmeter read --plan` and error messages.
    public private(set) var sources: [String: String] = [:]
    public let library: SunSpecModelLibrary

    /// `dataDirectory` holds `profiles/` and `sunspec/models/` (the repository's `Config/` in a
    /// checkout, /usr/local/share/hubmeter when installed); `userDirectories` hold more profiles.
    public init(dataDirectory: String, userDirectories: [String] = []) throws(CatalogError) {
        library = try Self.loadLibrary(dataDirectory + "/sunspec/models")
        for directory in [dataDirectory + "/profiles"] + userDirectories {
            for file in Self.files(in: directory, suffix: ".yaml") {
                let path = directory + "/" + file
                let text: String
                do {
                    text = try FileReader.readText(path: path)
                } catch {
                    throw .config(ConfigError(.unreadableFile, file: path, keyPath: "", line: nil, column: nil, problem: error.description))
                }
                let id = String(file.dropLast(5))
                do {
                    profiles[id] = try ProfileParser.parse(text, file: path, id: id)
                } catch {
                    throw .config(error)
                }
                sources[id] = path
            }
        }
    }

    public func profile(_ id: String) -> DeviceProfile? { profiles[id] }

    static func loadLibrary(_ directory: String) throws(CatalogError) -> SunSpecModelLibrary {
        var contents: [(name: String, contents: [UInt8])] = []
        for file in files(in: directory, suffix: ".json") {
            let path = directory + "/" + file
            let bytes: [UInt8]
            do {
                bytes = try FileReader.readBytes(path: path)
            } catch {
                throw .sunspec(SunSpecDefinitionError(file: path, problem: "\(error)"))
            }
            contents.append((path, bytes))
        }
        do {
            return try SunSpecModelLibrary(files: contents)
        } catch {
            throw .sunspec(error)
        }
    }

    static func files(in directory: String, suffix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }
}

/// A profile or model definition that cannot be loaded.
public enum CatalogError: Error, CustomStringConvertible, Sendable {
    case config(ConfigError)
    case sunspec(SunSpecDefinitionError)

    public var description: String {
        switch self {
        case .config(let error): error.description
        case .sunspec(let error): error.description
        }
    }

    public var code: String {
        switch self {
        case .config(let error): error.code
        case .sunspec(let error): error.code
        }
    }
}
