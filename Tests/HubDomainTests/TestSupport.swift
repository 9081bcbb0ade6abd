import HubDomain

/// 2026-03-01T00:00:00Z, a convenient day start for tests.
let dayStart = UTCMilliseconds(epochSeconds: 1_772_323_200)

extension UTCMilliseconds {
    /// `self` plus hours, minutes and seconds.
    func plus(h: Int64 = 0, m: Int64 = 0, s: Int64 = 0, ms: Int64 = 0) -> UTCMilliseconds {
        adding(milliseconds: ((h * 60 + m) * 60 + s) * 1000 + ms)
    }
}

/// A clock the test steps by hand; injected wherever the agent would pass its clock.
struct SimulatedClock: UTCClock {
    var now: UTCMilliseconds
    mutating func advance(ms: Int64) { now = now.adding(milliseconds: ms) }
}

func approx(_ a: Double?, _ b: Double, tolerance: Double = 1e-6) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance
}

/// A participant with a grid meter `"<id>-grid"`, optionally PV `"<id>-pv"` and battery `"<id>-bat"`.
func participant(
    _ id: String, pv: Bool = false, battery: Bool = false, modulus: Double? = nil, capacityWh: Double? = nil,
    membership: Membership = .always
) -> Participant {
    var devices = [Device(id: DeviceID(id + "-grid"), kind: .gridMeter, counterModulusWh: modulus)]
    if pv { devices.append(Device(id: DeviceID(id + "-pv"), kind: .pvInverter, counterModulusWh: modulus)) }
    if battery {
        devices.append(
            Device(id: DeviceID(id + "-bat"), kind: .battery, counterModulusWh: modulus, usableCapacityWh: capacityWh))
    }
    return Participant(id: ParticipantID(id), membership: membership, devices: devices)
}

/// Generates consistent device samples: counters are the exact left-hold integral of the
/// power, so power integration and counters agree (as they do for a real, well-behaved meter).
struct MeterSimulator {
    struct State {
        var kind: DeviceKind
        var power = 0.0
        /// The power reported with the previous sample: held until this sample (left hold).
        var reportedPower = 0.0
        var counters: [EnergyQuantity: Double] = [:]
        var lastAt: UTCMilliseconds?
        /// Subtracted from the true counter in samples (meter replaced → counter restarts).
        var offset: [EnergyQuantity: Double] = [:]
        /// Counter modulus of the simulated register, if any.
        var modulus: Double?
    }

    var devices: [DeviceID: State] = [:]

    init(model: HubModel) {
        for participant in model.participants {
            for device in participant.devices {
                devices[device.id] = State(kind: device.kind, modulus: device.counterModulusWh)
            }
        }
        for asset in model.sharedAssets {
            devices[asset.device.id] = State(kind: asset.device.kind, modulus: asset.device.counterModulusWh)
        }
    }

    /// Sets the power a device will hold from now on.
    mutating func setPower(_ device: DeviceID, _ watts: Double) { devices[device]!.power = watts }

    /// Advances the device's counters to `at` and returns a sample.
    mutating func sample(_ device: DeviceID, at: UTCMilliseconds, counters: Bool = true) -> DeviceSample {
        var state = devices[device]!
        if let last = state.lastAt {
            let hours = Double(at.milliseconds(since: last)) / 3_600_000
            for quantity in state.kind.quantities {
                state.counters[quantity, default: 0] += quantity.directionalPower(fromSigned: state.reportedPower) * hours
            }
        } else {
            for quantity in state.kind.quantities { state.counters[quantity] = state.counters[quantity] ?? 1000 }
        }
        state.lastAt = at
        state.reportedPower = state.power
        devices[device] = state
        var values = CounterValues()
        if counters {
            func reported(_ quantity: EnergyQuantity) -> Double? {
                guard let value = state.counters[quantity] else { return nil }
                var shown = value - (state.offset[quantity] ?? 0)
                if let modulus = state.modulus { shown = shown.truncatingRemainder(dividingBy: modulus) }
                return shown
            }
            values = CounterValues(
                gridImportWh: reported(.gridImport), gridExportWh: reported(.gridExport),
                pvProductionWh: reported(.pvProduction), batteryChargeWh: reported(.batteryCharge),
                batteryDischargeWh: reported(.batteryDischarge))
        }
        return DeviceSample(device: device, at: at, powerW: state.power, counters: values)
    }

    /// Replaces the device's meter: its counters restart at zero (the true energy goes on).
    mutating func resetMeter(_ device: DeviceID) {
        var state = devices[device]!
        for (quantity, value) in state.counters { state.offset[quantity] = value }
        devices[device] = state
    }

    /// The true counter value (for checking totals).
    func counter(_ device: DeviceID, _ quantity: EnergyQuantity) -> Double {
        devices[device]!.counters[quantity] ?? 0
    }
}

/// A small deterministic random generator (SplitMix64) for building random hubs from a seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
