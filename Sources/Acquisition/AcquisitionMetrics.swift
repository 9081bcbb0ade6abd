import ModbusIO
import Synchronization

/// Transaction counters, errors by kind, latency histograms and bus utilisation, per device and
/// per bus. Injected (no process-wide metrics system); the agent renders it as Prometheus text.
public final class AcquisitionMetrics: Sendable {
    /// Upper bounds of the latency buckets, in milliseconds (the last bucket is +Inf).
    public static let latencyBucketsMs: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]

    public struct LatencyHistogram: Sendable, Hashable {
        /// Cumulative counts are computed on rendering; these are per-bucket counts, plus +Inf.
        public var bucketCounts = [Int](repeating: 0, count: AcquisitionMetrics.latencyBucketsMs.count + 1)
        public var sumSeconds = 0.0
        public var count = 0

        mutating func observe(_ duration: Duration) {
            let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
            let bucket = AcquisitionMetrics.latencyBucketsMs.firstIndex { milliseconds <= $0 } ?? AcquisitionMetrics.latencyBucketsMs.count
            bucketCounts[bucket] += 1
            sumSeconds += milliseconds / 1000
            count += 1
        }
    }

    public struct DeviceCounters: Sendable, Hashable {
        public var bus: String
        public var transactions = 0
        /// By kind: `timeout`, `exception_2`, `crc`, `connection`, `invalid_response`, `other`.
        public var errors: [String: Int] = [:]
        public var latency = LatencyHistogram()
        public var cycles = 0
    }

    public struct BusCounters: Sendable, Hashable {
        public var transactions = 0
        public var errors = 0
        /// Time inside transactions, including turnaround and request delays.
        public var busy: Duration = .zero
        /// Time the bus has been polled.
        public var elapsed: Duration = .zero
        public var cycles = 0
        /// Cycles that took longer than the cycle time (the next cycle was skipped).
        public var overruns = 0

        /// Busy share of the elapsed time, 0…1.
        public var utilisation: Double {
            let total = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let used = Double(busy.components.seconds) + Double(busy.components.attoseconds) / 1e18
            return total > 0 ? min(1, used / total) : 0
        }
    }

    public struct Snapshot: Sendable, Hashable {
        public var devices: [String: DeviceCounters]
        public var buses: [String: BusCounters]
    }

    /// One shard per bus: each bus thread records into its own lock, so 200 buses finishing their
    /// transactions in the same millisecond do not queue on one mutex (they did: 3 % of the
    /// agent's CPU was `_lockSlow` here). Shards are created once and never removed.
    private let shards = Mutex<[String: BusMetrics]>([:])

    public init() {}

    /// The shard of `bus`, for callers that record often (resolve it once).
    public func bus(_ id: String) -> BusMetrics {
        shards.withLock { shards in
            if let shard = shards[id] { return shard }
            let shard = BusMetrics(bus: id)
            shards[id] = shard
            return shard
        }
    }

    /// The error kind label used in metrics.
    public static func kindLabel(_ error: ModbusError) -> String {
        switch error.kind {
        case .timeout: "timeout"
        case .exception(let exception): "exception_\(exception.rawValue)"
        case .badCRC: "crc"
        case .connectionFailed, .connectionLost: "connection"
        case .invalidResponse: "invalid_response"
        default: "other"
        }
    }

    public func recordTransaction(bus: String, device: String, latency: Duration, error: ModbusError?) {
        self.bus(bus).recordTransaction(device: device, latency: latency, error: error)
    }

    public func recordDeviceCycle(bus: String, device: String) {
        self.bus(bus).recordDeviceCycle(device: device)
    }

    public func recordBusCycle(bus: String, busy: Duration, elapsed: Duration, overrun: Bool) {
        self.bus(bus).recordCycle(busy: busy, elapsed: elapsed, overrun: overrun)
    }

    public func snapshot() -> Snapshot {
        var snapshot = Snapshot(devices: [:], buses: [:])
        for shard in shards.withLock({ Array($0.values) }) {
            let (devices, counters) = shard.state.withLock { ($0.devices, $0.bus) }
            snapshot.buses[shard.bus] = counters
            // Device ids are unique in a configuration; should one appear on two buses, its counts add up.
            snapshot.devices.merge(devices) { first, second in
                var merged = first
                merged.transactions += second.transactions
                merged.cycles += second.cycles
                merged.errors.merge(second.errors, uniquingKeysWith: +)
                for index in merged.latency.bucketCounts.indices { merged.latency.bucketCounts[index] += second.latency.bucketCounts[index] }
                merged.latency.sumSeconds += second.latency.sumSeconds
                merged.latency.count += second.latency.count
                return merged
            }
        }
        return snapshot
    }

    /// Prometheus text exposition of everything above.
    public func prometheusText() -> String {
        let snapshot = snapshot()
        // One string, reserved up front: with 200 devices the text is about 17 lines per device,
        // and an array of line strings joined at the end was the agent's largest heap peak (1.1 MB
        // per scrape in heaptrack).
        var text = ""
        text.reserveCapacity(200 + snapshot.devices.count * (Self.latencyBucketsMs.count + 6) * 110 + snapshot.buses.count * 120)
        func line(_ content: String) {
            text += content
            text += "\n"
        }
        line("# TYPE hubmeter_modbus_transactions_total counter")
        for (device, counters) in snapshot.devices.sorted(by: { $0.key < $1.key }) {
            line("hubmeter_modbus_transactions_total{bus=\"\(counters.bus)\",device=\"\(device)\"} \(counters.transactions)")
        }
        line("# TYPE hubmeter_modbus_errors_total counter")
        for (device, counters) in snapshot.devices.sorted(by: { $0.key < $1.key }) {
            for (kind, count) in counters.errors.sorted(by: { $0.key < $1.key }) {
                line("hubmeter_modbus_errors_total{bus=\"\(counters.bus)\",device=\"\(device)\",kind=\"\(kind)\"} \(count)")
            }
        }
        line("# TYPE hubmeter_modbus_latency_seconds histogram")
        for (device, counters) in snapshot.devices.sorted(by: { $0.key < $1.key }) {
            var cumulative = 0
            for (index, bound) in Self.latencyBucketsMs.enumerated() {
                cumulative += counters.latency.bucketCounts[index]
                line("hubmeter_modbus_latency_seconds_bucket{bus=\"\(counters.bus)\",device=\"\(device)\",le=\"\(bound / 1000)\"} \(cumulative)")
            }
            line("hubmeter_modbus_latency_seconds_bucket{bus=\"\(counters.bus)\",device=\"\(device)\",le=\"+Inf\"} \(counters.latency.count)")
            line("hubmeter_modbus_latency_seconds_sum{bus=\"\(counters.bus)\",device=\"\(device)\"} \(counters.latency.sumSeconds)")
            line("hubmeter_modbus_latency_seconds_count{bus=\"\(counters.bus)\",device=\"\(device)\"} \(counters.latency.count)")
        }
        line("# TYPE hubmeter_modbus_bus_utilisation_ratio gauge")
        for (bus, counters) in snapshot.buses.sorted(by: { $0.key < $1.key }) {
            line("hubmeter_modbus_bus_utilisation_ratio{bus=\"\(bus)\"} \(counters.utilisation)")
        }
        line("# TYPE hubmeter_modbus_bus_overruns_total counter")
        for (bus, counters) in snapshot.buses.sorted(by: { $0.key < $1.key }) {
            line("hubmeter_modbus_bus_overruns_total{bus=\"\(bus)\"} \(counters.overruns)")
        }
        return text
    }
}

/// The counters of one bus and its devices, behind the bus's own lock (see ``AcquisitionMetrics/bus(_:)``).
public final class BusMetrics: Sendable {
    public let bus: String
    let state = Mutex<(devices: [String: AcquisitionMetrics.DeviceCounters], bus: AcquisitionMetrics.BusCounters)>(
        (devices: [:], bus: AcquisitionMetrics.BusCounters()))

    init(bus: String) { self.bus = bus }

    public func recordTransaction(device: String, latency: Duration, error: ModbusError?) {
        let bus = bus
        state.withLock { state in
            state.devices[device, default: AcquisitionMetrics.DeviceCounters(bus: bus)].transactions += 1
            state.devices[device]!.latency.observe(latency)
            state.bus.transactions += 1
            if let error {
                state.devices[device]!.errors[AcquisitionMetrics.kindLabel(error), default: 0] += 1
                state.bus.errors += 1
            }
        }
    }

    public func recordDeviceCycle(device: String) {
        let bus = bus
        state.withLock { $0.devices[device, default: AcquisitionMetrics.DeviceCounters(bus: bus)].cycles += 1 }
    }

    public func recordCycle(busy: Duration, elapsed: Duration, overrun: Bool) {
        state.withLock { state in
            state.bus.busy = busy
            state.bus.elapsed = elapsed
            state.bus.cycles += 1
            if overrun { state.bus.overruns += 1 }
        }
    }
}
