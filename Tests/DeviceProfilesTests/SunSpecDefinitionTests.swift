import DeviceProfiles
import Foundation
import Testing
import TestSupport

/// SunSpec's JSON model definitions, as kept in Config/sunspec/models.
@Suite struct SunSpecDefinitionTests {
    static func library() throws -> SunSpecModelLibrary {
        let directory = RepositoryPaths.path("Config/sunspec/models")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.map { name in
            (name: name, contents: [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))))
        }
        return try SunSpecModelLibrary(files: files)
    }

    static let listedModels = [1, 101, 102, 103, 111, 112, 113, 120, 121, 122, 123, 124, 160, 201, 202, 203, 204,
                               211, 212, 213, 214, 701, 702, 704, 713, 714, 802]

    @Test func everyListedModelIsDefinedWithItsPublishedLength() throws {
        let library = try Self.library()
        #expect(Set(library.models.keys) == Set(Self.listedModels))
        // Fixed lengths (L) from the SunSpec model reference (domain notes §3).
        let lengths = [1: 66, 101: 50, 102: 50, 103: 50, 111: 60, 112: 60, 113: 60, 120: 26, 121: 30, 122: 44, 123: 24, 124: 24,
                       160: 8, 201: 105, 202: 105, 203: 105, 204: 105, 211: 124, 212: 124, 213: 124, 214: 124, 701: 153, 702: 50, 713: 7, 802: 62]
        for (id, length) in lengths {
            #expect(library[id]?.fixedLength == length, "model \(id)")
        }
        #expect(library[160]?.repeating?.length == 20)
        #expect(library[714]?.repeating?.name == "Prt")
        #expect(library[203]?.points.first { $0.name == "W" }?.offset == 18)
        #expect(library[203]?.points.first { $0.name == "TotWhImp" }?.offset == 46)
    }

    @Test func brokenDefinitionsNameTheFileAndTheProblem() {
        let missingID = Array(#"{"group": {"name": "x", "points": []}}"#.utf8)
        let error = #expect(throws: SunSpecDefinitionError.self) {
            _ = try SunSpecModelLibrary.parse(missingID, file: "model_9.json")
        }
        #expect(error?.description == "model_9.json: not a SunSpec model definition: missing key 'id' at the top level")
        let noLength = Array(#"{"id": 9, "group": {"name": "x", "points": [{"name": "ID", "type": "uint16", "size": 1}]}}"#.utf8)
        let second = #expect(throws: SunSpecDefinitionError.self) {
            _ = try SunSpecModelLibrary.parse(noLength, file: "model_9.json")
        }
        #expect(second?.description == "model_9.json: the first points must be ID and L")
    }
}
