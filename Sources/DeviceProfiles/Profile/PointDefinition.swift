/// One value a device offers: where it is, how it is encoded, and how to turn the raw number
/// into a physical value.
///
/// `value = (raw × scale × 10^scaleFactor + offset) × (invert ? −1 : 1)`, where `scaleFactor`
/// is the value of the point named by `scaleFactorPoint` (SunSpec's `*_SF` registers).
public struct PointDefinition: Sendable, Hashable {
    public var name: String
    public var table: RegisterTable
    public var address: Int
    public var type: PointDataType
    /// Registers occupied (the declared length for strings).
    public var registerCount: Int
    public var byteOrder: ByteOrder
    public var wordOrder: WordOrder
    public var scale: Double
    /// Name of a point whose value `v` multiplies this one by 10^v.
    public var scaleFactorPoint: String?
    public var offset: Double
    public var invert: Bool
    public var unit: String?
    /// Raw bit patterns that mean "not implemented": the value becomes missing, never zero.
    /// NaN is always missing for floating-point types.
    public var notImplemented: [UInt64]
    public var cadence: PointCadence
    public var canonical: CanonicalQuantity?
    /// A counter that wraps around at 2^(16 × registers); the decoder carries it across the wrap.
    public var accumulator: Bool
    public var writable: Bool
    /// A computed point: the sum of these points (Victron reports grid power per phase only).
    /// Computed points occupy no registers; the sum is missing if any term is.
    public var sumOf: [String]

    public init(name: String, table: RegisterTable, address: Int, type: PointDataType, registerCount: Int? = nil,
                byteOrder: ByteOrder = .big, wordOrder: WordOrder = .big, scale: Double = 1, scaleFactorPoint: String? = nil,
                offset: Double = 0, invert: Bool = false, unit: String? = nil, notImplemented: [UInt64] = [],
                cadence: PointCadence = .fast, canonical: CanonicalQuantity? = nil, accumulator: Bool = false, writable: Bool = false,
                sumOf: [String] = []) {
        self.name = name
        self.table = table
        self.address = address
        self.type = type
        self.registerCount = registerCount ?? type.registerCount(stringLength: 1)
        self.byteOrder = byteOrder
        self.wordOrder = wordOrder
        self.scale = scale
        self.scaleFactorPoint = scaleFactorPoint
        self.offset = offset
        self.invert = invert
        self.unit = unit
        self.notImplemented = notImplemented
        self.cadence = cadence
        self.canonical = canonical
        self.accumulator = accumulator
        self.writable = writable
        self.sumOf = sumOf
    }

    public var isComputed: Bool { !sumOf.isEmpty }

    /// The registers (or bits) this point occupies.
    public var addresses: Range<Int> { address..<(address + registerCount) }
}

/// Device quirks and request shaping, from the profile (the bus configuration may tighten them).
public struct ProfileOptions: Sendable, Hashable {
    /// At most this many registers per read (1–125).
    public var maxRegistersPerRead: Int = 125
    /// Largest run of unwanted registers a read may span to save a transaction.
    public var maxGap: Int = 16
    /// Some devices answer "illegal data address" when a read touches an unmapped register:
    /// then reads only span registers that belong to points of the profile.
    public var rejectsReadsOverHoles: Bool = false
    /// Wait this long after connecting before the first request (Huawei dongles need about 1 s).
    public var connectDelay: Duration = .zero
    /// Pause before each request to this device (slow RTU meters).
    public var requestDelay: Duration = .zero
    /// The device accepts only one TCP client: never open a second connection to it.
    public var singleClient: Bool = false
    /// Response timeout this device needs at least (Huawei: several seconds).
    public var minimumTimeout: Duration = .zero

    public init() {}
}

/// A device profile: what a family of devices offers, as data (a YAML file under
/// Config/profiles/ or a user directory).
public struct DeviceProfile: Sendable, Hashable {
    /// The file name without `.yaml`; devices refer to profiles by this id.
    public var id: String
    public var name: String
    public var manufacturer: String
    /// Where the register map comes from (vendor document and version), for reviewers.
    public var source: String
    public var defaultUnitID: Int?
    public var options: ProfileOptions
    public var points: [PointDefinition]
    /// Present for the generic SunSpec profile: points come from discovery, not from this file.
    public var sunspec: SunSpecProfileMapping?

    public init(id: String, name: String, manufacturer: String = "", source: String = "", defaultUnitID: Int? = nil,
                options: ProfileOptions = ProfileOptions(), points: [PointDefinition], sunspec: SunSpecProfileMapping? = nil) {
        self.id = id
        self.name = name
        self.manufacturer = manufacturer
        self.source = source
        self.defaultUnitID = defaultUnitID
        self.options = options
        self.points = points
        self.sunspec = sunspec
    }

    public func pointIndex(named name: String) -> Int? { points.firstIndex { $0.name == name } }

    /// The point that delivers a canonical quantity, if the profile has one.
    public func canonicalPoint(_ quantity: CanonicalQuantity) -> Int? { points.firstIndex { $0.canonical == quantity } }
}

/// How the generic SunSpec profile maps discovered models onto the hub's quantities.
public struct SunSpecProfileMapping: Sendable, Hashable {
    public struct Candidate: Sendable, Hashable {
        public var model: Int
        public var point: String
        public var invert: Bool
        public init(model: Int, point: String, invert: Bool = false) {
            self.model = model
            self.point = point
            self.invert = invert
        }
    }

    /// For each quantity, `model:point` selectors tried in order; the first model present wins.
    public var canonical: [CanonicalQuantity: [Candidate]]
    /// Models read once after connect (nameplate, settings).
    public var staticModels: Set<Int>
    /// Models read on the slow interval; every other decoded model is read every cycle.
    public var slowModels: Set<Int>

    public init(canonical: [CanonicalQuantity: [Candidate]], staticModels: Set<Int>, slowModels: Set<Int>) {
        self.canonical = canonical
        self.staticModels = staticModels
        self.slowModels = slowModels
    }
}
