#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Yams

/// A parsed YAML file, ready to be read into typed values through `root`.
public struct ConfigDocument {
    /// The file name as given by the user, used in every error message.
    public let file: String
    public let root: ConfigNode

    /// Reads and parses a file. Errors say which file and why (missing, unreadable, YAML syntax).
    public static func load(path: String) throws(ConfigError) -> ConfigDocument {
        let text: String
        do {
            text = try FileReader.readText(path: path)
        } catch {
            throw ConfigError(.unreadableFile, file: path, keyPath: "", line: nil, column: nil, problem: error.description)
        }
        return try parse(text, file: path)
    }

    /// Parses YAML text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigDocument {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw Self.syntaxError(error, file: file)
        } catch {
            throw ConfigError(.syntax, file: file, keyPath: "", line: nil, column: nil, problem: "YAML syntax error: \(error)")
        }
        guard let node else {
            throw ConfigError(.emptyDocument, file: file, keyPath: "", line: nil, column: nil, problem: "the file is empty; expected a YAML mapping")
        }
        return ConfigDocument(file: file, root: ConfigNode(node: node, path: ConfigPath(), file: file))
    }

    private static func syntaxError(_ error: YamlError, file: String) -> ConfigError {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return ConfigError(.syntax, file: file, keyPath: "", line: mark.line, column: mark.column,
                               problem: "YAML syntax error: \(problem)\(detail)")
        case .reader(let problem, _, _, _):
            return ConfigError(.syntax, file: file, keyPath: "", line: nil, column: nil, problem: "cannot read YAML: \(problem)")
        default:
            return ConfigError(.syntax, file: file, keyPath: "", line: nil, column: nil, problem: "YAML syntax error: \(error)")
        }
    }
}

/// Plain POSIX file reading, with errno turned into a readable reason.
public enum FileReader {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func readText(path: String) throws(Failure) -> String {
        let bytes = try readBytes(path: path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Failure(description: "\(path) is not valid UTF-8 text")
        }
        return text
    }

    public static func readBytes(path: String, limit: Int = 16 << 20) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
            if result.count > limit {
                throw Failure(description: "\(path) is larger than \(limit) bytes")
            }
        }
        return result
    }
}
