import DeviceProfiles
import Foundation

/// A SunSpec device's holding registers, built from the same published model definitions the
/// acquisition decodes with, and written by point name (`103.W`, `160.module[1].DCW`) in
/// physical units: scale factors, types and "not implemented" patterns come from the definition.
struct SunSpecImage: Sendable {
    struct Slot: Sendable {
        var offset: Int
        var size: Int
        var type: PointDataType
        var accumulator: Bool
        var sentinel: UInt64?
        var scaleFactor: String?
        var constantScaleFactor: Int?
        var isScaleFactor = false
    }

    let base: Int
    private(set) var registers: [UInt16]
    private var slots: [String: Slot] = [:]
    /// Where each model starts (its ID register), by model id.
    private(set) var modelOffsets: [Int: Int] = [:]

    /// "SunS", then each model (ID, L, points set to "not implemented", scale factors 0), then the end marker.
    init(base: Int = 40000, models: [(id: Int, repetitions: Int)], library: SunSpecModelLibrary) throws(SimulatorError) {
        self.base = base
        var registers: [UInt16] = [0x5375, 0x6E53]
        for (id, repetitions) in models {
            guard let definition = library[id] else {
                throw SimulatorError(.missingModel, "SunSpec model \(id) has no definition in the data directory (sunspec/models/model_\(id).json)")
            }
            let length = definition.fixedLength + repetitions * (definition.repeating?.length ?? 0)
            let start = registers.count
            modelOffsets[id] = start
            registers += [UInt16(id), UInt16(length)]
            registers += [UInt16](repeating: 0, count: length)
            let names = Set(definition.points.map(\.name))
            for point in definition.points.dropFirst(2) {
                let group = point.name.split(separator: ".").dropLast().joined(separator: ".")
                let factor = point.scaleFactor.map { name in
                    !group.isEmpty && names.contains(group + "." + name) ? "\(id).\(group).\(name)" : "\(id).\(name)"
                }
                slots["\(id).\(point.name)"] = Self.slot(point, offset: start + point.offset, factor: factor)
            }
            if let repeating = definition.repeating {
                let groupNames = Set(repeating.points.map(\.name))
                for repetition in 0..<repetitions {
                    let groupStart = start + 2 + definition.fixedLength + repetition * repeating.length
                    let prefix = "\(id).\(repeating.name)[\(repetition)]."
                    for point in repeating.points {
                        let factor = point.scaleFactor.map { groupNames.contains($0) ? prefix + $0 : "\(id).\($0)" }
                        slots[prefix + point.name] = Self.slot(point, offset: groupStart + point.offset, factor: factor)
                    }
                }
            }
        }
        registers += [0xFFFF, 0]
        self.registers = registers
        // Every point starts "not implemented"; scale factors start at 0 (×1).
        for slot in slots.values where !slot.isScaleFactor {
            if let sentinel = slot.sentinel { write(bits: sentinel, slot: slot) }
        }
    }

    static func slot(_ point: SunSpecModelDefinition.Point, offset: Int, factor: String?) -> Slot {
        guard let mapping = SunSpecProfileBuilder.mapping(forSunSpecType: point.type) else {
            // pad: always "implemented", left at 0x8000 as SunSpec writes it
            return Slot(offset: offset, size: point.size, type: .string, accumulator: false, sentinel: nil, scaleFactor: nil)
        }
        let sentinel: UInt64? = mapping.type == .string ? nil
            : mapping.type == .float32 ? UInt64(Float.nan.bitPattern)
            : mapping.type == .float64 ? Double.nan.bitPattern
            : mapping.notImplemented.last ?? 0
        return Slot(offset: offset, size: point.size, type: mapping.type, accumulator: mapping.accumulator, sentinel: sentinel,
                    scaleFactor: factor, constantScaleFactor: point.constantScaleFactor, isScaleFactor: point.type == "sunssf")
    }

    func has(_ name: String) -> Bool { slots[name] != nil }

    /// Address of a point's first register.
    func address(_ name: String) -> Int? { slots[name].map { base + $0.offset } }

    func registerRange(_ name: String) -> Range<Int>? { slots[name].map { (base + $0.offset)..<(base + $0.offset + $0.size) } }

    /// The exponent that applies to a point (its scale-factor point's value, or the constant).
    func exponent(_ name: String) -> Int {
        guard let slot = slots[name] else { return 0 }
        if let constant = slot.constantScaleFactor { return constant }
        guard let factor = slot.scaleFactor, let factorSlot = slots[factor] else { return 0 }
        return Int(Int16(bitPattern: registers[factorSlot.offset]))
    }

    /// Sets a scale factor (an exponent of ten).
    mutating func setScaleFactor(_ name: String, _ exponent: Int) {
        guard let slot = slots[name] else { preconditionFailure("no SunSpec point \(name)") }
        registers[slot.offset] = UInt16(bitPattern: Int16(exponent))
    }

    /// Writes a physical value (nil: "not implemented"). Values that do not fit become "not implemented".
    mutating func set(_ name: String, _ value: Double?) {
        guard let slot = slots[name] else { preconditionFailure("no SunSpec point \(name)") }
        guard let value, value.isFinite else {
            write(bits: slot.sentinel ?? 0, slot: slot)
            return
        }
        var raw = slot.type.isFloatingPoint ? value : (value / pow(10, Double(exponent(name)))).rounded()
        if slot.accumulator {
            let modulus = pow(2, Double(16 * slot.size))
            raw = raw.truncatingRemainder(dividingBy: modulus)
            if raw < 0 { raw += modulus }
        }
        guard let words = RegisterCodec.encode(raw, type: slot.type, byteOrder: .big, wordOrder: .big) else {
            write(bits: slot.sentinel ?? 0, slot: slot)
            return
        }
        for (index, word) in words.enumerated() { registers[slot.offset + index] = word }
    }

    mutating func setText(_ name: String, _ text: String) {
        guard let slot = slots[name], let words = RegisterCodec.encode(text: String(text.prefix(slot.size * 2)), registerCount: slot.size, byteOrder: .big) else {
            preconditionFailure("no SunSpec text point \(name)")
        }
        for (index, word) in words.enumerated() { registers[slot.offset + index] = word }
    }

    /// The physical value of a point in the image (nil when "not implemented").
    func value(_ name: String) -> Double? {
        guard let slot = slots[name], slot.type != .string else { return nil }
        let bits = registers.withUnsafeBufferPointer {
            RegisterCodec.bits($0, at: slot.offset, registerCount: slot.size, byteOrder: .big, wordOrder: .big)
        }
        if let sentinel = slot.sentinel, bits == sentinel, !slot.type.isFloatingPoint { return nil }
        let number = RegisterCodec.number(bits: bits, type: slot.type)
        guard number.isFinite else { return nil }
        return slot.type.isFloatingPoint ? number : number * pow(10, Double(exponent(name)))
    }

    /// Replaces registers (for example with what a client wrote), by absolute address.
    mutating func overwrite(address: Int, _ words: ArraySlice<UInt16>) {
        for (index, word) in words.enumerated() { registers[address - base + index] = word }
    }

    private mutating func write(bits: UInt64, slot: Slot) {
        for index in 0..<slot.size {
            registers[slot.offset + index] = UInt16(truncatingIfNeeded: bits >> UInt64(16 * (slot.size - 1 - index)))
        }
    }
}

/// The smallest exponent (≥ `minimum`) at which `maximum` fits a 16-bit register.
func scaleExponent(forMaximum maximum: Double, signed: Bool = true, minimum: Int = -2) -> Int {
    let limit = signed ? 32_000.0 : 65_000.0
    var exponent = minimum
    while abs(maximum) / pow(10, Double(exponent)) > limit && exponent < 10 { exponent += 1 }
    return exponent
}
