/// A decoded point value as a number, with why it may be absent.
public struct DecodedValue: Sendable, Hashable {
    public enum Status: UInt8, Sendable, Hashable {
        /// Not read yet in this connection (or its read failed).
        case notRead
        case good
        /// The device sent its "not implemented" pattern (or NaN): missing, never zero.
        case notImplemented
        /// The point's scale factor is missing, so the point is unusable.
        case scaleFactorMissing
    }

    public var value: Double
    public var status: Status

    public static let notRead = DecodedValue(value: .nan, status: .notRead)

    /// The value if it is usable.
    public var number: Double? { status == .good ? value : nil }
}

/// Turns register images into values for one device, in place: one slot per profile point,
/// preallocated, so that steady-state decoding allocates nothing (strings excepted; they are
/// static nameplate points, decoded once per connect).
public struct ProfileDecoder: Sendable {
    public let profile: DeviceProfile
    /// One slot per profile point, indexed like `profile.points`.
    public private(set) var values: [DecodedValue]
    /// Decoded text of string points (nil for other points).
    public private(set) var texts: [String?]
    /// The register image of the last read cycle, `imageSize` of the largest plan.
    public private(set) var image: [UInt16]
    private let scaleFactorSlot: [Int]
    /// For computed points, the slots of their terms.
    private let sumTerms: [[Int]]
    private var accumulators: [AccumulatorState]

    struct AccumulatorState: Sendable {
        var lastRaw: UInt64 = 0
        var hasLast = false
        var wraps: UInt64 = 0
    }

    public init(profile: DeviceProfile, imageCapacity: Int) {
        self.profile = profile
        values = Array(repeating: .notRead, count: profile.points.count)
        texts = Array(repeating: nil, count: profile.points.count)
        image = Array(repeating: 0, count: max(imageCapacity, 1))
        scaleFactorSlot = profile.points.map { point in
            // -2: the point names a scale factor the profile lacks, so it can never be decoded.
            point.scaleFactorPoint.map { profile.pointIndex(named: $0) ?? -2 } ?? -1
        }
        accumulators = Array(repeating: AccumulatorState(), count: profile.points.count)
        sumTerms = profile.points.map { point in point.sumOf.compactMap { profile.pointIndex(named: $0) } }
    }

    /// Copies one request's registers into the image (`registers` must hold the request's count).
    public mutating func store(_ registers: UnsafeBufferPointer<UInt16>, request: Int, of plan: ReadPlan) {
        let start = plan.imageOffsets[request]
        let count = min(plan.requests[request].count, registers.count)
        image.withUnsafeMutableBufferPointer { destination in
            for index in 0..<count { destination[start + index] = registers[index] }
        }
    }

    public mutating func store(_ registers: [UInt16], request: Int, of plan: ReadPlan) {
        registers.withUnsafeBufferPointer { store($0, request: request, of: plan) }
    }

    public mutating func store(_ registers: ArraySlice<UInt16>, request: Int, of plan: ReadPlan) {
        registers.withUnsafeBufferPointer { store($0, request: request, of: plan) }
    }

    /// Marks the points of a failed request as not read, so no old value passes for a new one.
    public mutating func invalidate(request: Int, of plan: ReadPlan) {
        for planned in plan.points where planned.request == request {
            values[planned.point] = .notRead
        }
    }

    /// Decodes every point of `plan` whose request succeeded (`succeeded[request]`).
    public mutating func decode(_ plan: ReadPlan, succeeded: [Bool]) {
        // A second reference to the image (no copy: decoding never writes it) keeps the
        // buffer borrowed while the slots are written.
        let image = self.image
        image.withUnsafeBufferPointer { registers in
            for planned in plan.points where succeeded[planned.request] {
                decodePoint(planned.point, at: planned.imageOffset, in: registers)
            }
        }
        for index in plan.computed {
            var total = 0.0
            var status = DecodedValue.Status.good
            for term in sumTerms[index] {
                let value = values[term]
                if value.status != .good {
                    status = value.status == .good ? .good : value.status
                    break
                }
                total += value.value
            }
            let point = profile.points[index]
            values[index] = status == .good ? DecodedValue(value: point.invert ? -total : total, status: .good) : DecodedValue(value: .nan, status: status)
        }
    }

    /// Forgets everything (after a reconnect): static points are read again, counters restart.
    public mutating func reset() {
        for index in values.indices { values[index] = .notRead }
        for index in accumulators.indices { accumulators[index] = AccumulatorState() }
    }

    private mutating func decodePoint(_ index: Int, at offset: Int, in registers: UnsafeBufferPointer<UInt16>) {
        let point = profile.points[index]
        if point.type == .string {
            let text = RegisterCodec.text(registers, at: offset, registerCount: point.registerCount, byteOrder: point.byteOrder)
            texts[index] = text
            values[index] = DecodedValue(value: .nan, status: text == nil ? .notImplemented : .good)
            return
        }
        let bits = RegisterCodec.bits(registers, at: offset, registerCount: point.registerCount,
                                      byteOrder: point.byteOrder, wordOrder: point.wordOrder)
        if point.notImplemented.contains(bits) {
            values[index] = DecodedValue(value: .nan, status: .notImplemented)
            return
        }
        var raw = RegisterCodec.number(bits: bits, type: point.type)
        if raw.isNaN {
            values[index] = DecodedValue(value: .nan, status: .notImplemented)
            return
        }
        if point.accumulator && point.registerCount < 4 {
            raw = extendAccumulator(index, bits: bits, registerCount: point.registerCount)
        }
        var value = raw * point.scale
        let factorSlot = scaleFactorSlot[index]
        if factorSlot != -1 {
            guard factorSlot >= 0, let factor = values[factorSlot].number, (-20...20).contains(factor) else {
                values[index] = DecodedValue(value: .nan, status: .scaleFactorMissing)
                return
            }
            // Divide for negative exponents: 10^-n is inexact, 10^n is exact up to 10^22.
            let power = Self.powerOfTen(abs(Int(factor)))
            value = factor < 0 ? value / power : value * power
        }
        value += point.offset
        if point.invert { value = -value }
        values[index] = DecodedValue(value: value, status: .good)
    }

    /// Carries a counter across its wrap at 2^(16 × registers): a drop of more than half the
    /// range is a rollover; a smaller drop is a meter reset and is taken as read.
    private mutating func extendAccumulator(_ index: Int, bits: UInt64, registerCount: Int) -> Double {
        let modulus: UInt64 = 1 << UInt64(16 * registerCount)
        var state = accumulators[index]
        if state.hasLast && bits < state.lastRaw && state.lastRaw - bits > modulus / 2 {
            state.wraps += 1
        }
        state.lastRaw = bits
        state.hasLast = true
        accumulators[index] = state
        return Double(bits) + Double(state.wraps) * Double(modulus)
    }

    @inline(__always)
    static func powerOfTen(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<exponent { result *= 10 }
        return result
    }
}
