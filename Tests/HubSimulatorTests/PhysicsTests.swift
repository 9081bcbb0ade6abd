import HubSimulator
import Testing

/// The park's physics without sockets: balance, exact integration, SoC, controls, determinism.
@Suite struct PhysicsTests {
    static let scenario = try! ScenarioParser.load(path: Fixtures.demoScenarioPath)

    /// Per company, at every step: grid = load − PV − battery (battery + = discharge).
    @Test func everyCompanyBalancesAtEveryStep() {
        var physics = HubPhysics(scenario: Self.scenario, origin: Fixtures.noon - 3_600_000)
        for _ in 0..<7200 {
            for group in Self.scenario.groups where !group.isSharedAsset {
                let load = physics.loads[group.id] ?? .nan
                var grid = 0.0, pv = 0.0, battery = 0.0
                for device in group.devices {
                    let watts = physics.state(device.id)!.watts
                    switch device.role {
                    case .gridMeter: grid = watts
                    case .pvInverter: pv += watts
                    case .battery: battery += watts
                    }
                }
                #expect(abs(grid - (load - pv - battery)) < 1e-6)
                #expect(pv >= 0 && load >= 0)
            }
            physics.advance(to: physics.time + 1000)
        }
    }

    /// Counters equal the sum of power × time, whatever the cadence of `advance`.
    @Test func countersIntegratePowerExactly() {
        let origin = Fixtures.noon + 123 // not on a step boundary
        var physics = HubPhysics(scenario: Self.scenario, origin: origin)
        var expected: [String: (import: Double, export: Double, produced: Double, charged: Double, discharged: Double)] = [:]
        for device in Self.scenario.devices {
            let state = physics.state(device.id)!
            expected[device.id] = (state.importWh, state.exportWh, state.producedWh, state.chargedWh, state.dischargedWh)
        }
        var time = origin
        var chunk: Int64 = 137
        while time < origin + 3_600_000 {
            // Power holds until the next step boundary; integrate it ourselves over uneven chunks.
            let boundary = (time / 1000 + 1) * 1000
            let end = min(time + chunk, boundary)
            let hours = Double(end - time) / 3_600_000
            for device in Self.scenario.devices {
                let watts = physics.state(device.id)!.watts
                var sums = expected[device.id]!
                switch device.role {
                case .gridMeter: if watts > 0 { sums.import += watts * hours } else { sums.export -= watts * hours }
                case .pvInverter: sums.produced += watts * hours
                case .battery: if watts > 0 { sums.discharged += watts * hours } else { sums.charged -= watts * hours }
                }
                expected[device.id] = sums
            }
            physics.advance(to: end)
            time = end
            chunk = chunk % 1500 + 211
        }
        for device in Self.scenario.devices {
            let state = physics.state(device.id)!, sums = expected[device.id]!
            for (actual, wanted) in [(state.importWh, sums.import), (state.exportWh, sums.export), (state.producedWh, sums.produced),
                                     (state.chargedWh, sums.charged), (state.dischargedWh, sums.discharged)] {
                #expect(abs(actual - wanted) < 1e-6, "\(device.id): \(actual) vs \(wanted)")
            }
        }
        // Some energy really flowed.
        #expect(physics.state("metaalwerk-pv-roof")!.producedWh > expected["metaalwerk-pv-roof"]!.produced - 1)
    }

    @Test func sameSeedSameRunWhateverTheCadence() {
        var coarse = HubPhysics(scenario: Self.scenario, origin: Fixtures.noon)
        var fine = HubPhysics(scenario: Self.scenario, origin: Fixtures.noon)
        coarse.advance(to: Fixtures.noon + 1_800_000)
        var time = Fixtures.noon
        while time < Fixtures.noon + 1_800_000 { time += 333; fine.advance(to: min(time, Fixtures.noon + 1_800_000)) }
        for device in Self.scenario.devices {
            let a = coarse.state(device.id)!, b = fine.state(device.id)!
            #expect(a.watts == b.watts)
            #expect(abs(a.importWh - b.importWh) < 1e-6 && abs(a.producedWh - b.producedWh) < 1e-6 && abs(a.storedWh - b.storedWh) < 1e-6)
        }
        var reseeded = Self.scenario
        reseeded.seed = 7
        var other = HubPhysics(scenario: reseeded, origin: Fixtures.noon)
        other.advance(to: Fixtures.noon + 1_800_000)
        #expect(other.state("metaalwerk-grid")!.importWh != coarse.state("metaalwerk-grid")!.importWh)
    }

    @Test func pvFollowsDaylightAndClouds() {
        let physics = HubPhysics(scenario: Self.scenario, origin: Fixtures.noon)
        let roof = Self.scenario.device("metaalwerk-pv-roof")!
        let day = Fixtures.noon - 12 * 3_600_000
        #expect(physics.availablePVWatts(roof, at: day + 3 * 3_600_000) == 0) // 03:00 UTC
        #expect(physics.availablePVWatts(roof, at: day + 23 * 3_600_000) == 0)
        let noonValues = stride(from: Fixtures.noon - 3_600_000, to: Fixtures.noon + 3_600_000, by: 60_000).map { physics.availablePVWatts(roof, at: $0) }
        #expect(noonValues.max()! <= 230_000 + 1e-6)
        #expect(noonValues.max()! > 150_000)
        #expect(noonValues.min()! < noonValues.max()! * 0.8) // a cloud passed
    }

    @Test func socMovesWithBatteryPowerWithinLimits() {
        var physics = HubPhysics(scenario: Self.scenario, origin: Fixtures.noon)
        let battery = Self.scenario.device("hub-battery")!.battery!
        physics.setBatterySetpoint("hub-battery", watts: -150_000, revertAfterMs: nil) // charge flat out
        var previous = physics.state("hub-battery")!
        for _ in 0..<(6 * 3600) {
            physics.advance(to: physics.time + 1000)
            let state = physics.state("hub-battery")!
            let stored = previous.storedWh + (state.chargedWh - previous.chargedWh) * battery.efficiency - (state.dischargedWh - previous.dischargedWh)
            #expect(abs(state.storedWh - stored) < 1e-6)
            #expect(state.soc <= battery.maxSoC + 1e-9)
            previous = state
        }
        #expect(abs(previous.soc - battery.maxSoC) < 1e-6)
        #expect(previous.watts == 0)
        physics.setBatterySetpoint("hub-battery", watts: 150_000, revertAfterMs: nil)
        for _ in 0..<(6 * 3600) { physics.advance(to: physics.time + 1000) }
        #expect(abs(physics.state("hub-battery")!.soc - battery.minSoC) < 1e-6)
        #expect(physics.state("hub-battery")!.watts == 0)
    }

    @Test func setpointsAndLimitsRevertWhenTheirTimerExpires() {
        var physics = HubPhysics(scenario: Self.scenario, origin: Fixtures.noon)
        physics.setBatterySetpoint("hub-battery", watts: 40_000, revertAfterMs: 60_000)
        physics.setPVLimit("metaalwerk-pv-roof", percent: 10, revertAfterMs: 120_000)
        #expect(physics.state("hub-battery")!.watts == 40_000)
        #expect(physics.state("metaalwerk-pv-roof")!.watts <= 25_000)
        let grid = physics.state("metaalwerk-grid")!.watts
        physics.advance(to: Fixtures.noon + 59_000)
        #expect(physics.state("hub-battery")!.watts == 40_000)
        physics.advance(to: Fixtures.noon + 60_000)
        #expect(physics.state("hub-battery")!.setpoint == nil)
        #expect(physics.state("hub-battery")!.watts == -100_000) // back on its schedule: charging at midday
        #expect(physics.state("metaalwerk-pv-roof")!.pvLimit != nil)
        physics.advance(to: Fixtures.noon + 120_000)
        #expect(physics.state("metaalwerk-pv-roof")!.pvLimit == nil)
        #expect(physics.state("metaalwerk-pv-roof")!.watts > 25_000)
        _ = grid
    }

    @Test func counterResetFaultZeroesCounters() {
        var physics = HubPhysics(scenario: Self.scenario, origin: Fixtures.noon)
        physics.advance(to: Fixtures.noon + 6 * 3_600_000 - 1000)
        #expect(physics.state("bakkerij-grid")!.importWh > 100_000)
        physics.advance(to: Fixtures.noon + 6 * 3_600_000 + 10_000)
        let state = physics.state("bakkerij-grid")!
        #expect(state.importWh + state.exportWh < 1000)
        #expect(state.importWh + state.exportWh > 0)
    }
}
