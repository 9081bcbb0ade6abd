/// A model found on a device by SunSpec discovery.
public struct DiscoveredModel: Sendable, Hashable, CustomStringConvertible {
    public var id: Int
    /// Address of the model's `ID` register.
    public var address: Int
    /// The model length `L` as the device reports it (excluding `ID` and `L`).
    public var length: Int

    public init(id: Int, address: Int, length: Int) {
        self.id = id
        self.address = address
        self.length = length
    }

    public var description: String { "model \(id) at \(address) (L=\(length))" }
}

/// Turns the models found on a device into an ordinary ``DeviceProfile`` (one point per
/// SunSpec point, named `103.W` or `160.module[0].DCW`), so that SunSpec devices share the
/// planner and decoder with every other profile.
public enum SunSpecProfileBuilder {
    /// How a SunSpec type is stored, and its "not implemented" pattern (sunspec2 `mb.py`).
    public struct TypeMapping: Sendable, Hashable {
        public var type: PointDataType
        public var notImplemented: [UInt64]
        public var accumulator: Bool
    }

    public static func mapping(forSunSpecType type: String) -> TypeMapping? {
        switch type {
        case "int16": TypeMapping(type: .int16, notImplemented: [0x8000], accumulator: false)
        case "sunssf": TypeMapping(type: .int16, notImplemented: [0x8000], accumulator: false)
        case "uint16", "enum16", "count": TypeMapping(type: .uint16, notImplemented: [0xFFFF], accumulator: false)
        case "bitfield16": TypeMapping(type: .bitfield16, notImplemented: [0xFFFF], accumulator: false)
        case "acc16": TypeMapping(type: .uint16, notImplemented: [0], accumulator: true)
        case "int32": TypeMapping(type: .int32, notImplemented: [0x8000_0000], accumulator: false)
        case "uint32", "enum32": TypeMapping(type: .uint32, notImplemented: [0xFFFF_FFFF], accumulator: false)
        case "bitfield32": TypeMapping(type: .bitfield32, notImplemented: [0xFFFF_FFFF], accumulator: false)
        case "acc32": TypeMapping(type: .uint32, notImplemented: [0], accumulator: true)
        case "ipaddr": TypeMapping(type: .uint32, notImplemented: [0], accumulator: false)
        case "int64": TypeMapping(type: .int64, notImplemented: [0x8000_0000_0000_0000], accumulator: false)
        case "uint64": TypeMapping(type: .uint64, notImplemented: [0xFFFF_FFFF_FFFF_FFFF], accumulator: false)
        case "acc64": TypeMapping(type: .uint64, notImplemented: [0], accumulator: true)
        case "eui48": TypeMapping(type: .uint64, notImplemented: [0x0000_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF], accumulator: false)
        case "float32": TypeMapping(type: .float32, notImplemented: [], accumulator: false)
        case "float64": TypeMapping(type: .float64, notImplemented: [], accumulator: false)
        case "string", "ipv6addr": TypeMapping(type: .string, notImplemented: [], accumulator: false)
        default: nil // pad and unknown types carry no value
        }
    }

    /// The profile for a device with these models. Models without a definition are skipped
    /// (listed by `hubmeter scan`, not decoded).
    public static func profile(id: String, name: String, models: [DiscoveredModel], library: SunSpecModelLibrary,
                               mapping: SunSpecProfileMapping, options: ProfileOptions = ProfileOptions()) -> DeviceProfile {
        var points: [PointDefinition] = []
        var instances: [Int: Int] = [:]
        var prefixes: [(model: Int, prefix: String)] = []
        for model in models {
            guard let definition = library[model.id] else { continue }
            let instance = instances[model.id, default: 0] + 1
            instances[model.id] = instance
            let prefix = instance == 1 ? "\(model.id)." : "\(model.id)#\(instance)."
            prefixes.append((model.id, prefix))
            let cadence: PointCadence = mapping.staticModels.contains(model.id) ? .static
                : mapping.slowModels.contains(model.id) ? .slow : .fast
            let names = Set(definition.points.map(\.name))
            // Older devices report a shorter model (model 1 with L=65 has no Pad): skip what is not there.
            let end = model.length + 2
            for point in definition.points.dropFirst(2) where point.offset + point.size <= end {
                let group = point.name.split(separator: ".").dropLast().joined(separator: ".")
                let factor = point.scaleFactor.map { name in
                    !group.isEmpty && names.contains(group + "." + name) ? prefix + group + "." + name : prefix + name
                }
                if let built = makePoint(point, name: prefix + point.name, address: model.address + point.offset, factor: factor, cadence: cadence) {
                    points.append(built)
                }
            }
            if let repeating = definition.repeating {
                let groupNames = Set(repeating.points.map(\.name))
                for repetition in 0..<definition.repetitions(forLength: model.length) {
                    let base = model.address + 2 + definition.fixedLength + repetition * repeating.length
                    let groupPrefix = "\(prefix)\(repeating.name)[\(repetition)]."
                    for point in repeating.points {
                        let factor = point.scaleFactor.map { groupNames.contains($0) ? groupPrefix + $0 : prefix + $0 }
                        if let built = makePoint(point, name: groupPrefix + point.name, address: base + point.offset, factor: factor, cadence: cadence) {
                            points.append(built)
                        }
                    }
                }
            }
        }
        // Canonical quantities: the first candidate whose model is present wins.
        for quantity in CanonicalQuantity.allCases {
            for candidate in mapping.canonical[quantity] ?? [] {
                guard let prefix = prefixes.first(where: { $0.model == candidate.model })?.prefix,
                      let index = points.firstIndex(where: { $0.name == prefix + candidate.point }) else { continue }
                points[index].canonical = quantity
                points[index].invert = candidate.invert
                points[index].unit = quantity.unit
                break
            }
        }
        // A scale factor that points nowhere (a vendor model shorter than its definition) leaves the point unusable.
        let allNames = Set(points.map(\.name))
        for index in points.indices where points[index].scaleFactorPoint.map({ !allNames.contains($0) }) == true {
            points[index].scaleFactorPoint = "\(points[index].name).missing_SF"
        }
        return DeviceProfile(id: id, name: name, manufacturer: "SunSpec", source: "SunSpec discovery", options: options, points: points)
    }

    static func makePoint(_ point: SunSpecModelDefinition.Point, name: String, address: Int, factor: String?, cadence: PointCadence) -> PointDefinition? {
        guard let mapping = mapping(forSunSpecType: point.type) else { return nil }
        // Text (module ids, names) is nameplate data: read after connect, not every cycle, so
        // that the cycle's decoding builds no strings.
        let cadence = mapping.type == .string ? .static : cadence
        var scale = 1.0
        if let constant = point.constantScaleFactor {
            scale = constant < 0 ? 1 / ProfileDecoder.powerOfTen(-constant) : ProfileDecoder.powerOfTen(constant)
        }
        return PointDefinition(
            name: name, table: .holding, address: address, type: mapping.type,
            registerCount: mapping.type == .string ? point.size : nil,
            scale: scale, scaleFactorPoint: factor, unit: point.units, notImplemented: mapping.notImplemented,
            cadence: cadence, accumulator: mapping.accumulator, writable: point.writable)
    }
}
