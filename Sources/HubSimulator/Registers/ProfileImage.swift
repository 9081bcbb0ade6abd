import DeviceProfiles
import Foundation

/// Registers of a device described by a YAML profile (Config/profiles), written by point name in
/// physical units: the profile's scale, offset, sign, type and byte/word order are applied in
/// reverse, so the acquisition decodes exactly what was written (within register resolution).
struct ProfileImage: Sendable {
    let profile: DeviceProfile
    /// Per table: the first address and the registers from there.
    private(set) var tables: [RegisterTable: (start: Int, registers: [UInt16])] = [:]

    /// An image without tables (a stand-in while the real one is being changed).
    init(emptyFor profile: DeviceProfile) {
        self.profile = profile
    }

    init(profile: DeviceProfile) {
        self.profile = profile
        for table in [RegisterTable.holding, .input] {
            let points = profile.points.filter { $0.table == table && !$0.isComputed }
            guard let low = points.map(\.address).min(), let high = points.map({ $0.address + $0.registerCount }).max() else { continue }
            tables[table] = (low, [UInt16](repeating: 0, count: high - low))
        }
    }

    func range(_ table: RegisterTable) -> Range<Int> {
        guard let entry = tables[table] else { return 0..<0 }
        return entry.start..<(entry.start + entry.registers.count)
    }

    /// Writes a physical value into a point (nil writes NaN for floats, the first "not implemented" pattern otherwise).
    mutating func set(_ name: String, _ value: Double?) {
        guard let index = profile.pointIndex(named: name) else { preconditionFailure("profile \(profile.id) has no point \(name)") }
        set(point: index, value)
    }

    /// The same by the point's index in the profile (refreshing 200 meters ten times a second
    /// should not search 200 × 13 names each time).
    mutating func set(point index: Int, _ value: Double?) {
        let point = profile.points[index]
        precondition(point.scaleFactorPoint == nil, "profile scale-factor points are not simulated")
        var words: [UInt16]?
        if let value, value.isFinite {
            let raw = ((point.invert ? -value : value) - point.offset) / point.scale
            words = RegisterCodec.encode(raw, type: point.type, byteOrder: point.byteOrder, wordOrder: point.wordOrder)
        }
        if words == nil {
            words = point.type.isFloatingPoint
                ? RegisterCodec.encode(.nan, type: point.type, byteOrder: point.byteOrder, wordOrder: point.wordOrder)
                : Self.words(bits: point.notImplemented.first ?? 0, count: point.registerCount, point: point)
        }
        guard let words, let start = tables[point.table]?.start else { return }
        // In place: the table's array is not copied for each point.
        for (offset, word) in words.enumerated() { tables[point.table]!.registers[point.address - start + offset] = word }
    }

    static func words(bits: UInt64, count: Int, point: PointDefinition) -> [UInt16] {
        var words = (0..<count).map { UInt16(truncatingIfNeeded: bits >> UInt64(16 * (count - 1 - $0))) }
        if point.byteOrder == .little { words = words.map(\.byteSwapped) }
        if point.wordOrder == .little { words.reverse() }
        return words
    }
}
