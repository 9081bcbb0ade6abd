import ConfigReading
import DeviceProfiles
import Foundation
import Testing
import TestSupport

/// Every file in Fixtures/broken-profiles fails with exactly the message in expected-errors.tsv:
/// file:line:column, key path, and what was expected, like the agent configuration.
@Suite struct BrokenProfileCorpusTests {
    static let directory = RepositoryPaths.path("Tests/DeviceProfilesTests/Fixtures/broken-profiles")

    typealias Case = BrokenFileCase

    static let cases = BrokenFileCase.load(directory: directory)

    @Test func corpusCoversEveryFile() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 20)
        #expect(Set(files) == Set(Self.cases.map(\.file)))
    }

    @Test(arguments: cases) func parserReportsThePreciseError(_ testCase: Case) throws {
        let text = try String(contentsOfFile: Self.directory + "/" + testCase.file, encoding: .utf8)
        let error = #expect(throws: ConfigError.self) {
            _ = try ProfileParser.parse(text, file: testCase.file, id: String(testCase.file.dropLast(5)))
        }
        #expect(error?.description == testCase.file + testCase.expected)
        #expect(error?.code.hasPrefix("config.") == true)
    }
}
