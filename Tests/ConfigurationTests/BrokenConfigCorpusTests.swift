import ConfigReading
import Foundation
import HubConfiguration
import HubmeterCommands
import Testing
import TestSupport

/// Every file in Fixtures/broken must fail with exactly the message in expected-errors.tsv,
/// both when loaded in-process and through `hubmeter check-config` (exit status 78).
@Suite struct BrokenConfigCorpusTests {
    static let directory = RepositoryPaths.path("Tests/ConfigurationTests/Fixtures/broken")

    typealias Case = BrokenFileCase

    static let cases = BrokenFileCase.load(directory: directory)

    static let environment = SecretEnvironment(variables: [:]) { path in
        throw TestSupportError("no secret files in this test (\(path))")
    }

    @Test func corpusIsLargeAndCoversEveryFile() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 20)
        #expect(Set(files) == Set(Self.cases.map(\.file)))
    }

    @Test(arguments: cases) func loaderReportsThePreciseError(_ testCase: Case) throws {
        let path = Self.directory + "/" + testCase.file
        let kind = testCase.file.contains(".aggregator.") ? "aggregator" : "agent"
        let error = #expect(throws: ConfigError.self) {
            _ = try ConfigurationCheck.check(path: path, kind: kind, environment: Self.environment,
                                             dataDirectory: RepositoryPaths.path("Config"))
        }
        #expect(error?.description == path + testCase.expected)
        #expect(error?.code.hasPrefix("config.") == true)
    }

    @Test(arguments: cases) func checkConfigExitsWithExConfig(_ testCase: Case) throws {
        let file = testCase.file
        // Relative path, as an installer would type it; the message must name it the same way.
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["check-config", "--data-directory", RepositoryPaths.path("Config"), Self.directory + "/" + file],
                                    environment: ["PATH": "/usr/bin:/bin"])
        #expect(result.status == 78)
        #expect(result.stderr == Self.directory + "/" + file + testCase.expected + "\n")
        #expect(result.stdout.isEmpty)
    }
}

@Suite struct DeviceDataTests {
    @Test func anAggregatorWithoutSchemasIsAConfigurationError() throws {
        let file = RepositoryPaths.path("Config/aggregator.example.yaml")
        // (The same file with the repository's Config/ passes: ExampleConfigTests.checkConfigAcceptsExamples.)
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["check-config", "--data-directory", "/nonexistent", file],
                                    environment: ["HUBMETER_MQTT_PASSWORD": "x"])
        #expect(result.status == 78)
        #expect(result.stderr.hasPrefix("\(file): data_directory: the message JSON Schemas cannot be loaded: /nonexistent/schemas/v1"), "\(result.stderr)")
        #expect(result.stderr.hasSuffix("expected the installed data (/usr/local/share/hubmeter) or a checkout's Config/ (--data-directory)\n"))
        #expect(result.stdout.isEmpty)
    }

    @Test func aMissingDataDirectoryIsAConfigurationError() throws {
        let file = RepositoryPaths.path("Config/agent.example.yaml")
        let result = try runCommand(RepositoryPaths.hubmeterBinary, ["check-config", "--data-directory", "/nonexistent", file],
                                    environment: ["HUBMETER_MQTT_PASSWORD": "x"])
        #expect(result.status == 78)
        #expect(result.stderr == "\(file): data_directory: /nonexistent has no profiles/ directory; expected the installed device data (/usr/local/share/hubmeter) or a checkout's Config/ (--data-directory)\n")
    }
}
