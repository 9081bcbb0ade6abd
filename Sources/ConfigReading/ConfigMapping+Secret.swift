import HubSupport

/// Where secrets may come from. Inline secrets in the YAML are refused: config files get copied,
/// pasted into tickets and committed, secrets should not travel with them.
public struct SecretEnvironment: Sendable {
    public let variables: [String: String]
    public let readFile: @Sendable (String) throws -> String

    public init(variables: [String: String], readFile: @escaping @Sendable (String) throws -> String) {
        self.variables = variables
        self.readFile = readFile
    }

    /// The process environment and the file system.
    public static func process(_ variables: [String: String]) -> SecretEnvironment {
        SecretEnvironment(variables: variables) { path in try FileReader.readText(path: path) }
    }
}

extension ConfigMapping {
    /// Reads secret `name` from `NAME_file` (a path; one trailing newline is dropped) or `NAME_env`
    /// (an environment variable). Returns nil when neither key is present.
    public func secret(_ name: String, environment: SecretEnvironment) throws(ConfigError) -> Secret? {
        let fileNode = optional("\(name)_file")
        let envNode = optional("\(name)_env")
        if fileNode != nil && envNode != nil {
            throw owner.error(.inconsistent, "give either \(name)_file or \(name)_env, not both")
        }
        if let fileNode {
            let path = try fileNode.string()
            let text: String
            do {
                text = try environment.readFile(path)
            } catch {
                throw fileNode.error(.secretUnavailable, "cannot read the \(name) from \(path): \(error)")
            }
            var value = Substring(text)
            if value.hasSuffix("\r\n") { value = value.dropLast(2) } else if value.hasSuffix("\n") { value = value.dropLast() }
            guard !value.isEmpty else { throw fileNode.error(.secretUnavailable, "the \(name) file \(path) is empty") }
            return Secret(String(value), origin: path)
        }
        if let envNode {
            let variable = try envNode.string()
            guard let value = environment.variables[variable], !value.isEmpty else {
                throw envNode.error(.secretUnavailable, "environment variable \(variable) is not set or empty; it should hold the \(name)")
            }
            return Secret(value, origin: "$\(variable)")
        }
        return nil
    }
}
