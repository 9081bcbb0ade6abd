import Foundation

/// The v1 message schemas (`Config/schemas/v1/*.schema.json`, installed under
/// `/usr/local/share/hubmeter/schemas/v1/`), compiled once and used to check every received message.
public struct MessageSchemas: Sendable {
    /// Where the schema files were read from.
    public let directory: String
    public let set: JSONSchemaSet
    public let interval: JSONSchemaValidator
    public let status: JSONSchemaValidator

    /// The schema directory of a data directory (`{data}/schemas/v1`).
    public static func directory(inDataDirectory dataDirectory: String) -> String {
        dataDirectory + "/schemas/v1"
    }

    /// Reads and compiles every `*.schema.json` of `directory`; interval and status must be among them.
    public static func load(directory: String) throws(SchemaLoadError) -> MessageSchemas {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".schema.json") }.sorted()
        } catch {
            throw SchemaLoadError(document: directory, location: "", problem: "cannot read the schema directory (\(error.localizedDescription)); expected the installed data (/usr/local/share/hubmeter) or a checkout's Config/ (--data-directory)")
        }
        var documents: [(name: String, bytes: [UInt8])] = []
        for name in names {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
                throw SchemaLoadError(document: directory + "/" + name, location: "", problem: "cannot read the file")
            }
            documents.append((name, Array(data)))
        }
        let set = try JSONSchemaSet(documents: documents)
        guard let interval = set.validator("interval.schema.json"), let status = set.validator("status.schema.json") else {
            throw SchemaLoadError(document: directory, location: "", problem: "interval.schema.json and status.schema.json are required; found \(names.joined(separator: ", "))")
        }
        return MessageSchemas(directory: directory, set: set, interval: interval, status: status)
    }
}
