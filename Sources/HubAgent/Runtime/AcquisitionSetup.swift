import Acquisition
import DeviceProfiles
import Foundation
import HubConfiguration
import HubSupport
import ModbusIO

/// Where profiles and SunSpec model definitions live: `--data-dir`, else the repository's
/// `Config/` when the binary runs from a checkout, else /usr/local/share/hubmeter.
public enum DataDirectory {
    public static let installed = "/usr/local/share/hubmeter"

    public static func resolve(_ explicit: String?) -> String {
        if let explicit { return explicit }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = url.appendingPathComponent("Config")
            if FileManager.default.fileExists(atPath: candidate.path + "/sunspec/models") { return candidate.path }
            url.deleteLastPathComponent()
        }
        return installed
    }
}

/// A device the configuration names but the acquisition cannot set up (unknown profile).
public struct AcquisitionSetupError: HubError {
    public let device: String
    public let problem: String
    public var code: String { "acquisition.setup" }
    public var description: String { "device '\(device)': \(problem)" }
}

/// Turns the agent configuration into buses and devices to poll.
public enum AcquisitionSetup {
    public static func buses(from configuration: AgentConfiguration, catalog: ProfileCatalog) throws(AcquisitionSetupError) -> [AcquisitionBus] {
        var result: [AcquisitionBus] = []
        for bus in configuration.buses {
            var devices: [AcquisitionDevice] = []
            for device in configuration.hub.devices where device.bus == bus.id {
                guard let profile = catalog.profile(device.profile) else {
                    throw AcquisitionSetupError(device: device.id, problem: "profile '\(device.profile)' not found; available: "
                        + catalog.profiles.keys.sorted().joined(separator: ", "))
                }
                devices.append(AcquisitionDevice(id: device.id, unitID: device.unitID, profile: profile, writable: device.writable,
                                                 invertPower: device.invertPower, requestDelay: device.requestDelay,
                                                 maxGap: device.maxGap, timeout: device.timeout))
            }
            result.append(AcquisitionBus(id: bus.id, endpoint: endpoint(bus.transport), timeout: bus.timeout,
                                         turnaroundDelay: bus.turnaroundDelay, connectDelay: bus.connectDelay, devices: devices))
        }
        // A one-client device (Huawei dongle) must not see a second connection from us.
        var busesByEndpoint: [ModbusEndpoint: [AcquisitionBus]] = [:]
        for bus in result { busesByEndpoint[bus.endpoint, default: []].append(bus) }
        for (endpoint, buses) in busesByEndpoint where buses.count > 1 {
            if let device = buses.flatMap(\.devices).first(where: { $0.profile.options.singleClient }) {
                throw AcquisitionSetupError(device: device.id, problem: "profile '\(device.profile.id)' accepts one client only, but \(endpoint) "
                    + "is used by buses \(buses.map(\.id).joined(separator: ", ")); put all devices behind it on one bus")
            }
        }
        return result
    }

    public static func cadence(_ polling: PollingSettings) -> CadenceSettings {
        CadenceSettings(cycle: polling.cycle, slowInterval: polling.slowInterval, backoffLimit: polling.backoffLimit)
    }

    static func endpoint(_ transport: BusSettings.Transport) -> ModbusEndpoint {
        switch transport {
        case .tcp(let host, let port):
            return .tcp(host: host, port: port)
        case .rtu(let line):
            let parity: ModbusEndpoint.SerialParameters.Parity = switch line.parity {
            case .none: .none
            case .even: .even
            case .odd: .odd
            }
            return .rtu(.init(device: line.device, baud: line.baud, parity: parity, dataBits: line.dataBits, stopBits: line.stopBits, rs485: line.rs485))
        }
    }
}
