import HubAgent
import Acquisition
import ArgumentParser
import ConfigReading
import DeviceProfiles
import Foundation
import HubConfiguration
import HubDomain
import HubSupport
import Logging
import ModbusIO

/// How to reach a device given on the command line rather than in the configuration.
struct LinkOptions: ParsableArguments {
    @Option(help: "Serial speed for a serial port.") var baud: Int = 9600
    @Option(help: "Serial parity: none, even or odd.") var parity: String = "none"
    @Option(help: "Serial data bits.") var dataBits: Int = 8
    @Option(help: "Serial stop bits.") var stopBits: Int = 1
    @Flag(help: "Switch the serial port to RS-485 mode (where the driver supports it).") var rs485 = false
    @Option(help: "Response timeout, for example 300ms or 2s.") var timeout: String = "1s"
    @Option(help: "Directory with profiles/ and sunspec/models/ (default: the checkout's Config/, else /usr/local/share/hubmeter).")
    var dataDir: String?
    @Option(help: "Another directory with profile YAML files (may be repeated).") var profileDir: [String] = []

    func endpoint(_ target: String) throws -> ModbusEndpoint {
        if target.hasPrefix("tcp://") {
            let rest = target.dropFirst(6)
            let parts = rest.split(separator: ":")
            guard parts.count <= 2, let host = parts.first.map(String.init), !host.isEmpty else {
                throw ValidationError("'\(target)' is not tcp://HOST:PORT")
            }
            guard let port = parts.count == 2 ? Int(parts[1]) : 502, (1...65535).contains(port) else {
                throw ValidationError("'\(target)': the port must be 1–65535")
            }
            return .tcp(host: host, port: port)
        }
        guard target.hasPrefix("/") else { throw ValidationError("'\(target)' is neither tcp://HOST:PORT nor a serial device path such as /dev/ttyUSB0") }
        let serialParity: ModbusEndpoint.SerialParameters.Parity
        switch parity {
        case "none": serialParity = .none
        case "even": serialParity = .even
        case "odd": serialParity = .odd
        default: throw ValidationError("--parity must be none, even or odd")
        }
        return .rtu(.init(device: target, baud: baud, parity: serialParity, dataBits: dataBits, stopBits: stopBits, rs485: rs485))
    }

    func responseTimeout() throws -> Duration {
        guard let duration = Self.parseDuration(timeout) else { throw ValidationError("--timeout: expected a duration such as 300ms or 2s") }
        return duration
    }

    static func parseDuration(_ text: String) -> Duration? {
        if text.hasSuffix("ms"), let value = Double(text.dropLast(2)) { return .milliseconds(Int64(value)) }
        if text.hasSuffix("s"), let value = Double(text.dropLast(1)) { return .milliseconds(Int64(value * 1000)) }
        return nil
    }

    func catalog() throws -> ProfileCatalog {
        do {
            return try ProfileCatalog(dataDirectory: DataDirectory.resolve(dataDir), userDirectories: profileDir)
        } catch {
            ConsoleOutput.standardError(error.description)
            throw ExitCode(ExitStatus.configurationError.rawValue)
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, json }

/// `hubmeter read`: decoded values of a configured or ad-hoc device, once or continuously.
struct ReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read and decode a device's values.",
        discussion: """
        DEVICE is a device id from the agent configuration, or tcp://HOST:PORT or a serial device path
        together with --unit and --profile. --plan prints the read requests instead of reading.
        """)

    @Argument(help: "A device id from the configuration, tcp://HOST:PORT, or a serial device such as /dev/ttyUSB0.") var device: String
    @Option(help: "The agent configuration (for a device id).") var config: String = "/etc/hubmeter/agent.yaml"
    @Option(help: "Unit id of an ad-hoc device.") var unit: Int?
    @Option(help: "Profile of an ad-hoc device (a file name in the profile directories, or sunspec).") var profile: String?
    @Flag(help: "Print the read plan (requests per cycle kind) and exit.") var plan = false
    @Flag(help: "Keep reading every cycle until interrupted.") var watch = false
    @Option(help: "Cycle for --watch, for example 1s.") var interval: String = "1s"
    @Option(help: "Output: table or json.") var format: OutputFormat = .table
    @OptionGroup var link: LinkOptions

    func run() async throws {
        let catalog = try link.catalog()
        let (bus, target) = try resolve(catalog)
        if plan {
            printPlan(target, catalog: catalog)
            return
        }
        let metrics = AcquisitionMetrics()
        if !watch {
            let connection = try ModbusConnection(endpoint: bus.endpoint, responseTimeout: bus.timeout)
            let snapshot = await AcquisitionService.readOnce(target, on: connection, bus: bus, library: catalog.library,
                                                             clock: SystemWallClock(), metrics: metrics)
            print(render(snapshot))
            if snapshot.health.state != .online { throw ExitCode(ExitStatus.unavailable.rawValue) }
            return
        }
        guard let cycle = LinkOptions.parseDuration(interval) else { throw ValidationError("--interval: expected a duration such as 1s") }
        var single = bus
        single.devices = [target]
        let service = try AcquisitionService(buses: [single], cadence: CadenceSettings(cycle: cycle, slowInterval: max(cycle, .seconds(60))),
                                             library: catalog.library, clock: SystemWallClock(), metrics: metrics,
                                             logger: Logger(label: "hubmeter.read") { _ in SwiftLogNoOpLogHandler() })
        let format = format
        await service.run { snapshot in print(Self.render(snapshot, format: format)) }
    }

    func resolve(_ catalog: ProfileCatalog) throws -> (AcquisitionBus, AcquisitionDevice) {
        if device.hasPrefix("tcp://") || device.hasPrefix("/") {
            guard let unit else { throw ValidationError("an ad-hoc device needs --unit") }
            guard let profileID = profile else { throw ValidationError("an ad-hoc device needs --profile (one of: \(catalog.profiles.keys.sorted().joined(separator: ", ")))") }
            guard let profile = catalog.profile(profileID) else {
                throw ValidationError("no profile '\(profileID)'; available: \(catalog.profiles.keys.sorted().joined(separator: ", "))")
            }
            let target = AcquisitionDevice(id: "adhoc", unitID: unit, profile: profile)
            return (AcquisitionBus(id: "adhoc", endpoint: try link.endpoint(device), timeout: try link.responseTimeout(), devices: [target]), target)
        }
        let configuration: AgentConfiguration
        do {
            configuration = try AgentConfiguration.load(path: config, environment: SecretEnvironment.process(ProcessEnvironment.current))
        } catch {
            ConsoleOutput.standardError(error.description)
            throw ExitCode(ExitStatus.configurationError.rawValue)
        }
        let buses: [AcquisitionBus]
        do {
            buses = try AcquisitionSetup.buses(from: configuration, catalog: catalog)
        } catch {
            ConsoleOutput.standardError(error.description)
            throw ExitCode(ExitStatus.configurationError.rawValue)
        }
        for bus in buses {
            if let target = bus.devices.first(where: { $0.id == device }) { return (bus, target) }
        }
        throw ValidationError("no device '\(device)' in \(config); devices: \(buses.flatMap(\.devices).map(\.id).joined(separator: ", "))")
    }

    func printPlan(_ device: AcquisitionDevice, catalog: ProfileCatalog) {
        if device.profile.sunspec != nil && device.profile.points.isEmpty {
            print("\(device.id): profile \(device.profile.id) is built by SunSpec discovery; run without --plan to read it, or use hubmeter scan")
            return
        }
        let plans = AcquisitionService.plans(for: device)
        print("\(device.id): profile \(device.profile.id) (\(catalog.sources[device.profile.id] ?? "built in")), unit \(device.unitID)")
        for (label, plan) in [("every cycle (fast)", plans.fast), ("when the slow interval is due", plans.fastAndSlow), ("after connect (all)", plans.all)] {
            print("  \(label): \(plan.requests.count) read\(plan.requests.count == 1 ? "" : "s"), \(plan.registerCount) registers")
            for (index, request) in plan.requests.enumerated() {
                let names = plan.points.filter { $0.request == index }.map { device.profile.points[$0.point].name }
                print("    \(request): \(names.joined(separator: ", "))")
            }
        }
    }

    func render(_ snapshot: DeviceSnapshot) -> String { Self.render(snapshot, format: format) }

    static func render(_ snapshot: DeviceSnapshot, format: OutputFormat) -> String {
        switch format {
        case .json:
            let values: [[String: Any]] = snapshot.values.map { value in
                var entry: [String: Any] = ["device": value.device, "point": value.point, "quality": qualityName(value.quality)]
                if let number = value.value { entry["value"] = number }
                if let text = value.text { entry["text"] = text }
                if let unit = value.unit { entry["unit"] = unit }
                if let time = value.acquiredAt { entry["acquired_at_ms"] = time.rawValue }
                if case .stale(let age) = value.quality { entry["age_ms"] = age }
                if case .error(let code, let message) = value.quality { entry["error"] = ["code": code, "message": message] }
                if let quantity = snapshot.canonical.first(where: { $0.value.point == value.point })?.key { entry["canonical"] = quantity.rawValue }
                return entry
            }
            var document: [String: Any] = ["device": snapshot.device, "profile": snapshot.profile, "health": snapshot.health.state.rawValue, "values": values]
            if let error = snapshot.health.lastError { document["last_error"] = error }
            if !snapshot.sunspecModels.isEmpty { document["sunspec_models"] = snapshot.sunspecModels.map(\.id) }
            let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        case .table:
            var lines = ["\(snapshot.device) (\(snapshot.profile)): \(snapshot.health.state.rawValue)"
                + (snapshot.health.lastError.map { " – \($0)" } ?? "")]
            let canonicalPoints = Dictionary(snapshot.canonical.map { ($0.value.point, $0.key.rawValue) }, uniquingKeysWith: { first, _ in first })
            let rows = snapshot.values.map { value -> [String] in
                let shown = value.text ?? value.value.map { formatNumber($0) } ?? "–"
                return [value.point, shown, value.unit ?? "", qualityName(value.quality), canonicalPoints[value.point] ?? ""]
            }
            let header = ["point", "value", "unit", "quality", "canonical"]
            let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                lines.append(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
            return lines.joined(separator: "\n")
        }
    }

    static func qualityName(_ quality: AcquisitionQuality) -> String {
        switch quality {
        case .good: "good"
        case .stale(let age): "stale \(age)ms"
        case .missing: "missing"
        case .error(let code, _): code
        }
    }

    static func formatNumber(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// `hubmeter scan`: which unit ids answer on a TCP endpoint or serial port, their SunSpec models,
/// or the profiles whose registers they serve.
struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find Modbus devices on a TCP endpoint or serial port.",
        discussion: "For each unit id: SunSpec models if the device has the SunS marker, otherwise the shipped profiles whose registers it serves.")

    @Argument(help: "tcp://HOST:PORT or a serial device path.") var target: String
    @Option(help: "Unit ids to try, for example 1-10 or 1,2,100.") var units: String = "1-10"
    @Option(help: "Output: table or json.") var format: OutputFormat = .table
    @OptionGroup var link: LinkOptions

    struct Found {
        var unit: Int
        var sunspec: SunSpecDiscovery.Result?
        var profiles: [String]
    }

    func run() async throws {
        let catalog = try link.catalog()
        let endpoint = try link.endpoint(target)
        let connection = try ModbusConnection(endpoint: endpoint, responseTimeout: try link.responseTimeout())
        var found: [Found] = []
        for unit in try parseUnits() {
            guard let result = await probe(unit, connection: connection, catalog: catalog) else { continue }
            found.append(result)
            if format == .table { print(describe(result, library: catalog.library)) }
        }
        if format == .json {
            let document: [[String: Any]] = found.map { entry in
                var item: [String: Any] = ["unit": entry.unit, "profiles": entry.profiles]
                if let sunspec = entry.sunspec {
                    item["sunspec"] = ["base": sunspec.base, "models": sunspec.models.map { ["id": $0.id, "address": $0.address, "length": $0.length] }]
                }
                return item
            }
            let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else if found.isEmpty {
            print("no device answered on \(endpoint) (units \(units))")
        }
    }

    func parseUnits() throws -> [Int] {
        var result: [Int] = []
        for part in units.split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            guard (1...2).contains(bounds.count), bounds.allSatisfy({ (0...255).contains($0) }), bounds.first! <= bounds.last! else {
                throw ValidationError("--units: expected ranges such as 1-10 or 1,2,100 within 0–255")
            }
            result += Array(bounds.first!...bounds.last!)
        }
        return result
    }

    /// nil when the unit does not answer at all.
    func probe(_ unit: Int, connection: ModbusConnection, catalog: ProfileCatalog) async -> Found? {
        do {
            if let result = try await SunSpecDiscovery.discover(connection, unit: unit) {
                return Found(unit: unit, sunspec: result, profiles: ["sunspec"])
            }
        } catch {
            return nil // silent or absent: a timeout, or a gateway saying the target does not answer
        }
        var matches: [String] = []
        for (id, profile) in catalog.profiles.sorted(by: { $0.key < $1.key }) where !profile.points.isEmpty {
            let plan = DevicePlans(profile: profile, limits: PlanningLimits(profile.options)).fast
            var served = true
            for request in plan.requests {
                do {
                    if request.table.isBit {
                        _ = try await connection.readBits(request.table == .coil ? .coil : .discreteInput, address: request.address, count: request.count, unit: unit)
                    } else {
                        _ = try await connection.readRegisters(request.table == .input ? .input : .holding, address: request.address, count: request.count, unit: unit)
                    }
                } catch {
                    served = false
                    break
                }
            }
            if served { matches.append(id) }
        }
        return Found(unit: unit, sunspec: nil, profiles: matches)
    }

    func describe(_ found: Found, library: SunSpecModelLibrary) -> String {
        if let sunspec = found.sunspec {
            let models = sunspec.models.map { model in "\(model.id)\(library[model.id].map { " (\($0.name))" } ?? " (no definition)")" }
            return "unit \(found.unit): SunSpec at \(sunspec.base): " + models.joined(separator: ", ")
        }
        if found.profiles.isEmpty { return "unit \(found.unit): answers, but serves no shipped profile's registers" }
        return "unit \(found.unit): serves the registers of " + found.profiles.joined(separator: ", ")
    }
}
