import Foundation

/// A helper process started by a test (a broker, a Modbus peer, the agent), killed when the test is done.
///
/// Spawned with posix_spawn and an empty signal mask with default dispositions: a child started
/// from a test thread would otherwise inherit blocked signals and ignore SIGTERM (then a broker
/// cannot save its state, a daemon cannot shut down gracefully).
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var collected = Data()
    private var exitStatus: Int32?

    public init(executable: String, arguments: [String], environment: [String: String]? = nil) throws {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw TestSupportError("pipe() failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        posix_spawn_file_actions_addclose(&actions, pipeFDs[1])

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environmentStrings = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp = environmentStrings.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        close(pipeFDs[1])
        guard result == 0 else {
            close(pipeFDs[0])
            throw TestSupportError("cannot start \(executable): error \(result)")
        }
        pid = child
        // A plain thread with blocking reads (FileHandle.availableData traps on EINTR).
        let descriptor = pipeFDs[0]
        let thread = Thread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                guard let self else { break }
                self.lock.withLock { self.collected.append(contentsOf: buffer[0..<count]) }
            }
            close(descriptor)
        }
        thread.start()
    }

    /// Everything the process printed so far (stdout and stderr together).
    public var output: String {
        lock.withLock { String(decoding: collected, as: UTF8.self) }
    }

    /// Reaps the child if it ended; returns nil while it runs.
    @discardableResult
    public func poll() -> Int32? {
        lock.withLock {
            if let exitStatus { return exitStatus }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            guard result == pid else { return nil }
            // WIFEXITED / WEXITSTATUS / WTERMSIG written out: the macros do not import.
            let signal = status & 0x7f
            exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            return exitStatus
        }
    }

    public var isRunning: Bool { poll() == nil }

    /// Exit status (128 + signal when killed by a signal), waiting up to `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = poll() { return status }
            usleep(10_000)
        }
        return poll()
    }

    /// Sends a signal (SIGTERM by default) and waits for the process to end; SIGKILL after `grace`.
    public func stop(signal: Int32 = SIGTERM, grace: Duration = .seconds(5)) {
        guard isRunning else { return }
        kill(pid, signal)
        if waitForExit(timeout: grace) == nil {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: .seconds(5))
        }
    }

    public func send(signal: Int32) { kill(pid, signal) }

    deinit { stop(signal: SIGKILL) }
}

/// Runs a command to completion and returns its exit status and output.
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    // Output goes to files: no pipe can fill up, and no read can be interrupted.
    let directory = try RepositoryPaths.makeTemporaryDirectory("run")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let stdoutPath = directory + "/stdout", stderrPath = directory + "/stderr"
    FileManager.default.createFile(atPath: stdoutPath, contents: nil)
    FileManager.default.createFile(atPath: stderrPath, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
    return (process.terminationStatus, out, err)
}

/// Waits until something accepts TCP connections on a loopback port.
public func waitForPort(_ port: Int, host: String = "127.0.0.1", timeout: Duration = .seconds(10)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if canConnect(host: host, port: port) { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestSupportError("nothing listens on \(host):\(port) after \(timeout)")
}

public func canConnect(host: String, port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, host, &address.sin_addr)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// A loopback port that was free a moment ago (bind to 0, read it back, close).
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
        }
    }
    guard bound else { throw TestSupportError("bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Paths inside the repository, found from this source file's location.
public enum RepositoryPaths {
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() } // Tests/TestSupport/File.swift
        return url.path
    }()

    public static func path(_ relative: String) -> String { root + "/" + relative }

    /// The built `hubmeter` binary (`swift test` builds it with the tests), or $HUBMETER_BIN.
    public static var hubmeterBinary: String {
        if let override = ProcessInfo.processInfo.environment["HUBMETER_BIN"] { return override }
        let candidates = [".build/debug/hubmeter", ".build/x86_64-unknown-linux-gnu/debug/hubmeter", ".build/aarch64-unknown-linux-gnu/debug/hubmeter"]
        return candidates.map(path).first { FileManager.default.isExecutableFile(atPath: $0) } ?? path(candidates[0])
    }

    /// Debian's python3, which has python3-pymodbus (a pyenv python on the PATH may not).
    public static let systemPython = "/usr/bin/python3"

    public static func makeTemporaryDirectory(_ prefix: String = "hubmeter-test") throws -> String {
        let path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A plain HTTP/1.1 GET on loopback with optional extra headers, returning the status code and
/// body (a chunked body is decoded).
public func httpGet(port: Int, path: String, host: String = "127.0.0.1", headers: [String: String] = [:]) throws -> (status: Int, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket() failed") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, host, &address.sin_addr)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else { throw TestSupportError("cannot connect to \(host):\(port)") }
    var text = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
    let request = Array((text + "\r\n").utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response += buffer[0..<count]
    }
    let reply = String(decoding: response, as: UTF8.self)
    guard let headerEnd = reply.range(of: "\r\n\r\n"), let status = Int(reply.split(separator: " ").dropFirst().first ?? "") else {
        throw TestSupportError("malformed HTTP response: \(reply.prefix(200))")
    }
    var body = String(reply[headerEnd.upperBound...])
    if reply[..<headerEnd.lowerBound].lowercased().contains("transfer-encoding: chunked") { body = dechunk(body) }
    return (status, body)
}

/// Decodes an HTTP/1.1 chunked body.
func dechunk(_ text: String) -> String {
    var rest = Substring(text), out = ""
    while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
        let start = lineEnd.upperBound
        let end = rest.utf8.index(start, offsetBy: size)
        out += String(rest[start..<end])
        rest = rest[end...].dropFirst(2)
    }
    return out
}

/// Validates messages against a v1 JSON Schema with the independent Python validator
/// (Tests/Peers/validate_messages.py); returns its report, throws when a message is invalid.
@discardableResult
public func validateMessages(_ payloads: [[UInt8]], schema: String) throws -> String {
    let directory = try RepositoryPaths.makeTemporaryDirectory("schema-\(schema)")
    var files: [String] = []
    for (index, payload) in payloads.enumerated() {
        let file = directory + "/\(index).json"
        try Data(payload).write(to: URL(fileURLWithPath: file))
        files.append(file)
    }
    let result = try runCommand(RepositoryPaths.systemPython, [RepositoryPaths.path("Tests/Peers/validate_messages.py"),
                                                               RepositoryPaths.path("Config/schemas/v1"), schema] + files)
    guard result.status == 0 else { throw TestSupportError("schema \(schema): \(result.stdout)\(result.stderr)") }
    return result.stdout
}

/// One file of a broken-file corpus and the exact message it must produce (after the file name).
public struct BrokenFileCase: CustomStringConvertible, Sendable {
    public let file: String
    public let expected: String
    public var description: String { file }

    /// Reads `expected-errors.tsv` (`FILE<TAB>MESSAGE` per line) of a corpus directory.
    public static func load(directory: String) -> [BrokenFileCase] {
        let table = (try? String(contentsOfFile: directory + "/expected-errors.tsv", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").map { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            return BrokenFileCase(file: String(parts[0]), expected: parts.count > 1 ? String(parts[1]) : "")
        }
    }
}
