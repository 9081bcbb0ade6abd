/// One read transaction: a run of registers (or bits) of one table.
public struct ReadRequest: Sendable, Hashable, CustomStringConvertible {
    public var table: RegisterTable
    public var address: Int
    public var count: Int

    public init(table: RegisterTable, address: Int, count: Int) {
        self.table = table
        self.address = address
        self.count = count
    }

    public var addresses: Range<Int> { address..<(address + count) }
    public var description: String { "\(table.rawValue) \(address)…\(address + count - 1) (\(count))" }
}

/// Where a point's registers sit in a plan's register image.
public struct PlannedPoint: Sendable, Hashable {
    public var point: Int
    public var request: Int
    /// Index of the point's first register in the plan's image.
    public var imageOffset: Int
}

/// The reads for one device and one kind of cycle, with where each point lands.
///
/// Computed once when a device is set up (per cadence mix), then reused every cycle.
public struct ReadPlan: Sendable, Hashable {
    public var requests: [ReadRequest]
    /// Start of each request's registers in the image.
    public var imageOffsets: [Int]
    public var imageSize: Int
    /// In decoding order: scale-factor points first, so that the points using them find them.
    public var points: [PlannedPoint]
    /// Computed points (sums), evaluated after all register points.
    public var computed: [Int] = []

    public var registerCount: Int { requests.reduce(0) { $0 + $1.count } }
}

/// Limits that shape a plan.
public struct PlanningLimits: Sendable, Hashable {
    public var maxRegistersPerRead: Int
    public var maxGap: Int
    public var rejectsReadsOverHoles: Bool

    public init(maxRegistersPerRead: Int = 125, maxGap: Int = 16, rejectsReadsOverHoles: Bool = false) {
        self.maxRegistersPerRead = maxRegistersPerRead
        self.maxGap = maxGap
        self.rejectsReadsOverHoles = rejectsReadsOverHoles
    }

    public init(_ options: ProfileOptions, maxGapOverride: Int? = nil) {
        self.init(maxRegistersPerRead: options.maxRegistersPerRead, maxGap: maxGapOverride ?? options.maxGap,
                  rejectsReadsOverHoles: options.rejectsReadsOverHoles)
    }
}

/// Merges wanted points into the fewest reads: never across tables, at most
/// `maxRegistersPerRead` per read (2000 for bits), gaps of at most `maxGap` unwanted registers,
/// and (for devices that reject them) no gap over registers no point of the profile maps.
///
/// Greedy left-to-right packing over points sorted by address is optimal here: any run of a
/// feasible read is itself feasible, so extending the current read as far as possible never
/// costs a later read (the tests compare it with an exhaustive minimum for every profile).
public enum RequestPlanner {
    /// The plan for the given points of a profile; scale-factor points they need are added.
    public static func plan(_ profile: DeviceProfile, points wanted: [Int], limits: PlanningLimits) -> ReadPlan {
        let points = profile.points
        var selected = Set(wanted)
        var computed: [Int] = []
        for index in wanted where points[index].isComputed {
            selected.remove(index)
            computed.append(index)
            for term in points[index].sumOf {
                if let source = profile.pointIndex(named: term) { selected.insert(source) }
            }
        }
        for index in selected {
            if let reference = points[index].scaleFactorPoint, let factor = profile.pointIndex(named: reference) {
                selected.insert(factor)
            }
        }
        var mapped: [RegisterTable: Set<Int>] = [:]
        if limits.rejectsReadsOverHoles {
            for point in points { mapped[point.table, default: []].formUnion(point.addresses) }
        }
        var requests: [ReadRequest] = []
        var membership: [(point: Int, request: Int)] = []
        for table in RegisterTable.allCases {
            let ordered = selected.filter { points[$0].table == table }
                .sorted { (points[$0].address, points[$0].registerCount, $0) < (points[$1].address, points[$1].registerCount, $1) }
            let maxCount = table.isBit ? table.maxReadCount : min(limits.maxRegistersPerRead, table.maxReadCount)
            var current: (start: Int, end: Int)?
            for index in ordered {
                let range = points[index].addresses
                if let run = current {
                    let end = max(run.end, range.upperBound)
                    let gap = range.lowerBound - run.end
                    var fits = end - run.start <= maxCount && gap <= limits.maxGap
                    if fits && gap > 0 && limits.rejectsReadsOverHoles {
                        let table = mapped[table] ?? []
                        fits = (run.end..<range.lowerBound).allSatisfy { table.contains($0) }
                    }
                    if fits {
                        current = (run.start, end)
                        membership.append((index, requests.count))
                        continue
                    }
                    requests.append(ReadRequest(table: table, address: run.start, count: run.end - run.start))
                }
                current = (range.lowerBound, range.upperBound)
                membership.append((index, requests.count))
            }
            if let run = current {
                requests.append(ReadRequest(table: table, address: run.start, count: run.end - run.start))
            }
        }
        var imageOffsets: [Int] = []
        var size = 0
        for request in requests {
            imageOffsets.append(size)
            size += request.count
        }
        let factorNames = Set(points.compactMap(\.scaleFactorPoint))
        let planned = membership.map { entry in
            PlannedPoint(point: entry.point, request: entry.request,
                         imageOffset: imageOffsets[entry.request] + points[entry.point].address - requests[entry.request].address)
        }.sorted { a, b in
            let aFactor = factorNames.contains(points[a.point].name), bFactor = factorNames.contains(points[b.point].name)
            return aFactor != bFactor ? aFactor : a.point < b.point
        }
        return ReadPlan(requests: requests, imageOffsets: imageOffsets, imageSize: size, points: planned, computed: computed.sorted())
    }

    /// The indices of the points read in a cycle that includes the given cadences.
    public static func points(of profile: DeviceProfile, cadences: Set<PointCadence>) -> [Int] {
        profile.points.indices.filter { cadences.contains(profile.points[$0].cadence) }
    }
}

/// The three plans a device uses: every cycle, cycles where the slow interval is due, and the
/// first cycle after a connect (everything).
public struct DevicePlans: Sendable, Hashable {
    public var fast: ReadPlan
    public var fastAndSlow: ReadPlan
    public var all: ReadPlan

    public init(profile: DeviceProfile, limits: PlanningLimits) {
        fast = RequestPlanner.plan(profile, points: RequestPlanner.points(of: profile, cadences: [.fast]), limits: limits)
        fastAndSlow = RequestPlanner.plan(profile, points: RequestPlanner.points(of: profile, cadences: [.fast, .slow]), limits: limits)
        all = RequestPlanner.plan(profile, points: Array(profile.points.indices), limits: limits)
    }
}
