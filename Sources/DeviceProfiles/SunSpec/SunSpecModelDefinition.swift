import Foundation

/// A SunSpec information model, read from SunSpec's published JSON definition
/// (`model_<id>.json`, Apache-2.0, kept under Config/sunspec/models/).
///
/// Offsets count from the model's first register (its `ID`); `L` excludes `ID` and `L`.
public struct SunSpecModelDefinition: Sendable, Hashable {
    public struct Point: Sendable, Hashable {
        /// `W`, or `module.DCW` inside a group.
        public var name: String
        /// The SunSpec type: int16, uint16, acc32, enum16, sunssf, string, float32, …
        public var type: String
        public var size: Int
        public var offset: Int
        /// The name of the scale-factor point (resolved in the point's group, then the model).
        public var scaleFactor: String?
        /// A constant exponent given in the definition instead of a point.
        public var constantScaleFactor: Int?
        public var units: String?
        public var writable: Bool
    }

    public struct RepeatingGroup: Sendable, Hashable {
        public var name: String
        /// Offsets relative to the start of one repetition.
        public var points: [Point]
        public var length: Int
    }

    public var id: Int
    public var name: String
    /// Points of the fixed part (including fixed groups), with their offsets.
    public var points: [Point]
    /// Registers of the fixed part after `ID` and `L`.
    public var fixedLength: Int
    /// The repeating block at the end (model 160 modules, 714 ports), if any.
    public var repeating: RepeatingGroup?

    /// Number of repetitions for a model of length `length` (as the device reports it).
    public func repetitions(forLength length: Int) -> Int {
        guard let repeating, repeating.length > 0 else { return 0 }
        return max(0, (length - fixedLength) / repeating.length)
    }
}

/// A broken model definition file: which file, where, and what was expected.
public struct SunSpecDefinitionError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let problem: String

    public init(file: String, problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
    public var code: String { "sunspec.definition" }
}

/// The model definitions the agent knows, by id.
public struct SunSpecModelLibrary: Sendable {
    public private(set) var models: [Int: SunSpecModelDefinition] = [:]

    public init() {}

    /// Parses JSON definition files handed in as (file name, contents).
    public init(files: [(name: String, contents: [UInt8])]) throws(SunSpecDefinitionError) {
        for file in files {
            let model = try Self.parse(file.contents, file: file.name)
            models[model.id] = model
        }
    }

    public subscript(id: Int) -> SunSpecModelDefinition? { models[id] }

    struct JSONModel: Decodable {
        let id: Int
        let group: JSONGroup
    }

    struct JSONGroup: Decodable {
        let name: String
        let count: JSONCount?
        let points: [JSONPoint]?
        let groups: [JSONGroup]?
    }

    enum JSONCount: Decodable {
        case fixed(Int)
        case point(String)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Int.self) { self = .fixed(value) } else { self = .point(try container.decode(String.self)) }
        }
    }

    enum JSONScale: Decodable {
        case constant(Int)
        case point(String)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Int.self) { self = .constant(value) } else { self = .point(try container.decode(String.self)) }
        }
    }

    struct JSONPoint: Decodable {
        let name: String
        let type: String
        let size: Int
        let sf: JSONScale?
        let units: String?
        let access: String?
        let count: JSONCount?
    }

    public static func parse(_ contents: [UInt8], file: String) throws(SunSpecDefinitionError) -> SunSpecModelDefinition {
        let json: JSONModel
        do {
            json = try JSONDecoder().decode(JSONModel.self, from: Data(contents))
        } catch let error as DecodingError {
            throw SunSpecDefinitionError(file: file, problem: "not a SunSpec model definition: \(describe(error))")
        } catch {
            throw SunSpecDefinitionError(file: file, problem: "not a SunSpec model definition: \(error)")
        }
        var points: [SunSpecModelDefinition.Point] = []
        var offset = 0
        func append(_ jsonPoints: [JSONPoint], prefix: String, into list: inout [SunSpecModelDefinition.Point], offset: inout Int) throws(SunSpecDefinitionError) {
            for point in jsonPoints {
                if point.count != nil {
                    throw SunSpecDefinitionError(file: file, problem: "point \(prefix)\(point.name) repeats; repeating points are not supported")
                }
                guard point.size > 0 else { throw SunSpecDefinitionError(file: file, problem: "point \(prefix)\(point.name) has size \(point.size); expected at least 1") }
                var scaleName: String?, scaleConstant: Int?
                switch point.sf {
                case .point(let name): scaleName = name
                case .constant(let value): scaleConstant = value
                case nil: break
                }
                list.append(.init(name: prefix + point.name, type: point.type, size: point.size, offset: offset, scaleFactor: scaleName,
                                  constantScaleFactor: scaleConstant, units: point.units, writable: point.access == "RW"))
                offset += point.size
            }
        }
        try append(json.group.points ?? [], prefix: "", into: &points, offset: &offset)
        var repeating: SunSpecModelDefinition.RepeatingGroup?
        for group in json.group.groups ?? [] {
            if group.groups?.isEmpty == false {
                throw SunSpecDefinitionError(file: file, problem: "group \(group.name) has nested groups; not supported")
            }
            let repeats: Bool
            switch group.count {
            case nil, .fixed(1): repeats = false
            case .fixed(0), .point: repeats = true
            case .fixed(let count):
                throw SunSpecDefinitionError(file: file, problem: "group \(group.name) has count \(count); expected 0, 1 or a point name")
            }
            if repeats {
                guard repeating == nil else { throw SunSpecDefinitionError(file: file, problem: "more than one repeating group") }
                var groupPoints: [SunSpecModelDefinition.Point] = []
                var groupOffset = 0
                try append(group.points ?? [], prefix: "", into: &groupPoints, offset: &groupOffset)
                repeating = .init(name: group.name, points: groupPoints, length: groupOffset)
            } else {
                guard repeating == nil else { throw SunSpecDefinitionError(file: file, problem: "group \(group.name) follows a repeating group") }
                try append(group.points ?? [], prefix: group.name + ".", into: &points, offset: &offset)
            }
        }
        guard points.count >= 2, points[0].name == "ID", points[1].name == "L" else {
            throw SunSpecDefinitionError(file: file, problem: "the first points must be ID and L")
        }
        return SunSpecModelDefinition(id: json.id, name: json.group.name, points: points, fixedLength: offset - 2, repeating: repeating)
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key '\(key.stringValue)' at \(path(context))"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "expected \(type) at \(path(context))"
        case .dataCorrupted(let context):
            return "invalid JSON at \(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    static func path(_ context: DecodingError.Context) -> String {
        let text = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return text.isEmpty ? "the top level" : String(text.drop { $0 == "." })
    }
}
