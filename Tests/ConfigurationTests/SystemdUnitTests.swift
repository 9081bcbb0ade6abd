import Foundation
import Testing
import TestSupport

/// The unit files pass `systemd-analyze verify` and keep their sandbox tight.
@Suite struct SystemdUnitTests {
    /// A copy of the unit whose ExecStart points at the freshly built binary, since verify checks it exists.
    static func unitForVerification(_ name: String) throws -> String {
        let text = try String(contentsOfFile: RepositoryPaths.path("systemd/\(name)"), encoding: .utf8)
        let directory = try RepositoryPaths.makeTemporaryDirectory("units")
        let path = directory + "/" + name
        try text.replacingOccurrences(of: "/usr/local/bin/hubmeter", with: RepositoryPaths.hubmeterBinary)
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(arguments: ["hubmeter-agent.service", "hubmeter-aggregator.service"])
    func verifyFindsNoProblems(_ name: String) throws {
        let unit = try Self.unitForVerification(name)
        let result = try runCommand("/usr/bin/systemd-analyze", ["verify", unit])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains(name), "warnings about the unit: \(result.stderr)")
    }

    @Test(arguments: [("hubmeter-agent.service", 1.3), ("hubmeter-aggregator.service", 1.1)])
    func securityExposureStaysLow(name: String, ceiling: Double) throws {
        let unit = try Self.unitForVerification(name)
        let result = try runCommand("/usr/bin/systemd-analyze", ["security", "--offline=yes", unit])
        let line = result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }
        let exposure = line.flatMap { $0.split(separator: ":").last?.split(separator: " ").first }.flatMap { Double($0) }
        let measured = try #require(exposure, "no exposure in: \(result.stdout.suffix(400))")
        #expect(measured <= ceiling)
    }

    @Test(arguments: ["hubmeter-agent.service", "hubmeter-aggregator.service"])
    func unitsCarryTheRequiredSettings(_ name: String) throws {
        let text = try String(contentsOfFile: RepositoryPaths.path("systemd/\(name)"), encoding: .utf8)
        let lines = Set(text.split(separator: "\n").map(String.init))
        for required in ["Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "ExecReload=/bin/kill -HUP $MAINPID",
                         "Restart=on-failure", "RestartPreventExitStatus=78", "StateDirectory=hubmeter", "DynamicUser=yes",
                         "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
                         "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"] {
            #expect(lines.contains(required), "\(name) lacks \(required)")
        }
    }
}

@Suite struct CommandLineTests {
    @Test func versionPrintsTheVersion() throws {
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["version"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("hubmeter 0."))
    }

    @Test func autoDetectionNeedsHubOrRegion() throws {
        let directory = try RepositoryPaths.makeTemporaryDirectory("cli")
        let file = directory + "/neither.yaml"
        try "something: else\n".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["check-config", file])
        #expect(result.status == 78)
        #expect(result.stderr == "\(file):1:1: cannot tell the kind of file; an agent configuration has 'hub', an aggregator configuration has 'region'\n")
    }

    @Test func missingFileIsAConfigurationError() throws {
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["check-config", "/nonexistent/agent.yaml"])
        #expect(result.status == 78)
        #expect(result.stderr == "/nonexistent/agent.yaml: cannot open /nonexistent/agent.yaml: No such file or directory\n")
    }
}
