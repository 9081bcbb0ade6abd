/// A simulated business park: companies with loads, PV inverters, batteries and grid meters,
/// shared assets, the Modbus servers that expose them, and scripted faults. Read from a
/// scenario YAML file by ``ScenarioParser``.
///
/// Powers are in W and energies in Wh internally (the file uses kW and kWh); every time is in
/// simulated milliseconds. Signs follow the hub (docs/energy-model.md §1): grid + = import,
/// PV ≥ 0, battery + = discharge.
public struct Scenario: Sendable, Hashable {
    public var name: String
    /// Seed of every random choice (clouds, load noise): the same seed gives the same run.
    public var seed: UInt64
    /// Physics step in simulated milliseconds; power is constant within a step.
    public var stepMs: Int64
    public var sun: Sun
    public var servers: [Server]
    /// Companies (with a load and a grid meter) followed by shared assets (no load, no meter).
    public var groups: [Group]
    public var faults: [Fault]

    public init(name: String, seed: UInt64, stepMs: Int64 = 1000, sun: Sun = Sun(), servers: [Server], groups: [Group], faults: [Fault] = []) {
        self.name = name
        self.seed = seed
        self.stepMs = stepMs
        self.sun = sun
        self.servers = servers
        self.groups = groups
        self.faults = faults
    }

    /// Every device, in file order.
    public var devices: [Device] { groups.flatMap(\.devices) }

    public func device(_ id: String) -> Device? { devices.first { $0.id == id } }

    /// The daylight curve and passing clouds, the same for the whole park.
    public struct Sun: Sendable, Hashable {
        /// Minutes after midnight UTC.
        public var sunriseMinute: Int
        public var sunsetMinute: Int
        /// Fraction of cloud cells that are cloudy (0…1).
        public var cloudCover: Double
        /// How much a cloud dims the sun (0…1).
        public var cloudDepth: Double
        /// Length of one cloud cell in simulated milliseconds.
        public var cloudCellMs: Int64

        public init(sunriseMinute: Int = 6 * 60, sunsetMinute: Int = 20 * 60, cloudCover: Double = 0.3, cloudDepth: Double = 0.6,
                    cloudCellMs: Int64 = 300_000) {
            self.sunriseMinute = sunriseMinute
            self.sunsetMinute = sunsetMinute
            self.cloudCover = cloudCover
            self.cloudDepth = cloudDepth
            self.cloudCellMs = cloudCellMs
        }
    }

    /// One Modbus TCP listener, or one RTU line on a pseudo-terminal; several devices (unit ids) share it.
    public struct Server: Sendable, Hashable {
        public enum Transport: String, Sendable, Hashable, CaseIterable { case tcp, rtu }

        public var id: String
        public var transport: Transport
        public var host: String
        /// 0 picks a free port (TCP).
        public var port: Int
        /// RTU: a symlink to create to the pseudo-terminal (for a stable path in agent configs).
        public var link: String?

        public init(id: String, host: String = "127.0.0.1", port: Int) {
            self.id = id
            self.transport = .tcp
            self.host = host
            self.port = port
        }

        public init(id: String, rtuLink link: String?) {
            self.id = id
            self.transport = .rtu
            self.host = ""
            self.port = 0
            self.link = link
        }
    }

    /// A company (participant) or a shared asset.
    public struct Group: Sendable, Hashable {
        public var id: String
        public var name: String
        public var isSharedAsset: Bool
        /// Nil for shared assets.
        public var load: Load?
        public var devices: [Device]

        public init(id: String, name: String, isSharedAsset: Bool = false, load: Load?, devices: [Device]) {
            self.id = id
            self.name = name
            self.isSharedAsset = isSharedAsset
            self.load = load
            self.devices = devices
        }
    }

    /// A company's consumption: a base, shifts by time of day, periodic steps and noise.
    public struct Load: Sendable, Hashable {
        public struct Shift: Sendable, Hashable {
            /// Minutes after midnight UTC; `to` before `from` wraps past midnight (night shift).
            public var fromMinute: Int
            public var toMinute: Int
            public var watts: Double
            public init(fromMinute: Int, toMinute: Int, watts: Double) {
                self.fromMinute = fromMinute
                self.toMinute = toMinute
                self.watts = watts
            }
        }

        /// A machine that runs for `durationMs` every `everyMs` (an oven, a compressor).
        public struct Step: Sendable, Hashable {
            public var everyMs: Int64
            public var durationMs: Int64
            public var offsetMs: Int64
            public var watts: Double
            public init(everyMs: Int64, durationMs: Int64, offsetMs: Int64 = 0, watts: Double) {
                self.everyMs = everyMs
                self.durationMs = durationMs
                self.offsetMs = offsetMs
                self.watts = watts
            }
        }

        public var baseWatts: Double
        /// Amplitude of the random variation (± this much, changing smoothly every minute).
        public var noiseWatts: Double
        public var shifts: [Shift]
        public var steps: [Step]

        public init(baseWatts: Double, noiseWatts: Double = 0, shifts: [Shift] = [], steps: [Step] = []) {
            self.baseWatts = baseWatts
            self.noiseWatts = noiseWatts
            self.shifts = shifts
            self.steps = steps
        }
    }

    public enum Role: String, Sendable, Hashable, CaseIterable {
        case gridMeter = "grid_meter"
        case pvInverter = "pv_inverter"
        case battery
    }

    /// Which register map a device serves.
    public enum RegisterMap: String, Sendable, Hashable, CaseIterable {
        /// SunSpec 1, 103 (int + scale factors), 120, 123, 160.
        case sunspecInverter = "sunspec-inverter"
        /// SunSpec 1, 113 (float), 120, 123, 160.
        case sunspecInverterFloat = "sunspec-inverter-float"
        /// SunSpec 1, 203 (int + scale factors).
        case sunspecMeter = "sunspec-meter"
        /// SunSpec 1, 213 (float).
        case sunspecMeterFloat = "sunspec-meter-float"
        /// SunSpec 1, 701 (inverter measurements), 124 (storage controls), 802 (battery).
        case sunspecBattery = "sunspec-battery"
        /// The Eastron SDM630 map (profile eastron-sdm630).
        case eastronSDM630 = "eastron-sdm630"

        public var role: Role {
            switch self {
            case .sunspecInverter, .sunspecInverterFloat: .pvInverter
            case .sunspecMeter, .sunspecMeterFloat, .eastronSDM630: .gridMeter
            case .sunspecBattery: .battery
            }
        }
    }

    public struct PV: Sendable, Hashable {
        /// Nameplate AC rating (SunSpec 120 WRtg); a 123 limit is a percentage of it.
        public var ratedWatts: Double
        /// Clear-sky peak at solar noon.
        public var peakWatts: Double
        /// MPPT inputs shown in model 160.
        public var modules: Int
        public init(ratedWatts: Double, peakWatts: Double, modules: Int = 2) {
            self.ratedWatts = ratedWatts
            self.peakWatts = peakWatts
            self.modules = modules
        }
    }

    public struct Battery: Sendable, Hashable {
        public enum Mode: String, Sendable, Hashable, CaseIterable {
            /// Covers the company's deficit and stores its surplus.
            case selfConsumption = "self_consumption"
            /// Holds still unless a setpoint is written.
            case idle
            /// Follows `schedule` by time of day.
            case schedule
        }

        public var capacityWh: Double
        public var maxChargeWatts: Double
        public var maxDischargeWatts: Double
        /// Percent of capacity.
        public var initialSoC: Double
        public var minSoC: Double
        public var maxSoC: Double
        /// Charging efficiency: stored energy = charged energy × efficiency.
        public var efficiency: Double
        public var mode: Mode
        /// For `schedule`: watts (+ = discharge) by time of day.
        public var schedule: [Load.Shift]

        public init(capacityWh: Double, maxChargeWatts: Double, maxDischargeWatts: Double, initialSoC: Double = 50,
                    minSoC: Double = 5, maxSoC: Double = 100, efficiency: Double = 1, mode: Mode = .selfConsumption, schedule: [Load.Shift] = []) {
            self.capacityWh = capacityWh
            self.maxChargeWatts = maxChargeWatts
            self.maxDischargeWatts = maxDischargeWatts
            self.initialSoC = initialSoC
            self.minSoC = minSoC
            self.maxSoC = maxSoC
            self.efficiency = efficiency
            self.mode = mode
            self.schedule = schedule
        }
    }

    public struct Device: Sendable, Hashable {
        public var id: String
        public var map: RegisterMap
        public var server: String
        public var unitID: Int
        public var pv: PV?
        public var battery: Battery?
        /// Counters start here (Wh), so that a fresh device does not show SunSpec's "0 = not implemented".
        public var initialEnergyWh: Double

        public var role: Role { map.role }

        public init(id: String, map: RegisterMap, server: String, unitID: Int, pv: PV? = nil, battery: Battery? = nil, initialEnergyWh: Double = 100_000) {
            self.id = id
            self.map = map
            self.server = server
            self.unitID = unitID
            self.pv = pv
            self.battery = battery
            self.initialEnergyWh = initialEnergyWh
        }
    }

    /// A scripted misbehaviour of one device, in simulated time after the origin.
    public struct Fault: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            /// No answer at all: the client times out.
            case silent
            /// A Modbus exception with this code.
            case exception(UInt8)
            /// Every reply waits this long (real time).
            case slow(Duration)
            /// The connection is closed on each request.
            case disconnect
            /// The energy counters restart from zero (a meter swap or firmware reset).
            case counterReset

            public var name: String {
                switch self {
                case .silent: "silent"
                case .exception: "exception"
                case .slow: "slow"
                case .disconnect: "disconnect"
                case .counterReset: "counter_reset"
                }
            }
        }

        public var device: String
        public var kind: Kind
        public var startMs: Int64
        /// Nil: until the simulator stops.
        public var durationMs: Int64?

        public init(device: String, kind: Kind, startMs: Int64, durationMs: Int64? = nil) {
            self.device = device
            self.kind = kind
            self.startMs = startMs
            self.durationMs = durationMs
        }

        public func isActive(atOffset offset: Int64) -> Bool {
            offset >= startMs && (durationMs.map { offset < startMs + $0 } ?? true)
        }
    }
}
