import ConfigReading

/// Reads device profiles from YAML text. Errors are `ConfigError`s, exactly like the agent
/// configuration: file, line and column, key path, and what was expected.
public enum ProfileParser {
    static let topKeys = ["name", "manufacturer", "source", "default_unit_id", "options", "defaults", "points", "sunspec"]
    static let optionKeys = ["max_registers_per_read", "max_gap", "rejects_reads_over_holes", "connect_delay", "request_delay",
                             "single_client", "minimum_timeout"]
    static let defaultKeys = ["table", "type", "byte_order", "word_order", "cadence"]
    static let pointKeys = ["name", "table", "address", "type", "length", "byte_order", "word_order", "scale", "scale_factor",
                            "offset", "invert", "unit", "not_implemented", "cadence", "canonical", "accumulator", "writable", "sum"]

    /// Parses one profile; `id` is the file name without `.yaml`, `file` names it in errors.
    public static func parse(_ text: String, file: String, id: String) throws(ConfigError) -> DeviceProfile {
        let document = try ConfigDocument.parse(text, file: file)
        let root = try document.root.mapping(keys: topKeys)
        var options = ProfileOptions()
        if let node = root.optional("options") {
            let map = try node.mapping(keys: optionKeys)
            options.maxRegistersPerRead = try map.value("max_registers_per_read", default: 125) { node throws(ConfigError) in try node.int(in: 1...125) }
            options.maxGap = try map.value("max_gap", default: 16) { node throws(ConfigError) in try node.int(in: 0...124) }
            options.rejectsReadsOverHoles = try map.value("rejects_reads_over_holes", default: false) { node throws(ConfigError) in try node.bool() }
            options.connectDelay = try map.value("connect_delay", default: .zero) { node throws(ConfigError) in try node.duration(in: .zero...(.seconds(60))) }
            options.requestDelay = try map.value("request_delay", default: .zero) { node throws(ConfigError) in try node.duration(in: .zero...(.seconds(5))) }
            options.singleClient = try map.value("single_client", default: false) { node throws(ConfigError) in try node.bool() }
            options.minimumTimeout = try map.value("minimum_timeout", default: .zero) { node throws(ConfigError) in try node.duration(in: .zero...(.seconds(30))) }
        }
        let defaults = try PointDefaults.read(root.optional("defaults"))
        let sunspec = try root.optional("sunspec").map { node throws(ConfigError) in try readSunSpec(node) }

        var points: [PointDefinition] = []
        var pointNodes: [ConfigNode] = []
        if let pointsNode = root.optional("points") {
            for node in try pointsNode.sequence() {
                points.append(try readPoint(node, defaults: defaults))
                pointNodes.append(node)
            }
        }
        if points.isEmpty && sunspec == nil {
            throw ConfigError(.missingKey, file: file, keyPath: "points", line: document.root.line, column: document.root.column,
                              problem: "missing; expected a list of points (or a sunspec section for SunSpec discovery)")
        }
        try validate(points, nodes: pointNodes)
        return DeviceProfile(
            id: id,
            name: try root.value("name", expecting: "the device family's name") { node throws(ConfigError) in try node.string() },
            manufacturer: try root.value("manufacturer", default: "") { node throws(ConfigError) in try node.string() },
            source: try root.value("source", default: "") { node throws(ConfigError) in try node.string() },
            defaultUnitID: try root.optional("default_unit_id").map { node throws(ConfigError) in try node.int(in: 0...255) },
            options: options, points: points, sunspec: sunspec)
    }

    struct PointDefaults {
        var table: RegisterTable?
        var type: PointDataType?
        var byteOrder: ByteOrder = .big
        var wordOrder: WordOrder = .big
        var cadence: PointCadence = .fast

        static func read(_ node: ConfigNode?) throws(ConfigError) -> PointDefaults {
            var defaults = PointDefaults()
            guard let node else { return defaults }
            let map = try node.mapping(keys: defaultKeys)
            defaults.table = try map.optional("table").map { node throws(ConfigError) in try node.choice(RegisterTable.self) }
            defaults.type = try map.optional("type").map { node throws(ConfigError) in try node.choice(PointDataType.self) }
            defaults.byteOrder = try map.value("byte_order", default: .big) { node throws(ConfigError) in try node.choice(ByteOrder.self) }
            defaults.wordOrder = try map.value("word_order", default: .big) { node throws(ConfigError) in try node.choice(WordOrder.self) }
            defaults.cadence = try map.value("cadence", default: .fast) { node throws(ConfigError) in try node.choice(PointCadence.self) }
            return defaults
        }
    }

    static func readPoint(_ node: ConfigNode, defaults: PointDefaults) throws(ConfigError) -> PointDefinition {
        let map = try node.mapping(keys: pointKeys)
        let name = try map.value("name", expecting: "the point's name") { node throws(ConfigError) in try pointName(node) }
        if let sumNode = map.optional("sum") {
            return try readComputedPoint(map, name: name, sumNode: sumNode, defaults: defaults)
        }
        let table: RegisterTable
        if let tableNode = map.optional("table") {
            table = try tableNode.choice(RegisterTable.self)
        } else if let defaultTable = defaults.table {
            table = defaultTable
        } else {
            _ = try map.required("table", expecting: "the register table: " + RegisterTable.allCases.map(\.rawValue).joined(separator: ", ") + " (or set defaults.table)")
            table = .holding
        }
        let type: PointDataType
        if let typeNode = map.optional("type") {
            type = try typeNode.choice(PointDataType.self)
        } else if table.isBit {
            type = .boolean
        } else if let defaultType = defaults.type {
            type = defaultType
        } else {
            _ = try map.required("type", expecting: "the data type: " + PointDataType.allCases.map(\.rawValue).joined(separator: ", ") + " (or set defaults.type)")
            type = .uint16
        }
        if table.isBit != (type == .boolean) {
            let typeNode = map.optional("type") ?? map.optional("table") ?? node
            throw typeNode.error(.inconsistent, table.isBit
                ? "a \(table.rawValue) holds one bit; expected type boolean, found \(type.rawValue)"
                : "type boolean is only for coils and discrete inputs, but the point is in the \(table.rawValue) table")
        }
        var registerCount = type.registerCount(stringLength: 0)
        if type == .string {
            registerCount = try map.value("length", expecting: "the string's length in registers (two characters each)") { node throws(ConfigError) in
                try node.int(in: 1...125)
            }
        } else if let lengthNode = map.optional("length") {
            throw lengthNode.error(.inconsistent, "length applies only to type string; \(type.rawValue) occupies \(registerCount) register\(registerCount == 1 ? "" : "s")")
        }
        let addressNode = try map.required("address", expecting: "the 0-based register address (protocol address, as on the wire)")
        let address = try addressNode.int(in: 0...65535)
        if address + registerCount > 65536 {
            throw addressNode.error(.outOfRange, "\(type.rawValue) at \(address) would end past register 65535")
        }
        let notImplemented = try map.value("not_implemented", default: []) { node throws(ConfigError) in
            try node.sequence().map { node throws(ConfigError) in try sentinel(node, type: type) }
        }
        if !notImplemented.isEmpty && type == .string {
            throw map.optional("not_implemented")!.error(.inconsistent, "strings are missing when their first byte is NUL; not_implemented does not apply")
        }
        let writable = try map.value("writable", default: false) { node throws(ConfigError) in try node.bool() }
        if writable && (table == .input || table == .discreteInput) {
            throw map.optional("writable")!.error(.inconsistent, "\(table.rawValue) is a read-only table; only holding registers and coils can be written")
        }
        let canonical = try map.optional("canonical").map { node throws(ConfigError) in try node.choice(CanonicalQuantity.self) }
        let unit = try map.optional("unit").map { node throws(ConfigError) in try node.string() }
        if let canonical, unit != canonical.unit {
            let node = map.optional("unit") ?? map.optional("canonical")!
            throw node.error(.inconsistent, "canonical \(canonical.rawValue) must be delivered in \(canonical.unit) (use scale to convert); found \(unit.map { "'\($0)'" } ?? "no unit")")
        }
        return PointDefinition(
            name: name, table: table, address: address, type: type, registerCount: registerCount,
            byteOrder: try map.value("byte_order", default: defaults.byteOrder) { node throws(ConfigError) in try node.choice(ByteOrder.self) },
            wordOrder: try map.value("word_order", default: defaults.wordOrder) { node throws(ConfigError) in try node.choice(WordOrder.self) },
            scale: try map.value("scale", default: 1) { node throws(ConfigError) in
                let scale = try node.double()
                guard scale != 0 else { throw node.error(.invalidValue, "scale must not be 0") }
                return scale
            },
            scaleFactorPoint: try map.optional("scale_factor").map { node throws(ConfigError) in try pointName(node) },
            offset: try map.value("offset", default: 0) { node throws(ConfigError) in try node.double() },
            invert: try map.value("invert", default: false) { node throws(ConfigError) in try node.bool() },
            unit: unit,
            notImplemented: notImplemented,
            cadence: try map.value("cadence", default: defaults.cadence) { node throws(ConfigError) in try node.choice(PointCadence.self) },
            canonical: canonical,
            accumulator: try map.value("accumulator", default: false) { node throws(ConfigError) in try node.bool() },
            writable: writable)
    }

    /// `{ name: grid_power, sum: [l1, l2, l3], unit: W, canonical: grid_power }`: no registers of its own.
    static func readComputedPoint(_ map: ConfigMapping, name: String, sumNode: ConfigNode, defaults: PointDefaults) throws(ConfigError) -> PointDefinition {
        for key in ["table", "address", "type", "length", "byte_order", "word_order", "scale", "scale_factor", "offset",
                    "not_implemented", "accumulator", "writable"] {
            if let stray = map.optional(key) {
                throw stray.error(.inconsistent, "'\(key)' does not apply to a computed point (one with sum)")
            }
        }
        let terms = try sumNode.sequence().map { node throws(ConfigError) in try pointName(node) }
        guard terms.count >= 2 else { throw sumNode.error(.invalidValue, "expected a list of at least two point names to add up") }
        let canonical = try map.optional("canonical").map { node throws(ConfigError) in try node.choice(CanonicalQuantity.self) }
        let unit = try map.optional("unit").map { node throws(ConfigError) in try node.string() }
        if let canonical, unit != canonical.unit {
            let node = map.optional("unit") ?? map.optional("canonical")!
            throw node.error(.inconsistent, "canonical \(canonical.rawValue) must be delivered in \(canonical.unit) (use scale to convert); found \(unit.map { "'\($0)'" } ?? "no unit")")
        }
        return PointDefinition(
            name: name, table: .holding, address: 0, type: .float64, registerCount: 0,
            invert: try map.value("invert", default: false) { node throws(ConfigError) in try node.bool() },
            unit: unit,
            cadence: try map.value("cadence", default: defaults.cadence) { node throws(ConfigError) in try node.choice(PointCadence.self) },
            canonical: canonical, sumOf: terms)
    }

    static func pointName(_ node: ConfigNode) throws(ConfigError) -> String {
        let text = try node.string()
        let valid = text.utf8.count <= 64 && text.utf8.allSatisfy { byte in
            (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
        guard valid else {
            throw node.error(.invalidValue, "'\(text)' is not a valid point name; expected letters, digits, '_' and '.' (at most 64 characters)")
        }
        return text
    }

    /// A sentinel as written (`0x8000`, `-32768`, `nan`), as the raw bit pattern of `type`.
    static func sentinel(_ node: ConfigNode, type: PointDataType) throws(ConfigError) -> UInt64 {
        let bitCount = 16 * type.registerCount(stringLength: 1)
        // 64-bit patterns such as 0xFFFFFFFFFFFFFFFF do not fit Int: read them as unsigned.
        let written = try node.string()
        if written.hasPrefix("0x") || written.hasPrefix("0X"), let pattern = UInt64(written.dropFirst(2).filter { $0 != "_" }, radix: 16) {
            guard bitCount == 64 || pattern < (1 << UInt64(bitCount)) else {
                throw node.error(.outOfRange, "\(pattern) does not fit the \(bitCount) bits of \(type.rawValue)")
            }
            return pattern
        }
        let value = try node.int()
        if value < 0 {
            guard type.isSigned, value >= -(1 << (bitCount - 1)) || bitCount == 64 else {
                throw node.error(.outOfRange, "\(value) does not fit \(type.rawValue); write the raw register pattern, for example 0x8000")
            }
            return bitCount == 64 ? UInt64(bitPattern: Int64(value)) : UInt64(bitPattern: Int64(value)) & ((1 << UInt64(bitCount)) - 1)
        }
        guard bitCount == 64 || value < (1 << bitCount) else {
            throw node.error(.outOfRange, "\(value) does not fit the \(bitCount) bits of \(type.rawValue)")
        }
        return UInt64(value)
    }

    /// Checks that need all points: unique names, scale-factor references, one point per canonical quantity.
    static func validate(_ points: [PointDefinition], nodes: [ConfigNode]) throws(ConfigError) {
        var seen: [String: Int] = [:]
        var canonical: [CanonicalQuantity: Int] = [:]
        for (index, point) in points.enumerated() {
            let map = try nodes[index].mapping(keys: pointKeys)
            if let first = seen[point.name] {
                throw try map.required("name", expecting: "").error(.duplicateIdentifier, "point '\(point.name)' is defined twice (first at line \(nodes[first].line ?? 0)); names must be unique")
            }
            seen[point.name] = index
            if let quantity = point.canonical {
                if let first = canonical[quantity] {
                    throw try map.required("canonical", expecting: "").error(.duplicateIdentifier, "\(quantity.rawValue) is already delivered by point '\(points[first].name)'")
                }
                canonical[quantity] = index
            }
        }
        for (index, point) in points.enumerated() where point.isComputed {
            let sumNode = try nodes[index].mapping(keys: pointKeys).required("sum", expecting: "")
            for (termIndex, term) in point.sumOf.enumerated() {
                guard let target = points.firstIndex(where: { $0.name == term }), !points[target].isComputed, points[target].type != .string else {
                    throw try sumNode.sequence()[termIndex].error(.unknownReference, "no numeric point named '\(term)' to add; expected names of register points of this profile")
                }
                if points[target].cadence != point.cadence {
                    throw try sumNode.sequence()[termIndex].error(.inconsistent, "'\(term)' is read \(points[target].cadence.rawValue), the sum \(point.cadence.rawValue); terms must share the sum's cadence")
                }
            }
        }
        for (index, point) in points.enumerated() {
            guard let reference = point.scaleFactorPoint else { continue }
            let node = try nodes[index].mapping(keys: pointKeys).required("scale_factor", expecting: "")
            guard let target = points.firstIndex(where: { $0.name == reference }) else {
                throw node.error(.unknownReference, "no point named '\(reference)'; expected the name of an int16 scale-factor point of this profile")
            }
            let factor = points[target]
            guard factor.type == .int16 || factor.type == .uint16, factor.scaleFactorPoint == nil, factor.table == point.table || !factor.table.isBit else {
                throw node.error(.inconsistent, "'\(reference)' cannot be a scale factor: expected an unscaled int16 point, found \(factor.type.rawValue)")
            }
        }
    }

    static func readSunSpec(_ node: ConfigNode) throws(ConfigError) -> SunSpecProfileMapping {
        let map = try node.mapping(keys: ["canonical", "static_models", "slow_models"])
        var canonical: [CanonicalQuantity: [SunSpecProfileMapping.Candidate]] = [:]
        if let canonicalNode = map.optional("canonical") {
            let quantities = try canonicalNode.mapping(keys: CanonicalQuantity.allCases.map(\.rawValue))
            for (key, listNode) in quantities.entries {
                let quantity = CanonicalQuantity(rawValue: key)!
                canonical[quantity] = try listNode.sequence().map { node throws(ConfigError) in try selector(node) }
            }
        }
        let models = { (node: ConfigNode) throws(ConfigError) -> Set<Int> in
            Set(try node.sequence().map { node throws(ConfigError) in try node.int(in: 1...65534) })
        }
        return SunSpecProfileMapping(
            canonical: canonical,
            staticModels: try map.value("static_models", default: []) { node throws(ConfigError) in try models(node) },
            slowModels: try map.value("slow_models", default: []) { node throws(ConfigError) in try models(node) })
    }

    /// `"203:W"` or `"-802:W"` (a leading minus inverts the sign).
    static func selector(_ node: ConfigNode) throws(ConfigError) -> SunSpecProfileMapping.Candidate {
        let written = try node.string()
        var text = Substring(written)
        let invert = text.hasPrefix("-")
        if invert { text = text.dropFirst() }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let model = Int(parts[0]), (1...65534).contains(model), !parts[1].isEmpty else {
            throw node.error(.invalidValue, "'\(written)' is not a SunSpec selector; expected MODEL:POINT such as 203:W, with a leading - to invert the sign")
        }
        return SunSpecProfileMapping.Candidate(model: model, point: String(parts[1]), invert: invert)
    }
}
