import ConfigReading
import DeviceProfiles
import Foundation
import Testing
import TestSupport

/// The profiles in Config/profiles: they parse, their canonical points are there, and their
/// read plans use the fewest reads possible (checked against an exhaustive minimum).
@Suite struct ShippedProfileTests {
    static let directory = RepositoryPaths.path("Config/profiles")

    static func load(_ id: String) throws -> DeviceProfile {
        let text = try String(contentsOfFile: directory + "/\(id).yaml", encoding: .utf8)
        return try ProfileParser.parse(text, file: "\(id).yaml", id: id)
    }

    /// Expected (fast, fast+slow, all) read counts, worked out from each vendor map by hand.
    static let expectedPlans: [(profile: String, fast: Int, fastAndSlow: Int, all: Int, canonical: Set<CanonicalQuantity>)] = [
        ("eastron-sdm630", 1, 1, 2, [.gridPower, .gridImportEnergy, .gridExportEnergy]),
        ("carlo-gavazzi-em24", 2, 2, 2, [.gridPower, .gridImportEnergy, .gridExportEnergy]),
        ("carlo-gavazzi-em340", 2, 2, 2, [.gridPower, .gridImportEnergy, .gridExportEnergy]),
        ("janitza-umg96rm", 1, 1, 1, [.gridPower, .gridImportEnergy, .gridExportEnergy]),
        ("victron-gx-system", 1, 1, 1, [.gridPower, .pvPower, .batteryPower, .batterySoC]),
        ("sma-sunny-tripower", 4, 5, 7, [.pvPower, .pvEnergy]),
        ("huawei-sun2000-inverter", 2, 3, 4, [.pvPower, .pvEnergy]),
        ("huawei-sun2000-meter", 1, 1, 1, [.gridPower, .gridImportEnergy, .gridExportEnergy]),
        ("huawei-sun2000-battery", 1, 1, 1, [.batteryPower, .batterySoC, .batteryChargeEnergy, .batteryDischargeEnergy]),
    ]

    @Test func everyShippedProfileParses() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory).filter { $0.hasSuffix(".yaml") }
        #expect(files.count == 10)
        for file in files {
            let profile = try Self.load(String(file.dropLast(5)))
            #expect(!profile.name.isEmpty)
            #expect(!profile.source.isEmpty, "\(file) should say where its register map comes from")
        }
        let sunspec = try Self.load("sunspec")
        #expect(sunspec.sunspec?.canonical[.gridPower]?.first == .init(model: 203, point: "W"))
        #expect(sunspec.sunspec?.canonical[.batterySoC]?.count == 3)
    }

    @Test(arguments: expectedPlans.map(\.profile))
    func planUsesTheMinimalNumberOfReads(_ id: String) throws {
        let profile = try Self.load(id)
        let expected = try #require(Self.expectedPlans.first { $0.profile == id })
        let limits = PlanningLimits(profile.options)
        let plans = DevicePlans(profile: profile, limits: limits)
        #expect(plans.fast.requests.count == expected.fast)
        #expect(plans.fastAndSlow.requests.count == expected.fastAndSlow)
        #expect(plans.all.requests.count == expected.all)
        #expect(Set(profile.points.compactMap(\.canonical)) == expected.canonical)
        for cadences: Set<PointCadence> in [[.fast], [.fast, .slow], [.fast, .slow, .static]] {
            let wanted = RequestPlanner.points(of: profile, cadences: cadences)
            let plan = RequestPlanner.plan(profile, points: wanted, limits: limits)
            #expect(plan.requests.count == MinimalReads.count(profile, wanted: wanted, limits: limits), "\(id) \(cadences)")
            try Self.checkPlanCoversEveryWantedPointWithinLimits(plan, profile: profile, wanted: wanted, limits: limits)
        }
    }

    static func checkPlanCoversEveryWantedPointWithinLimits(_ plan: ReadPlan, profile: DeviceProfile, wanted: [Int], limits: PlanningLimits) throws {
        for request in plan.requests {
            #expect(request.count <= limits.maxRegistersPerRead)
        }
        for index in wanted where !profile.points[index].isComputed {
            let planned = try #require(plan.points.first { $0.point == index })
            let request = plan.requests[planned.request]
            #expect(request.table == profile.points[index].table)
            #expect(request.addresses.contains(profile.points[index].address))
            #expect(request.addresses.upperBound >= profile.points[index].addresses.upperBound)
        }
    }

    @Test func planningLimitsAreRespected() throws {
        // 300 consecutive int16 points: three reads of at most 125, or more with a smaller limit.
        let points = (0..<300).map { PointDefinition(name: "p\($0)", table: .holding, address: 1000 + $0, type: .int16) }
        let profile = DeviceProfile(id: "wide", name: "Wide", points: points)
        let all = Array(points.indices)
        #expect(RequestPlanner.plan(profile, points: all, limits: PlanningLimits()).requests.map(\.count) == [125, 125, 50])
        #expect(RequestPlanner.plan(profile, points: all, limits: PlanningLimits(maxRegistersPerRead: 100)).requests.count == 3)
        // Every other point: gaps of one register, bridged unless max_gap is 0.
        let sparse = stride(from: 0, to: 300, by: 2).map { $0 }
        #expect(RequestPlanner.plan(profile, points: sparse, limits: PlanningLimits(maxGap: 1)).requests.count == 3)
        #expect(RequestPlanner.plan(profile, points: sparse, limits: PlanningLimits(maxGap: 0)).requests.count == 150)
        // Holes: a device that rejects them gets reads only over mapped registers.
        let holey = DeviceProfile(id: "holes", name: "Holes", points: [
            PointDefinition(name: "a", table: .holding, address: 0, type: .int16),
            PointDefinition(name: "b", table: .holding, address: 2, type: .int16),
            PointDefinition(name: "c", table: .input, address: 1, type: .int16),
        ])
        #expect(RequestPlanner.plan(holey, points: [0, 1, 2], limits: PlanningLimits(rejectsReadsOverHoles: false)).requests.count == 2)
        #expect(RequestPlanner.plan(holey, points: [0, 1, 2], limits: PlanningLimits(rejectsReadsOverHoles: true)).requests.count == 3)
    }
}

/// An exhaustive minimum, independent of the planner: dynamic programming over every way to
/// cut the sorted registers of each table into feasible reads.
enum MinimalReads {
    static func count(_ profile: DeviceProfile, wanted: [Int], limits: PlanningLimits) -> Int {
        var selected = Set<Int>()
        for index in wanted {
            let point = profile.points[index]
            if point.isComputed {
                for term in point.sumOf { selected.insert(profile.pointIndex(named: term)!) }
            } else {
                selected.insert(index)
            }
            if let factor = point.scaleFactorPoint { selected.insert(profile.pointIndex(named: factor)!) }
        }
        var total = 0
        for table in RegisterTable.allCases {
            let ranges = selected.map { profile.points[$0] }.filter { $0.table == table }.map(\.addresses).sorted { $0.lowerBound < $1.lowerBound }
            guard !ranges.isEmpty else { continue }
            let mapped = Set(profile.points.filter { $0.table == table }.flatMap { Array($0.addresses) })
            // best[i]: fewest reads covering ranges[0..<i]
            var best = [Int](repeating: Int.max, count: ranges.count + 1)
            best[0] = 0
            for end in 1...ranges.count {
                for start in 0..<end where best[start] != Int.max && feasible(Array(ranges[start..<end]), limits: limits, mapped: mapped) {
                    best[end] = min(best[end], best[start] + 1)
                }
            }
            total += best[ranges.count]
        }
        return total
    }

    static func feasible(_ ranges: [Range<Int>], limits: PlanningLimits, mapped: Set<Int>) -> Bool {
        let low = ranges.map(\.lowerBound).min()!, high = ranges.map(\.upperBound).max()!
        guard high - low <= limits.maxRegistersPerRead else { return false }
        var covered = Set<Int>()
        for range in ranges { covered.formUnion(range) }
        var gap = 0
        for address in low..<high {
            if covered.contains(address) {
                gap = 0
            } else {
                gap += 1
                if gap > limits.maxGap { return false }
                if limits.rejectsReadsOverHoles && !mapped.contains(address) { return false }
            }
        }
        return true
    }
}
