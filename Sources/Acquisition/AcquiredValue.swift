import DeviceProfiles
import HubDomain

/// How far a value can be trusted.
public enum AcquisitionQuality: Sendable, Hashable, CustomStringConvertible {
    /// Read in the device's latest cycle.
    case good
    /// The device is not answering (backing off); this is the last good value, `ageMs` old.
    case stale(ageMs: Int64)
    /// The device says "not implemented" (a sentinel or NaN) or the scale factor is missing: no value, never zero.
    case missing
    /// The read failed; `code` is the error's code (`modbus.timeout`, `modbus.exception.2`, …).
    case error(code: String, message: String)

    public var description: String {
        switch self {
        case .good: "good"
        case .stale(let age): "stale (\(age) ms)"
        case .missing: "missing"
        case .error(let code, _): "error (\(code))"
        }
    }
}

/// One point's value as acquired: the device, when (wall clock and monotonic), and its quality.
public struct AcquiredValue: Sendable, Hashable {
    public var device: String
    public var point: String
    /// The physical value in the hub's sign convention; nil unless the quality allows one.
    public var value: Double?
    /// Text of string points (model, serial number).
    public var text: String?
    public var unit: String?
    public var quality: AcquisitionQuality
    /// Wall-clock time of the read that produced the value (UTC).
    public var acquiredAt: UTCMilliseconds?
    /// Monotonic time of the same read, for ages and rates that must not jump with NTP.
    public var acquiredAtMonotonic: ContinuousClock.Instant?

    public init(device: String, point: String, value: Double? = nil, text: String? = nil, unit: String? = nil,
                quality: AcquisitionQuality, acquiredAt: UTCMilliseconds? = nil, acquiredAtMonotonic: ContinuousClock.Instant? = nil) {
        self.device = device
        self.point = point
        self.value = value
        self.text = text
        self.unit = unit
        self.quality = quality
        self.acquiredAt = acquiredAt
        self.acquiredAtMonotonic = acquiredAtMonotonic
    }
}

/// Whether a device answers, and when it is tried again.
public struct DeviceHealth: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        /// Not polled yet.
        case unknown
        case online
        /// Failing: skipped until `retryAt`, then re-probed.
        case backingOff = "backing_off"
    }

    public var state: State = .unknown
    public var consecutiveFailures = 0
    public var retryAt: ContinuousClock.Instant?
    public var lastError: String?

    public init() {}
}

/// Everything known about one device after a cycle.
public struct DeviceSnapshot: Sendable {
    public var device: String
    public var profile: String
    /// One value per profile point, in profile order.
    public var values: [AcquiredValue]
    /// The values that are canonical quantities, by quantity.
    public var canonical: [CanonicalQuantity: AcquiredValue]
    public var health: DeviceHealth
    /// For SunSpec devices: the models discovery found.
    public var sunspecModels: [DiscoveredModel]

    public func value(_ point: String) -> AcquiredValue? { values.first { $0.point == point } }
}
