import Benchmark
import HubDomain

/// A hub of `count` participants (each with a grid meter, every third with PV and a battery),
/// a collective PV field and a hub battery, with readings for every device.
final class BenchmarkHub: @unchecked Sendable {
    // Only touched by one benchmark at a time (the runner executes benchmarks sequentially).
    var balancer: RealTimeBalancer
    var readings: BalanceReadings
    var now: UTCMilliseconds
    var cycle = 0
    let gridSlots: [DeviceSlot]

    init(count: Int, key: AllocationKey) {
        let start = UTCMilliseconds(epochSeconds: 1_772_360_100)
        var participants: [Participant] = []
        for index in 0..<count {
            let id = "company-\(index)"
            var devices = [Device(id: DeviceID(id + "-grid"), kind: .gridMeter)]
            if index % 3 == 0 {
                devices.append(Device(id: DeviceID(id + "-pv"), kind: .pvInverter))
                devices.append(Device(id: DeviceID(id + "-bat"), kind: .battery))
            }
            participants.append(Participant(id: ParticipantID(id), devices: devices))
        }
        let owners = (0..<10).map { OwnershipShare(participant: ParticipantID("company-\($0)"), share: 0.1) }
        let model = HubModel(
            hubID: "bench", participants: participants,
            sharedAssets: [
                SharedAsset(id: "field", device: Device(id: "field-pv", kind: .pvInverter), ownership: owners),
                SharedAsset(id: "hubbat", device: Device(id: "hub-bat", kind: .battery), ownership: owners),
            ],
            allocationKey: key)
        // Readings that are not refreshed stay fresh for the whole run, so every cycle takes the
        // complete (most expensive) path.
        var balancer = try! RealTimeBalancer(model: model, configuration: BalanceConfiguration(staleAfterMs: 1 << 40))
        var readings = balancer.makeReadings()
        let topology = balancer.topology
        gridSlots = participants.map { topology.gridMeterSlot(of: topology.slot(of: $0.id)!) }
        var generator: UInt64 = 0x2545_F491_4F6C_DD1D
        for slot in 0..<topology.deviceCount {
            generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let value = Double(generator >> 40 & 0x1FFF) - 3000  // −3000…5191 W: importers and exporters
            readings[DeviceSlot(slot)] = Reading(value: value, acquiredAt: start)
        }
        balancer.compute(readings, now: start)
        self.balancer = balancer
        self.now = start
        self.readings = readings
    }

    /// One agent cycle: a tenth of the grid meters report new values, then the balance runs.
    @inline(__always)
    func cycleOnce() {
        cycle += 1
        now = now.adding(milliseconds: 100)
        var index = cycle % 10
        while index < gridSlots.count {
            let slot = gridSlots[index]
            let old = readings[slot].value
            readings[slot] = Reading(value: old > 4000 ? -2500 : old + 7, acquiredAt: now)
            index += 10
        }
        balancer.compute(readings, now: now)
    }
}

let proRataHub = BenchmarkHub(count: 1000, key: .proRataConsumption)
let equalSharesHub = BenchmarkHub(count: 1000, key: .equalShares)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(3)
    Benchmark.defaultConfiguration.maxIterations = 20_000

    Benchmark(
        "balance 1000 participants",
        configuration: .init(metrics: [.wallClock, .mallocCountTotal, .cpuTotal])
    ) { benchmark in
        proRataHub.cycleOnce()
        blackHole(proRataHub.balancer.hub.netGridW)
    }

    // The harness's own mallocs per sample with the same metrics (collecting .cpuTotal
    // allocates): a cycle is allocation-free when its count equals this baseline.
    Benchmark(
        "harness baseline (empty)", configuration: .init(metrics: [.wallClock, .mallocCountTotal, .cpuTotal])
    ) { _ in
        blackHole(0)
    }

    // 1000 cycles per sample (counts are reported per cycle): the harness's per-sample mallocs
    // are spread over 1000 cycles, so any allocation in a cycle would show as ≥ 1.
    Benchmark(
        "balance 1000 participants x1000 cycles",
        configuration: .init(metrics: [.wallClock, .mallocCountTotal, .cpuTotal], scalingFactor: .kilo, maxIterations: 200)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            proRataHub.cycleOnce()
        }
        blackHole(proRataHub.balancer.hub.netGridW)
    }

    Benchmark(
        "balance 1000 participants, equal shares (water-filling)",
        configuration: .init(metrics: [.wallClock, .mallocCountTotal, .cpuTotal])
    ) { benchmark in
        equalSharesHub.cycleOnce()
        blackHole(equalSharesHub.balancer.hub.allocatedW)
    }
}
