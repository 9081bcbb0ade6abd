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

/// A throwaway certificate authority and a server certificate for 127.0.0.1, made with openssl.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caFile: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }

    public init(name: String = "hubmeter-test") throws {
        directory = try RepositoryPaths.makeTemporaryDirectory("certs-\(name)")
        let openssl = "/usr/bin/openssl"
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=\(name) CA",
             "-keyout", directory + "/ca.key", "-out", directory + "/ca.pem"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", directory + "/server.key",
             "-out", directory + "/server.csr"],
            ["x509", "-req", "-in", directory + "/server.csr", "-CA", directory + "/ca.pem", "-CAkey", directory + "/ca.key",
             "-CAcreateserial", "-days", "2", "-out", directory + "/server.pem",
             "-extfile", try Self.extensions(directory)],
        ]
        for step in steps {
            let result = try runCommand(openssl, step)
            guard result.status == 0 else { throw TestSupportError("openssl \(step[0]) failed: \(result.stderr)") }
        }
        // mosquitto drops to its own user when started as root: it must read the key.
        for file in ["server.key", "server.pem", "ca.pem"] { chmod(directory + "/" + file, 0o644) }
        chmod(directory, 0o755)
    }

    private static func extensions(_ directory: String) throws -> String {
        let path = directory + "/server.ext"
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The mosquitto listener settings for this certificate.
    public var brokerConfiguration: String {
        "cafile \(caFile)\ncertfile \(serverCertificate)\nkeyfile \(serverKey)\nallow_anonymous true\n"
    }
}
