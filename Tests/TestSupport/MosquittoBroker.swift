import Foundation

/// A real mosquitto broker on a free loopback port, with its config in a temporary directory.
public final class MosquittoBroker: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private var child: ChildProcess?
    private let extraConfiguration: String

    private let persistent: Bool

    /// Starts `mosquitto -c FILE` with `listener PORT 127.0.0.1` and waits for the port.
    /// A persistent broker keeps sessions and queued QoS 1 messages across stop and start.
    public init(extraConfiguration: String = "allow_anonymous true\n", persistent: Bool = false) async throws {
        self.port = try freePort()
        self.directory = try RepositoryPaths.makeTemporaryDirectory("hubmeter-broker")
        // Started as root, mosquitto drops to its own user: it must still write its persistence file here.
        chmod(directory, 0o777)
        self.extraConfiguration = extraConfiguration
        self.persistent = persistent
        try await start()
    }

    public func start() async throws {
        let persistence = persistent ? "persistence true\npersistence_location \(directory)/\n" : "persistence false\n"
        let configuration = "listener \(port) 127.0.0.1\n" + extraConfiguration + persistence
        let file = directory + "/mosquitto.conf"
        try configuration.write(toFile: file, atomically: true, encoding: .utf8)
        let executable = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let executable else { throw TestSupportError("mosquitto is not installed (apt-get install mosquitto)") }
        child = try ChildProcess(executable: executable, arguments: ["-c", file])
        try await waitForPort(port)
    }

    public func stop() {
        child?.stop()
        child = nil
    }

    public var log: String { child?.output ?? "" }

    deinit { stop() }
}
