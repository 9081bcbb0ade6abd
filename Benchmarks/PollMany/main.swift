import Acquisition
import DeviceProfiles
import Foundation
import HubDomain
import Logging
import ModbusIO
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// Polls N Modbus TCP devices (one endpoint each, 127.0.0.1:BASE…BASE+N-1, unit 1, the
// Carlo Gavazzi EM24 profile: 2 reads of 68 + 2 registers per cycle) at 1 Hz for a while and
// reports this process's CPU time. Usage: PollMany BASE_PORT COUNT SECONDS REPO_ROOT
let arguments = CommandLine.arguments
guard arguments.count == 5, let basePort = Int(arguments[1]), let count = Int(arguments[2]), let seconds = Int(arguments[3]) else {
    print("usage: PollMany BASE_PORT COUNT SECONDS REPO_ROOT")
    exit(64)
}
let catalog = try ProfileCatalog(dataDirectory: arguments[4] + "/Config")
let profile = catalog.profile("carlo-gavazzi-em24")!
let buses = (0..<count).map { index in
    AcquisitionBus(id: "dev\(index)", endpoint: .tcp(host: "127.0.0.1", port: basePort + index), timeout: .milliseconds(500),
                   devices: [AcquisitionDevice(id: "dev\(index)", unitID: 1, profile: profile)])
}
let metrics = AcquisitionMetrics()
let service = try AcquisitionService(buses: buses, cadence: CadenceSettings(cycle: .seconds(1)), library: catalog.library,
                                     clock: SystemWallClock(), metrics: metrics, logger: Logger(label: "poll-many") { _ in SwiftLogNoOpLogHandler() })
final class Counter: @unchecked Sendable {
    // Written only from the sink under the lock.
    let lock = NSLock()
    var good = 0, bad = 0
}
let counter = Counter()
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}
let task = Task {
    await service.run { snapshot in
        counter.lock.withLock {
            if snapshot.canonical[.gridPower]?.quality == .good { counter.good += 1 } else { counter.bad += 1 }
        }
    }
}
// Warm up (connects, static reads), then measure whole seconds.
try await Task.sleep(for: .seconds(3))
let cpuStart = cpuSeconds(), wallStart = ContinuousClock.now
let goodStart = counter.lock.withLock { counter.good }
try await Task.sleep(for: .seconds(seconds))
let cpu = cpuSeconds() - cpuStart
let wall = ContinuousClock.now - wallStart
let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
let (good, bad) = counter.lock.withLock { (counter.good - goodStart, counter.bad) }
task.cancel()
let transactions = metrics.snapshot().devices.values.reduce(0) { $0 + $1.transactions }
let errors = metrics.snapshot().devices.values.reduce(0) { $0 + $1.errors.values.reduce(0, +) }
print(String(format: "devices=%d seconds=%.1f cpu_seconds=%.3f cpu_share_of_one_core=%.2f%% good_device_cycles=%d (expected %d) failed_device_cycles=%d transactions=%d errors=%d",
             count, wallSeconds, cpu, 100 * cpu / wallSeconds, good, count * seconds, bad, transactions, errors))
