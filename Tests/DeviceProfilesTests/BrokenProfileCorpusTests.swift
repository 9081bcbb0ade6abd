import ConfigReading
import DeviceProfiles
import Foundation
import Testing
import TestSupport

/// Every file in Fixtures/broken-profiles fails with exactly the message in expected-errors.tsv:
/// file:line:column, key path, and what was expected, like the agent configuration.
@Suite struct BrokenProfileCorpusTests {
    static let directory = RepositoryPaths.path("Tests/DeviceProfilesTests/Fixtures/broken-profiles")

    struct Case: CustomTestStringConvertible, Sendable {
        let file: String
        let expected: String
        var testDescription: String { file }
    }

    static let cases: [Case] = {
        let table = (try? String(contentsOfFile: directory + "/expected-errors.tsv", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").map { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            return Case(file: String(parts[0]), expected: String(parts[1]))
        }
    }()

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
