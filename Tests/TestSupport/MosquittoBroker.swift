import Foundation

/// A real mosquitto broker on a free loopback port, with its config in a temporary directory.
public final class MosquittoBroker: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private var child: ChildProcess?
    private let extraConfiguration: String

    /// Starts `mosquitto -c FILE` with `listener PORT 127.0.0.1` and waits for the port.
    public init(extraConfiguration: String = "allow_anonymous true\n") async throws {
        self.port = try freePort()
        self.directory = try RepositoryPaths.makeTemporaryDirectory("hubmeter-broker")
        self.extraConfiguration = extraConfiguration
        try await start()
    }

    public func start() async throws {
        let configuration = "listener \(port) 127.0.0.1\n" + extraConfiguration + "persistence false\n"
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
