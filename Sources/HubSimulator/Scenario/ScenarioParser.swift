import ConfigReading

/// Reads a scenario YAML file. Every error names file:line:col and the key path; unknown keys
/// are errors, so a typo never silently changes the simulation.
public enum ScenarioParser {
    public static func load(path: String) throws(ConfigError) -> Scenario {
        try read(ConfigDocument.load(path: path))
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> Scenario {
        try read(ConfigDocument.parse(text, file: file))
    }

    static let deviceKeys = ["id", "map", "server", "unit_id", "initial_energy_kwh",
                             "rated_kw", "peak_kw", "modules",
                             "capacity_kwh", "max_charge_kw", "max_discharge_kw", "soc", "min_soc", "max_soc", "efficiency", "mode", "schedule"]
    static let pvKeys: Set<String> = ["rated_kw", "peak_kw", "modules"]
    static let batteryKeys: Set<String> = ["capacity_kwh", "max_charge_kw", "max_discharge_kw", "soc", "min_soc", "max_soc", "efficiency", "mode", "schedule"]
    static let exceptionCodes: Set<Int> = [1, 2, 3, 4, 5, 6, 7, 8, 10, 11]

    static func read(_ document: ConfigDocument) throws(ConfigError) -> Scenario {
        let root = try document.root.mapping(keys: ["name", "seed", "step", "sun", "servers", "companies", "shared_assets", "faults"])
        let name = try root.value("name", default: "hub simulation") { node throws(ConfigError) in try node.string() }
        let seed = try root.value("seed", default: 1) { node throws(ConfigError) in try node.int(in: 0...Int.max) }
        let step = try root.value("step", default: .seconds(1)) { node throws(ConfigError) in try node.duration(in: .milliseconds(100)...Duration.seconds(60)) }
        let sun = try root.value("sun", default: Scenario.Sun()) { node throws(ConfigError) in try readSun(node) }

        let serverNodes = try root.required("servers", expecting: "a list of Modbus TCP servers").sequence()
        var servers: [Scenario.Server] = []
        for node in serverNodes {
            let map = try node.mapping(keys: ["id", "transport", "host", "port", "link"])
            let id = try map.value("id", expecting: "a server id") { node throws(ConfigError) in try node.identifier() }
            if servers.contains(where: { $0.id == id }) {
                throw try map.required("id", expecting: "").error(.duplicateIdentifier, "server id '\(id)' is used twice")
            }
            let transport = try map.value("transport", default: .tcp) { node throws(ConfigError) in try node.choice(Scenario.Server.Transport.self) }
            for key in transport == .tcp ? ["link"] : ["host", "port"] {
                if let stray = map.optional(key) { throw stray.error(.inconsistent, "'\(key)' does not apply to a \(transport.rawValue) server") }
            }
            if transport == .rtu {
                let link = try map.optional("link").map { node throws(ConfigError) in
                    let path = try node.string()
                    guard path.hasPrefix("/") else { throw node.error(.invalidValue, "'\(path)' is not an absolute path") }
                    return path
                }
                servers.append(Scenario.Server(id: id, rtuLink: link))
                continue
            }
            let host = try map.value("host", default: "127.0.0.1") { node throws(ConfigError) in try node.string() }
            let port = try map.value("port", expecting: "a TCP port (0 picks a free one)") { node throws(ConfigError) in try node.int(in: 0...65535) }
            if port != 0, let other = servers.first(where: { $0.transport == .tcp && $0.port == port && $0.host == host }) {
                throw try map.required("port", expecting: "").error(.duplicateIdentifier, "port \(port) is already used by server '\(other.id)'")
            }
            servers.append(Scenario.Server(id: id, host: host, port: port))
        }
        if servers.isEmpty { throw try root.required("servers", expecting: "").error(.missingKey, "expected at least one server") }

        var groups: [Scenario.Group] = []
        var deviceIDs: Set<String> = []
        var units: Set<String> = []
        for (key, shared) in [("companies", false), ("shared_assets", true)] {
            guard let list = root.optional(key) else { continue }
            for node in try list.sequence() {
                let keys = shared ? ["id", "name", "devices"] : ["id", "name", "load", "devices"]
                let map = try node.mapping(keys: keys)
                let id = try map.value("id", expecting: "an id") { node throws(ConfigError) in try node.identifier() }
                if groups.contains(where: { $0.id == id }) {
                    throw try map.required("id", expecting: "").error(.duplicateIdentifier, "'\(id)' is used twice")
                }
                let groupName = try map.value("name", default: id) { node throws(ConfigError) in try node.string() }
                let load = shared ? nil : try map.value("load", expecting: "the company's consumption") { node throws(ConfigError) in try readLoad(node) }
                let devicesNode = try map.required("devices", expecting: "a list of devices")
                var devices: [Scenario.Device] = []
                for deviceNode in try devicesNode.sequence() {
                    let device = try readDevice(deviceNode, servers: servers)
                    if !deviceIDs.insert(device.id).inserted {
                        throw try deviceNode.mapping(keys: deviceKeys).required("id", expecting: "").error(.duplicateIdentifier, "device id '\(device.id)' is used twice")
                    }
                    if !units.insert("\(device.server)/\(device.unitID)").inserted {
                        throw try deviceNode.mapping(keys: deviceKeys).required("unit_id", expecting: "")
                            .error(.duplicateIdentifier, "unit id \(device.unitID) is already used on server '\(device.server)'")
                    }
                    if shared && device.role == .gridMeter {
                        throw deviceNode.error(.inconsistent, "a shared asset has no grid meter; expected a PV inverter or a battery")
                    }
                    devices.append(device)
                }
                if !shared && devices.filter({ $0.role == .gridMeter }).count != 1 {
                    throw devicesNode.error(.inconsistent, "a company needs exactly one grid meter, found \(devices.filter { $0.role == .gridMeter }.count)")
                }
                if shared && devices.isEmpty {
                    throw devicesNode.error(.inconsistent, "a shared asset needs at least one device")
                }
                groups.append(Scenario.Group(id: id, name: groupName, isSharedAsset: shared, load: load, devices: devices))
            }
        }
        if groups.isEmpty {
            throw ConfigError(.missingKey, file: document.file, keyPath: "companies", line: 1, column: 1, problem: "missing; expected at least one company")
        }

        var faults: [Scenario.Fault] = []
        if let list = root.optional("faults") {
            for node in try list.sequence() {
                faults.append(try readFault(node, devices: deviceIDs))
            }
        }
        return Scenario(name: name, seed: UInt64(seed), stepMs: milliseconds(step), sun: sun, servers: servers, groups: groups, faults: faults)
    }

    static func readSun(_ node: ConfigNode) throws(ConfigError) -> Scenario.Sun {
        let map = try node.mapping(keys: ["sunrise", "sunset", "clouds"])
        var sun = Scenario.Sun()
        sun.sunriseMinute = try map.value("sunrise", default: sun.sunriseMinute) { node throws(ConfigError) in try timeOfDay(node) }
        sun.sunsetMinute = try map.value("sunset", default: sun.sunsetMinute) { node throws(ConfigError) in try timeOfDay(node) }
        if sun.sunsetMinute <= sun.sunriseMinute {
            throw try map.required("sunset", expecting: "").error(.inconsistent, "sunset must be after sunrise (times are UTC)")
        }
        if let clouds = map.optional("clouds") {
            let cloudMap = try clouds.mapping(keys: ["cover", "depth", "cell"])
            sun.cloudCover = try cloudMap.value("cover", default: sun.cloudCover) { node throws(ConfigError) in try node.double(in: 0...1) }
            sun.cloudDepth = try cloudMap.value("depth", default: sun.cloudDepth) { node throws(ConfigError) in try node.double(in: 0...1) }
            sun.cloudCellMs = try cloudMap.value("cell", default: sun.cloudCellMs) { node throws(ConfigError) in
                milliseconds(try node.duration(in: .seconds(10)...Duration.seconds(86_400)))
            }
        }
        return sun
    }

    static func readLoad(_ node: ConfigNode) throws(ConfigError) -> Scenario.Load {
        let map = try node.mapping(keys: ["base_kw", "noise_kw", "shifts", "steps"])
        var load = Scenario.Load(baseWatts: try map.value("base_kw", expecting: "the base load in kW") { node throws(ConfigError) in try kilo(node) })
        load.noiseWatts = try map.value("noise_kw", default: 0) { node throws(ConfigError) in try kilo(node) }
        if let shifts = map.optional("shifts") {
            load.shifts = try readShifts(shifts)
        }
        if let steps = map.optional("steps") {
            for stepNode in try steps.sequence() {
                let stepMap = try stepNode.mapping(keys: ["every", "duration", "offset", "kw"])
                let every = milliseconds(try stepMap.value("every", expecting: "a period such as 20m") { node throws(ConfigError) in try node.duration(in: .seconds(1)...Duration.seconds(7 * 86_400)) })
                let duration = milliseconds(try stepMap.value("duration", expecting: "how long the machine runs, such as 5m") { node throws(ConfigError) in try node.duration() })
                if duration > every {
                    throw try stepMap.required("duration", expecting: "").error(.inconsistent, "longer than the period (every)")
                }
                let offset = milliseconds(try stepMap.value("offset", default: .zero) { node throws(ConfigError) in try node.duration() })
                let watts = try stepMap.value("kw", expecting: "the machine's power in kW") { node throws(ConfigError) in try kilo(node, signed: true) }
                load.steps.append(.init(everyMs: every, durationMs: duration, offsetMs: offset, watts: watts))
            }
        }
        return load
    }

    static func readShifts(_ node: ConfigNode) throws(ConfigError) -> [Scenario.Load.Shift] {
        var shifts: [Scenario.Load.Shift] = []
        for shiftNode in try node.sequence() {
            let shiftMap = try shiftNode.mapping(keys: ["from", "to", "kw"])
            let from = try shiftMap.value("from", expecting: "a UTC time such as \"06:00\"") { node throws(ConfigError) in try timeOfDay(node) }
            let to = try shiftMap.value("to", expecting: "a UTC time such as \"14:00\"") { node throws(ConfigError) in try timeOfDay(node) }
            let watts = try shiftMap.value("kw", expecting: "power in kW") { node throws(ConfigError) in try kilo(node, signed: true) }
            shifts.append(.init(fromMinute: from, toMinute: to, watts: watts))
        }
        return shifts
    }

    static func readDevice(_ node: ConfigNode, servers: [Scenario.Server]) throws(ConfigError) -> Scenario.Device {
        let map = try node.mapping(keys: deviceKeys)
        let id = try map.value("id", expecting: "a device id") { node throws(ConfigError) in try node.identifier() }
        let registerMap = try map.value("map", expecting: "a register map") { node throws(ConfigError) in try node.choice(Scenario.RegisterMap.self) }
        let serverNode = try map.required("server", expecting: "a server id")
        let server = try serverNode.identifier()
        guard servers.contains(where: { $0.id == server }) else {
            throw serverNode.error(.unknownReference, "no server '\(server)'; known: \(servers.map(\.id).joined(separator: ", "))")
        }
        let unit = try map.value("unit_id", expecting: "a Modbus unit id") { node throws(ConfigError) in try node.int(in: 1...247) }
        let initial = try map.value("initial_energy_kwh", default: 100) { node throws(ConfigError) in try node.double(in: 0.001...1_000_000) } * 1000
        var device = Scenario.Device(id: id, map: registerMap, server: server, unitID: unit, initialEnergyWh: initial)
        let role = registerMap.role
        for entry in map.entries {
            if pvKeys.contains(entry.key) && role != .pvInverter {
                throw entry.node.error(.inconsistent, "\(entry.key) is only for PV inverters; this device's map is \(registerMap.rawValue)")
            }
            if batteryKeys.contains(entry.key) && role != .battery {
                throw entry.node.error(.inconsistent, "\(entry.key) is only for batteries; this device's map is \(registerMap.rawValue)")
            }
        }
        switch role {
        case .gridMeter:
            break
        case .pvInverter:
            let rated = try map.value("rated_kw", expecting: "the inverter's AC rating in kW") { node throws(ConfigError) in try kilo(node, positive: true) }
            let peak = try map.value("peak_kw", default: rated * 0.9) { node throws(ConfigError) in try kilo(node, positive: true) }
            let modules = try map.value("modules", default: 2) { node throws(ConfigError) in try node.int(in: 1...16) }
            if peak > 2 * rated {
                throw try map.required("peak_kw", expecting: "").error(.outOfRange, "more than twice rated_kw")
            }
            device.pv = Scenario.PV(ratedWatts: rated, peakWatts: peak, modules: modules)
        case .battery:
            let capacity = try map.value("capacity_kwh", expecting: "the usable capacity in kWh") { node throws(ConfigError) in try kilo(node, positive: true) }
            let charge = try map.value("max_charge_kw", expecting: "the charge limit in kW") { node throws(ConfigError) in try kilo(node, positive: true) }
            let discharge = try map.value("max_discharge_kw", default: charge) { node throws(ConfigError) in try kilo(node, positive: true) }
            var battery = Scenario.Battery(capacityWh: capacity, maxChargeWatts: charge, maxDischargeWatts: discharge)
            battery.minSoC = try map.value("min_soc", default: 5) { node throws(ConfigError) in try node.double(in: 0...100) }
            battery.maxSoC = try map.value("max_soc", default: 100) { node throws(ConfigError) in try node.double(in: 0...100) }
            if battery.maxSoC <= battery.minSoC {
                throw try map.required("max_soc", expecting: "").error(.inconsistent, "max_soc must be above min_soc (\(battery.minSoC))")
            }
            battery.initialSoC = try map.value("soc", default: 50) { node throws(ConfigError) in try node.double(in: 0...100) }
            if battery.initialSoC < battery.minSoC || battery.initialSoC > battery.maxSoC {
                throw try map.required("soc", expecting: "").error(.outOfRange, "\(battery.initialSoC) is outside min_soc…max_soc (\(battery.minSoC)–\(battery.maxSoC))")
            }
            battery.efficiency = try map.value("efficiency", default: 1) { node throws(ConfigError) in try node.double(in: 0.5...1) }
            battery.mode = try map.value("mode", default: .selfConsumption) { node throws(ConfigError) in try node.choice(Scenario.Battery.Mode.self) }
            if let schedule = map.optional("schedule") {
                guard battery.mode == .schedule else { throw schedule.error(.inconsistent, "a schedule needs mode: schedule") }
                battery.schedule = try readShifts(schedule)
            } else if battery.mode == .schedule {
                _ = try map.required("schedule", expecting: "a list of {from, to, kw} (kW + = discharge)")
            }
            device.battery = battery
        }
        return device
    }

    static func readFault(_ node: ConfigNode, devices: Set<String>) throws(ConfigError) -> Scenario.Fault {
        let map = try node.mapping(keys: ["device", "kind", "at", "duration", "code", "delay"])
        let deviceNode = try map.required("device", expecting: "a device id")
        let device = try deviceNode.string()
        guard devices.contains(device) else {
            throw deviceNode.error(.unknownReference, "no device '\(device)' in this scenario")
        }
        let kindNode = try map.required("kind", expecting: "silent, exception, slow, disconnect or counter_reset")
        let kindName = try kindNode.string()
        let kind: Scenario.Fault.Kind
        switch kindName {
        case "silent": kind = .silent
        case "disconnect": kind = .disconnect
        case "counter_reset": kind = .counterReset
        case "exception":
            let code = try map.value("code", expecting: "a Modbus exception code (1–8, 10, 11)") { node throws(ConfigError) in try node.int(in: 1...11) }
            guard exceptionCodes.contains(code) else {
                throw try map.required("code", expecting: "").error(.invalidValue, "\(code) is not a Modbus exception code; expected 1–8, 10 or 11")
            }
            kind = .exception(UInt8(code))
        case "slow":
            kind = .slow(try map.value("delay", expecting: "how long each reply waits, such as 800ms") { node throws(ConfigError) in try node.duration(in: .milliseconds(1)...Duration.seconds(60)) })
        default:
            throw kindNode.error(.invalidValue, "'\(kindName)' is not a fault; expected one of: silent, exception, slow, disconnect, counter_reset")
        }
        for entry in map.entries where (entry.key == "code" && kindName != "exception") || (entry.key == "delay" && kindName != "slow") {
            throw entry.node.error(.inconsistent, "\(entry.key) does not apply to a \(kindName) fault")
        }
        let start = milliseconds(try map.value("at", default: .zero) { node throws(ConfigError) in try node.duration() })
        let duration = try map.value("duration", default: nil) { node throws(ConfigError) -> Int64? in milliseconds(try node.duration(in: .milliseconds(1)...Duration.seconds(365 * 86_400))) }
        if kindName == "counter_reset", let durationNode = map.optional("duration") {
            throw durationNode.error(.inconsistent, "a counter reset happens once; it has no duration")
        }
        return Scenario.Fault(device: device, kind: kind, startMs: start, durationMs: duration)
    }

    /// "HH:MM" (UTC) as minutes after midnight.
    static func timeOfDay(_ node: ConfigNode) throws(ConfigError) -> Int {
        let text = try node.string()
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
              (0...24).contains(hours), (0...59).contains(minutes), hours * 60 + minutes <= 24 * 60 else {
            throw node.error(.invalidValue, "'\(text)' is not a time of day; expected \"HH:MM\" (UTC), for example \"06:30\"")
        }
        return hours * 60 + minutes
    }

    static func kilo(_ node: ConfigNode, signed: Bool = false, positive: Bool = false) throws(ConfigError) -> Double {
        let value = try node.double(in: signed ? -1_000_000...1_000_000 : 0...1_000_000)
        if positive && value <= 0 { throw node.error(.outOfRange, "must be more than 0") }
        return value * 1000
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
