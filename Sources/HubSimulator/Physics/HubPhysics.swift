import Foundation

/// The state of one simulated device, in the hub's sign convention.
public struct SimulatedDeviceState: Sendable, Hashable {
    public let id: String
    public let role: Scenario.Role
    /// Grid: + = import. PV: ≥ 0. Battery: + = discharge.
    public internal(set) var watts: Double = 0
    /// Grid meter counters.
    public internal(set) var importWh: Double = 0
    public internal(set) var exportWh: Double = 0
    /// PV production counter.
    public internal(set) var producedWh: Double = 0
    /// PV power the sun offers before any limit.
    public internal(set) var availableWatts: Double = 0
    /// Battery counters and content.
    public internal(set) var chargedWh: Double = 0
    public internal(set) var dischargedWh: Double = 0
    public internal(set) var storedWh: Double = 0
    public internal(set) var capacityWh: Double = 0
    /// Active PV limit (percent of rating), from SunSpec 123.
    public internal(set) var pvLimit: Control?
    /// Active battery setpoint (W, + = discharge), from SunSpec 124.
    public internal(set) var setpoint: Control?

    /// A written control and when it reverts (simulated UTC ms), if it has a timer.
    public struct Control: Sendable, Hashable {
        public var value: Double
        public var revertAt: Int64?
    }

    /// State of charge in percent of capacity.
    public var soc: Double { capacityWh > 0 ? storedWh / capacityWh * 100 : 0 }
}

/// The park's physics: pure, deterministic for a seed, stepped by the caller with simulated
/// time. Power is constant within each step of `scenario.stepMs` (aligned on UTC multiples of
/// the step) and every counter integrates it exactly, so per company
///
///     grid = load − PV − battery discharge + battery charge
///
/// holds at every instant, and counters equal the integral of power.
public struct HubPhysics: Sendable {
    public let scenario: Scenario
    /// Simulated UTC milliseconds the simulation started at (fault times count from here).
    public let origin: Int64
    /// Simulated time the state refers to.
    public private(set) var time: Int64
    public private(set) var devices: [SimulatedDeviceState]
    /// Current load of each company (W).
    public private(set) var loads: [String: Double] = [:]
    private let indices: [String: Int]
    private let noise: SeededNoise
    private var resetsDone: Set<Int> = []

    public init(scenario: Scenario, origin: Int64) {
        self.scenario = scenario
        self.origin = origin
        self.time = origin
        self.noise = SeededNoise(seed: scenario.seed)
        var devices: [SimulatedDeviceState] = []
        var indices: [String: Int] = [:]
        for device in scenario.devices {
            var state = SimulatedDeviceState(id: device.id, role: device.role)
            switch device.role {
            case .gridMeter:
                state.importWh = device.initialEnergyWh
                state.exportWh = device.initialEnergyWh / 10
            case .pvInverter:
                state.producedWh = device.initialEnergyWh
            case .battery:
                let battery = device.battery ?? Scenario.Battery(capacityWh: 1, maxChargeWatts: 0, maxDischargeWatts: 0)
                state.capacityWh = battery.capacityWh
                state.storedWh = battery.capacityWh * battery.initialSoC / 100
                state.chargedWh = device.initialEnergyWh
                state.dischargedWh = device.initialEnergyWh * 0.9
            }
            indices[device.id] = devices.count
            devices.append(state)
        }
        self.devices = devices
        self.indices = indices
        startStep()
    }

    public func state(_ device: String) -> SimulatedDeviceState? { indices[device].map { devices[$0] } }

    /// Moves the simulation forward to `target` (simulated UTC ms); earlier targets are ignored.
    public mutating func advance(to target: Int64) {
        let step = scenario.stepMs
        while time < target {
            let boundary = (floorDiv(time, step) + 1) * step
            let end = min(boundary, target)
            integrate(milliseconds: end - time)
            time = end
            if time == boundary { startStep() }
        }
    }

    /// Limits PV output to `percent` of the rating (nil lifts the limit), reverting after
    /// `revertAfterMs` when given. Takes effect now.
    public mutating func setPVLimit(_ device: String, percent: Double?, revertAfterMs: Int64?) {
        guard let index = indices[device], devices[index].role == .pvInverter else { return }
        devices[index].pvLimit = percent.map { .init(value: max(0, min(100, $0)), revertAt: revertAfterMs.map { time + $0 }) }
        recomputePowers()
    }

    /// Makes a battery follow `watts` (+ = discharge; nil returns it to its mode), reverting after
    /// `revertAfterMs` when given. Takes effect now.
    public mutating func setBatterySetpoint(_ device: String, watts: Double?, revertAfterMs: Int64?) {
        guard let index = indices[device], devices[index].role == .battery else { return }
        devices[index].setpoint = watts.map { .init(value: $0, revertAt: revertAfterMs.map { time + $0 }) }
        recomputePowers()
    }

    /// Sets a device's counters back to zero (a meter reset).
    public mutating func resetCounters(_ device: String) {
        guard let index = indices[device] else { return }
        devices[index].importWh = 0
        devices[index].exportWh = 0
        devices[index].producedWh = 0
        devices[index].chargedWh = 0
        devices[index].dischargedWh = 0
    }

    // MARK: Inputs as functions of time (pure)

    /// A company's consumption at `time` (W, ≥ 0).
    public func loadWatts(_ group: Scenario.Group, at time: Int64) -> Double {
        guard let load = group.load else { return 0 }
        var watts = load.baseWatts
        let minute = Double(positiveModulo(time, 86_400_000)) / 60_000
        for shift in load.shifts where Self.contains(shift, minute: minute) { watts += shift.watts }
        for step in load.steps where positiveModulo(time - step.offsetMs, step.everyMs) < step.durationMs { watts += step.watts }
        if load.noiseWatts > 0 {
            watts += load.noiseWatts * (2 * noise.smooth(stream: SeededNoise.stream("load/" + group.id), time: time, bucket: 60_000) - 1)
        }
        return max(0, watts)
    }

    /// What a PV inverter could produce at `time` (W): the daylight curve dimmed by passing clouds.
    public func availablePVWatts(_ device: Scenario.Device, at time: Int64) -> Double {
        guard let pv = device.pv else { return 0 }
        let sun = scenario.sun
        let minute = Double(positiveModulo(time, 86_400_000)) / 60_000
        let x = (minute - Double(sun.sunriseMinute)) / Double(sun.sunsetMinute - sun.sunriseMinute)
        guard x > 0, x < 1 else { return 0 }
        let daylight = pow(sin(Double.pi * x), 1.5)
        // The same clouds pass over every roof, a little later over some than others.
        let delay = Int64(noise.uniform(stream: SeededNoise.stream("cloud-delay/" + device.id), index: 0) * 120_000)
        let shade = cloudShade(at: time - delay)
        return min(pv.ratedWatts, pv.peakWatts * daylight * (1 - sun.cloudDepth * shade))
    }

    /// 0 (clear) … 1 (fully clouded), smooth between cloud cells.
    func cloudShade(at time: Int64) -> Double {
        let cell = scenario.sun.cloudCellMs, cover = scenario.sun.cloudCover
        let stream = SeededNoise.stream("clouds")
        let index = floorDiv(time, cell)
        let fraction = Double(time - index * cell) / Double(cell)
        let a = noise.uniform(stream: stream, index: index) < cover ? 1.0 : 0
        let b = noise.uniform(stream: stream, index: index + 1) < cover ? 1.0 : 0
        return a + (b - a) * (1 - cos(Double.pi * fraction)) / 2
    }

    static func contains(_ shift: Scenario.Load.Shift, minute: Double) -> Bool {
        let from = Double(shift.fromMinute), to = Double(shift.toMinute)
        return from <= to ? (minute >= from && minute < to) : (minute >= from || minute < to)
    }

    // MARK: Stepping

    private mutating func integrate(milliseconds: Int64) {
        let hours = Double(milliseconds) / 3_600_000
        for (index, device) in scenario.devices.enumerated() {
            let watts = devices[index].watts
            let energy = abs(watts) * hours
            switch device.role {
            case .gridMeter:
                if watts > 0 { devices[index].importWh += energy } else { devices[index].exportWh += energy }
            case .pvInverter:
                devices[index].producedWh += max(0, watts) * hours
            case .battery:
                let efficiency = device.battery?.efficiency ?? 1
                if watts > 0 {
                    devices[index].dischargedWh += energy
                    devices[index].storedWh -= energy
                } else {
                    devices[index].chargedWh += energy
                    devices[index].storedWh += energy * efficiency
                }
                devices[index].storedWh = min(max(devices[index].storedWh, 0), devices[index].capacityWh)
            }
        }
    }

    /// At a step boundary: timers revert, scripted resets happen, powers are decided anew.
    private mutating func startStep() {
        for index in devices.indices {
            if let revert = devices[index].pvLimit?.revertAt, revert <= time { devices[index].pvLimit = nil }
            if let revert = devices[index].setpoint?.revertAt, revert <= time { devices[index].setpoint = nil }
        }
        for (number, fault) in scenario.faults.enumerated() where fault.kind == .counterReset && !resetsDone.contains(number) {
            if origin + fault.startMs <= time {
                resetsDone.insert(number)
                resetCounters(fault.device)
            }
        }
        recomputePowers()
    }

    /// Decides every power for the rest of the current step from the inputs at the step's start.
    private mutating func recomputePowers() {
        let step = scenario.stepMs
        let stepStart = floorDiv(time, step) * step
        let remainingHours = Double(stepStart + step - time) / 3_600_000
        let minute = Double(positiveModulo(stepStart, 86_400_000)) / 60_000
        var offset = 0
        for group in scenario.groups {
            let range = offset..<(offset + group.devices.count)
            offset += group.devices.count
            let load = loadWatts(group, at: stepStart)
            loads[group.id] = load
            var pvTotal = 0.0
            for (device, index) in zip(group.devices, range) where device.role == .pvInverter {
                let available = availablePVWatts(device, at: stepStart)
                var watts = available
                if let limit = devices[index].pvLimit, let rated = device.pv?.ratedWatts { watts = min(watts, limit.value / 100 * rated) }
                devices[index].availableWatts = available
                devices[index].watts = watts
                pvTotal += watts
            }
            let followers = zip(group.devices, range).filter { $0.0.role == .battery && devices[$0.1].setpoint == nil
                && $0.0.battery?.mode == .selfConsumption && group.load != nil }.count
            var batteryTotal = 0.0
            for (device, index) in zip(group.devices, range) where device.role == .battery {
                guard let battery = device.battery else { continue }
                var target: Double
                if let setpoint = devices[index].setpoint {
                    target = setpoint.value
                } else {
                    switch battery.mode {
                    case .idle: target = 0
                    case .schedule: target = battery.schedule.filter { Self.contains($0, minute: minute) }.reduce(0) { $0 + $1.watts }
                    case .selfConsumption: target = group.load == nil ? 0 : (load - pvTotal) / Double(max(1, followers))
                    }
                }
                target = min(max(target, -battery.maxChargeWatts), battery.maxDischargeWatts)
                let stored = devices[index].storedWh, capacity = devices[index].capacityWh
                if target > 0 {
                    let available = max(0, stored - battery.minSoC / 100 * capacity)
                    target = min(target, available / remainingHours)
                } else if target < 0 {
                    let room = max(0, battery.maxSoC / 100 * capacity - stored) / battery.efficiency
                    target = max(target, -room / remainingHours)
                }
                devices[index].watts = target
                batteryTotal += target
            }
            for (device, index) in zip(group.devices, range) where device.role == .gridMeter {
                devices[index].watts = load - pvTotal - batteryTotal
            }
        }
    }
}
