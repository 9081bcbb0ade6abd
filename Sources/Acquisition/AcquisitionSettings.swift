import DeviceProfiles
import HubDomain
import ModbusIO

/// One device to poll: where it is and how to read it.
public struct AcquisitionDevice: Sendable {
    public var id: String
    public var unitID: Int
    public var profile: DeviceProfile
    /// Writes are refused unless this is true.
    public var writable: Bool
    /// Flip the sign of the power quantities (a meter whose current transformers face the other way).
    public var invertPower: Bool
    /// Extra pause before every request to this device (on top of the profile's).
    public var requestDelay: Duration
    /// Overrides the profile's largest gap inside one read.
    public var maxGap: Int?
    /// Overrides the bus timeout for this device (never below the profile's minimum).
    public var timeout: Duration?

    public init(id: String, unitID: Int, profile: DeviceProfile, writable: Bool = false, invertPower: Bool = false,
                requestDelay: Duration = .zero, maxGap: Int? = nil, timeout: Duration? = nil) {
        self.id = id
        self.unitID = unitID
        self.profile = profile
        self.writable = writable
        self.invertPower = invertPower
        self.requestDelay = requestDelay
        self.maxGap = maxGap
        self.timeout = timeout
    }

    var limits: PlanningLimits { PlanningLimits(profile.options, maxGapOverride: maxGap) }
}

/// One bus: a TCP endpoint or a serial line, with the devices behind it.
public struct AcquisitionBus: Sendable {
    public var id: String
    public var endpoint: ModbusEndpoint
    public var timeout: Duration
    /// Quiet time between transactions on this bus.
    public var turnaroundDelay: Duration
    public var connectDelay: Duration
    public var devices: [AcquisitionDevice]

    public init(id: String, endpoint: ModbusEndpoint, timeout: Duration = .seconds(1), turnaroundDelay: Duration = .zero,
                connectDelay: Duration = .zero, devices: [AcquisitionDevice]) {
        self.id = id
        self.endpoint = endpoint
        self.timeout = timeout
        self.turnaroundDelay = turnaroundDelay
        self.connectDelay = connectDelay
        self.devices = devices
    }
}

/// When to read.
public struct CadenceSettings: Sendable, Hashable {
    /// Fast points every cycle, aligned to multiples of the cycle on the wall clock.
    public var cycle: Duration
    public var slowInterval: Duration
    /// Longest pause between re-probes of a failing device.
    public var backoffLimit: Duration

    public init(cycle: Duration = .seconds(1), slowInterval: Duration = .seconds(60), backoffLimit: Duration = .seconds(60)) {
        self.cycle = cycle
        self.slowInterval = slowInterval
        self.backoffLimit = backoffLimit
    }

    /// Pause before re-probing after `failures` consecutive failed cycles: one cycle, then
    /// doubling, capped at `backoffLimit`.
    public func backoff(afterFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        var delay = cycle
        for _ in 1..<min(failures, 32) {
            delay *= 2
            if delay >= backoffLimit { return backoffLimit }
        }
        return min(delay, backoffLimit)
    }

    /// The same cadence measured in real (monotonic) time while `clock` may run faster (tests and
    /// demos with `--speed`): pollers time back-off and slow points on the monotonic clock, so at
    /// 60× one cycle of back-off must be 1/60 of the cycle, not a whole cycle of real time.
    public func inRealTime(of clock: any UTCClock) -> CadenceSettings {
        func real(_ duration: Duration) -> Duration {
            let (seconds, attoseconds) = duration.components
            return realSleepDuration(clock, milliseconds: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        }
        return CadenceSettings(cycle: real(cycle), slowInterval: real(slowInterval), backoffLimit: real(backoffLimit))
    }
}

extension RegisterTable {
    var modbusKind: RegisterKind {
        switch self {
        case .holding: .holding
        case .input: .input
        case .coil: .coil
        case .discreteInput: .discreteInput
        }
    }
}
