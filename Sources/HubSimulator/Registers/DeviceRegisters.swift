import Acquisition
import DeviceProfiles
import Foundation
import ModbusIO

/// A command a client gave by writing control registers.
enum ControlCommand: Sendable, Equatable {
    /// SunSpec 123: limit PV output to a percentage of the rating (nil: no limit).
    case pvLimit(percent: Double?, revertAfterMs: Int64?)
    /// SunSpec 124: charge or discharge at a power (W, + = discharge; nil: back to the battery's mode).
    case batterySetpoint(watts: Double?, revertAfterMs: Int64?)
}

/// One device's register image: encodes the simulated state through the SunSpec model
/// definitions or the device's profile, and interprets what clients write into its controls.
struct DeviceRegisters: Sendable {
    enum Image: Sendable {
        case sunspec(SunSpecImage)
        case profile(ProfileImage)
    }

    static let nominalVoltage = 230.0
    static let batteryVoltage = 700.0

    let device: Scenario.Device
    private(set) var image: Image
    /// Names of the writable points that steer the physics.
    let controlPoints: [String]
    /// What the control registers held after our last write; a difference means a client wrote.
    var lastControls: [UInt16] = []
    /// A meter profile's points that `encode` writes, in ``meterPointNames`` order (nil: not in the profile).
    private var meterPoints: [Int?] = []
    static let meterPointNames = ["voltage_l1", "voltage_l2", "voltage_l3", "current_l1", "current_l2", "current_l3",
                                  "power_l1", "power_l2", "power_l3", "total_power", "frequency", "import_energy", "export_energy"]

    /// `maxWatts` is the largest power the device can show, for choosing scale factors.
    init(device: Scenario.Device, maxWatts: Double, catalog: ProfileCatalog) throws(SimulatorError) {
        self.device = device
        let library = catalog.library
        switch device.map {
        case .eastronSDM630:
            guard let profile = catalog.profile("eastron-sdm630") else {
                throw SimulatorError(.missingProfile, "device \(device.id): profile eastron-sdm630 is not in the data directory (profiles/eastron-sdm630.yaml)")
            }
            var image = ProfileImage(profile: profile)
            meterPoints = Self.meterPointNames.map { profile.pointIndex(named: $0) }
            if profile.pointIndex(named: "serial_number") != nil {
                image.set("serial_number", Double(SeededNoise.stream(device.id) % 90_000_000 + 10_000_000))
            }
            self.image = .profile(image)
            controlPoints = []
        case .sunspecMeter, .sunspecMeterFloat:
            let model = device.map == .sunspecMeter ? 203 : 213
            var image = try SunSpecImage(models: [(1, 0), (model, 0)], library: library)
            Self.common(&image, device: device, model: "Simulated grid meter")
            if model == 203 {
                image.setScaleFactor("203.A_SF", scaleExponent(forMaximum: maxWatts / (3 * Self.nominalVoltage)))
                image.setScaleFactor("203.V_SF", -1)
                image.setScaleFactor("203.Hz_SF", -2)
                let power = scaleExponent(forMaximum: maxWatts, minimum: 0)
                for name in ["W_SF", "VA_SF", "VAR_SF"] { image.setScaleFactor("203." + name, power) }
                image.setScaleFactor("203.PF_SF", -1)
            }
            self.image = .sunspec(image)
            controlPoints = []
        case .sunspecInverter, .sunspecInverterFloat:
            let model = device.map == .sunspecInverter ? 103 : 113
            let pv = device.pv ?? Scenario.PV(ratedWatts: maxWatts, peakWatts: maxWatts)
            var image = try SunSpecImage(models: [(1, 0), (model, 0), (120, 0), (123, 0), (160, pv.modules)], library: library)
            Self.common(&image, device: device, model: "Simulated PV inverter")
            let power = scaleExponent(forMaximum: pv.ratedWatts * 1.1, minimum: 0)
            if model == 103 {
                image.setScaleFactor("103.A_SF", scaleExponent(forMaximum: pv.ratedWatts / (3 * Self.nominalVoltage), signed: false))
                image.setScaleFactor("103.V_SF", -1)
                image.setScaleFactor("103.Hz_SF", -2)
                for name in ["W_SF", "VA_SF", "VAr_SF", "DCW_SF"] { image.setScaleFactor("103." + name, power) }
                image.setScaleFactor("103.PF_SF", -1)
                image.setScaleFactor("103.DCA_SF", scaleExponent(forMaximum: pv.ratedWatts / 500, signed: false))
                image.setScaleFactor("103.DCV_SF", -1)
                image.setScaleFactor("103.Tmp_SF", -1)
            }
            image.set("120.DERTyp", 4) // PV
            image.setScaleFactor("120.WRtg_SF", scaleExponent(forMaximum: pv.ratedWatts, signed: false, minimum: 0))
            image.setScaleFactor("120.VARtg_SF", scaleExponent(forMaximum: pv.ratedWatts, signed: false, minimum: 0))
            image.set("120.WRtg", pv.ratedWatts)
            image.set("120.VARtg", pv.ratedWatts)
            image.setScaleFactor("123.WMaxLimPct_SF", 0)
            for name in ["Conn_WinTms", "Conn_RvrtTms", "WMaxLimPct_WinTms", "WMaxLimPct_RvrtTms", "WMaxLimPct_RmpTms", "WMaxLim_Ena"] {
                image.set("123." + name, 0)
            }
            image.set("123.Conn", 1)
            image.set("123.WMaxLimPct", 100)
            let moduleWatts = pv.ratedWatts / Double(pv.modules) * 1.2
            image.setScaleFactor("160.DCA_SF", scaleExponent(forMaximum: moduleWatts / 500, signed: false))
            image.setScaleFactor("160.DCV_SF", -1)
            image.setScaleFactor("160.DCW_SF", scaleExponent(forMaximum: moduleWatts, signed: false, minimum: 0))
            image.setScaleFactor("160.DCWH_SF", 0)
            image.set("160.Evt", 0)
            image.set("160.N", Double(pv.modules))
            for module in 0..<pv.modules {
                image.set("160.module[\(module)].ID", Double(module + 1))
                image.setText("160.module[\(module)].IDStr", "MPPT \(module + 1)")
            }
            self.image = .sunspec(image)
            controlPoints = ["123.WMaxLimPct", "123.WMaxLimPct_RvrtTms", "123.WMaxLim_Ena"]
        case .sunspecBattery:
            let battery = device.battery ?? Scenario.Battery(capacityWh: 1, maxChargeWatts: maxWatts, maxDischargeWatts: maxWatts)
            var image = try SunSpecImage(models: [(1, 0), (701, 0), (124, 0), (802, 0)], library: library)
            Self.common(&image, device: device, model: "Simulated battery")
            let rate = max(battery.maxChargeWatts, battery.maxDischargeWatts)
            let power = scaleExponent(forMaximum: rate * 1.1, minimum: 0)
            for name in ["W_SF", "VA_SF", "Var_SF"] { image.setScaleFactor("701." + name, power) }
            image.setScaleFactor("701.PF_SF", -2)
            image.setScaleFactor("701.A_SF", scaleExponent(forMaximum: rate / (3 * Self.nominalVoltage)))
            image.setScaleFactor("701.V_SF", -1)
            image.setScaleFactor("701.Hz_SF", -2)
            image.setScaleFactor("701.Tmp_SF", -1)
            image.setScaleFactor("124.WChaMax_SF", scaleExponent(forMaximum: battery.maxChargeWatts, signed: false, minimum: 0))
            image.set("124.WChaMax", battery.maxChargeWatts)
            image.set("124.WChaGra", 100)
            image.set("124.WDisChaGra", 100)
            image.set("124.MinRsvPct", battery.minSoC)
            image.setScaleFactor("124.ChaState_SF", -1)
            image.setScaleFactor("124.StorAval_SF", -1)
            image.setScaleFactor("124.InBatV_SF", -1)
            image.set("124.InBatV", Self.batteryVoltage)
            for name in ["StorCtl_Mod", "OutWRte", "InWRte", "InOutWRte_WinTms", "InOutWRte_RvrtTms", "InOutWRte_RmpTms"] { image.set("124." + name, 0) }
            image.set("124.ChaGriSet", 1) // GRID
            image.set("802.AHRtg", battery.capacityWh / Self.batteryVoltage)
            image.setScaleFactor("802.WHRtg_SF", scaleExponent(forMaximum: battery.capacityWh, signed: false, minimum: 0))
            image.set("802.WHRtg", battery.capacityWh)
            image.setScaleFactor("802.WChaDisChaMax_SF", scaleExponent(forMaximum: rate, signed: false, minimum: 0))
            image.set("802.WChaRteMax", battery.maxChargeWatts)
            image.set("802.WDisChaRteMax", battery.maxDischargeWatts)
            image.setScaleFactor("802.SoC_SF", -1)
            for (name, value) in [("SoCMax", battery.maxSoC), ("SoCMin", battery.minSoC), ("SocRsvMax", battery.maxSoC), ("SoCRsvMin", battery.minSoC)] {
                image.set("802." + name, value)
            }
            image.set("802.SoH", 100)
            image.set("802.LocRemCtl", 0) // REMOTE
            image.set("802.Typ", 4)       // lithium-ion
            image.set("802.State", 3)     // CONNECTED
            image.set("802.SetOp", 1)     // CONNECT
            for name in ["Evt1", "Evt2", "CtrlHb", "AlmRst"] { image.set("802." + name, 0) }
            image.setScaleFactor("802.V_SF", -1)
            image.set("802.V", Self.batteryVoltage)
            image.set("802.VMax", Self.batteryVoltage * 1.15)
            image.set("802.VMin", Self.batteryVoltage * 0.85)
            image.setScaleFactor("802.A_SF", scaleExponent(forMaximum: rate / Self.batteryVoltage))
            image.setScaleFactor("802.AMax_SF", scaleExponent(forMaximum: rate / Self.batteryVoltage, signed: false))
            image.set("802.AChaMax", battery.maxChargeWatts / Self.batteryVoltage)
            image.set("802.ADisChaMax", battery.maxDischargeWatts / Self.batteryVoltage)
            image.setScaleFactor("802.W_SF", power)
            self.image = .sunspec(image)
            controlPoints = ["124.StorCtl_Mod", "124.OutWRte", "124.InWRte", "124.InOutWRte_RvrtTms"]
        }
        lastControls = controlWords
    }

    static func common(_ image: inout SunSpecImage, device: Scenario.Device, model: String) {
        image.setText("1.Mn", "hubmeter")
        image.setText("1.Md", model)
        image.setText("1.Opt", device.map.rawValue)
        image.setText("1.Vr", "1.0")
        image.setText("1.SN", device.id)
        image.set("1.DA", Double(device.unitID))
    }

    /// Holding and input register ranges the device's memory must cover.
    var holdingRange: Range<Int> {
        switch image {
        case .sunspec(let image): image.base..<(image.base + image.registers.count)
        case .profile(let image): image.range(.holding)
        }
    }

    var inputRange: Range<Int> {
        switch image {
        case .sunspec: 0..<0
        case .profile(let image): image.range(.input)
        }
    }

    /// The holding registers of the control points, in order.
    var controlRanges: [Range<Int>] {
        guard case .sunspec(let image) = image else { return [] }
        return controlPoints.compactMap { image.registerRange($0) }
    }

    private var controlWords: [UInt16] {
        guard case .sunspec(let image) = image else { return [] }
        return controlRanges.flatMap { range in range.map { image.registers[$0 - image.base] } }
    }

    /// Reads the control registers from a unit's memory.
    func controls(in memory: ModbusUnitMemory) -> [UInt16] {
        controlRanges.flatMap { range in range.map { memory[holding: $0] } }
    }

    /// Takes a client's writes into the image and says what they command.
    mutating func adopt(controls words: [UInt16]) -> ControlCommand? {
        guard case .sunspec(var sunspec) = image, words != lastControls else { return nil }
        var cursor = 0
        for range in controlRanges {
            sunspec.overwrite(address: range.lowerBound, words[cursor..<(cursor + range.count)])
            cursor += range.count
        }
        image = .sunspec(sunspec)
        lastControls = words
        switch device.map {
        case .sunspecInverter, .sunspecInverterFloat:
            let enabled = sunspec.value("123.WMaxLim_Ena") == 1
            let revert = (sunspec.value("123.WMaxLimPct_RvrtTms") ?? 0) > 0 ? Int64((sunspec.value("123.WMaxLimPct_RvrtTms") ?? 0) * 1000) : nil
            return .pvLimit(percent: enabled ? sunspec.value("123.WMaxLimPct") ?? 100 : nil, revertAfterMs: revert)
        case .sunspecBattery:
            // StorCtl_Mod bit 0 enables the charge rate InWRte, bit 1 the discharge rate OutWRte
            // (percent of the battery's maximum); both together give their difference.
            let mode = Int(sunspec.value("124.StorCtl_Mod") ?? 0)
            guard mode & 3 != 0 else { return .batterySetpoint(watts: nil, revertAfterMs: nil) }
            let battery = device.battery
            var watts = 0.0
            if mode & 2 != 0 { watts += (sunspec.value("124.OutWRte") ?? 0) / 100 * (battery?.maxDischargeWatts ?? 0) }
            if mode & 1 != 0 { watts -= (sunspec.value("124.InWRte") ?? 0) / 100 * (battery?.maxChargeWatts ?? 0) }
            let seconds = sunspec.value("124.InOutWRte_RvrtTms") ?? 0
            return .batterySetpoint(watts: watts, revertAfterMs: seconds > 0 ? Int64(seconds * 1000) : nil)
        default:
            return nil
        }
    }

    /// Writes the simulated state into the image.
    mutating func encode(_ state: SimulatedDeviceState, time: Int64) {
        let watts = state.watts
        let current = abs(watts) / (3 * Self.nominalVoltage)
        switch image {
        case .profile(var profile):
            // Let go of the image's own reference first, so the tables are changed in place.
            image = .profile(ProfileImage(emptyFor: profile.profile))
            let values: [Double] = [Self.nominalVoltage, Self.nominalVoltage, Self.nominalVoltage, current, current, current,
                                    watts / 3, watts / 3, watts / 3, watts, 50, state.importWh, state.exportWh]
            for (index, value) in zip(meterPoints, values) {
                if let index { profile.set(point: index, value) }
            }
            image = .profile(profile)
        case .sunspec(var sunspec):
            switch device.map {
            case .sunspecMeter, .sunspecMeterFloat:
                let m = device.map == .sunspecMeter ? "203." : "213."
                let values: [(String, Double)] = [
                    ("A", current * 3), ("AphA", current), ("AphB", current), ("AphC", current),
                    ("PhV", Self.nominalVoltage), ("PhVphA", Self.nominalVoltage), ("PhVphB", Self.nominalVoltage), ("PhVphC", Self.nominalVoltage),
                    ("PPV", 400), ("PhVphAB", 400), ("PhVphBC", 400), ("PhVphCA", 400), ("PPVphAB", 400), ("PPVphBC", 400), ("PPVphCA", 400),
                    ("Hz", 50), ("W", watts), ("WphA", watts / 3), ("WphB", watts / 3), ("WphC", watts / 3),
                    ("VA", abs(watts)), ("VAphA", abs(watts) / 3), ("VAphB", abs(watts) / 3), ("VAphC", abs(watts) / 3),
                    ("VAR", 0), ("VARphA", 0), ("VARphB", 0), ("VARphC", 0), ("PF", 100), ("PFphA", 100), ("PFphB", 100), ("PFphC", 100),
                    ("TotWhExp", state.exportWh), ("TotWhImp", state.importWh),
                    ("TotWhExpPhA", state.exportWh / 3), ("TotWhExpPhB", state.exportWh / 3), ("TotWhExpPhC", state.exportWh / 3),
                    ("TotWhImpPhA", state.importWh / 3), ("TotWhImpPhB", state.importWh / 3), ("TotWhImpPhC", state.importWh / 3), ("Evt", 0),
                ]
                for (name, value) in values where sunspec.has(m + name) { sunspec.set(m + name, value) }
            case .sunspecInverter, .sunspecInverterFloat:
                let m = device.map == .sunspecInverter ? "103." : "113."
                let dcWatts = watts / 0.97, dcVolts = watts > 0 ? 620.0 : 0
                let rated = device.pv?.ratedWatts ?? 1
                let limited = state.pvLimit != nil && state.availableWatts > watts + 0.5
                let values: [(String, Double)] = [
                    ("A", current * 3), ("AphA", current), ("AphB", current), ("AphC", current),
                    ("PPVphAB", 400), ("PPVphBC", 400), ("PPVphCA", 400),
                    ("PhVphA", Self.nominalVoltage), ("PhVphB", Self.nominalVoltage), ("PhVphC", Self.nominalVoltage),
                    ("W", watts), ("Hz", 50), ("VA", watts), ("VAr", 0), ("PF", 100), ("WH", state.producedWh),
                    ("DCA", dcVolts > 0 ? dcWatts / dcVolts : 0), ("DCV", dcVolts), ("DCW", dcWatts), ("TmpCab", 25 + 20 * watts / rated),
                    ("St", watts > 0 ? (limited ? 5 : 4) : 2), ("Evt1", 0), ("Evt2", 0),
                ]
                for (name, value) in values { sunspec.set(m + name, value) }
                sunspec.set("123.WMaxLim_Ena", state.pvLimit == nil ? 0 : 1)
                let modules = device.pv?.modules ?? 1
                for module in 0..<modules {
                    let prefix = "160.module[\(module)]."
                    sunspec.set(prefix + "DCA", dcVolts > 0 ? dcWatts / Double(modules) / dcVolts : 0)
                    sunspec.set(prefix + "DCV", dcVolts)
                    sunspec.set(prefix + "DCW", dcWatts / Double(modules))
                    sunspec.set(prefix + "DCWH", state.producedWh / 0.97 / Double(modules))
                    sunspec.set(prefix + "Tms", Double(positiveModulo(time / 1000, 1 << 32)))
                    sunspec.set(prefix + "Tmp", 30 + 25 * watts / rated)
                    sunspec.set(prefix + "DCSt", watts > 0 ? 4 : 2)
                    sunspec.set(prefix + "DCEvt", 0)
                }
            case .sunspecBattery:
                let battery = device.battery
                let soc = state.soc
                let chargeState: Double = watts > 1 ? 3 : watts < -1 ? 4 : soc >= (battery?.maxSoC ?? 100) - 0.01 ? 5
                    : soc <= (battery?.minSoC ?? 0) + 0.01 ? 2 : 6
                let values701: [(String, Double)] = [
                    ("W", watts), ("VA", abs(watts)), ("Var", 0), ("PF", 1), ("A", current), ("LLV", 400), ("LNV", Self.nominalVoltage), ("Hz", 50),
                    ("TotWhInj", state.dischargedWh), ("TotWhAbs", state.chargedWh), ("TmpCab", 25),
                    ("WL1", watts / 3), ("WL2", watts / 3), ("WL3", watts / 3), ("VL1", Self.nominalVoltage), ("VL2", Self.nominalVoltage), ("VL3", Self.nominalVoltage),
                ]
                for (name, value) in values701 { sunspec.set("701." + name, value) }
                sunspec.set("124.ChaState", soc)
                sunspec.set("124.StorAval", max(0, state.storedWh - (battery?.minSoC ?? 0) / 100 * state.capacityWh) / Self.batteryVoltage)
                sunspec.set("124.ChaSt", chargeState)
                if state.setpoint == nil { sunspec.set("124.StorCtl_Mod", 0) }
                sunspec.set("802.SoC", soc)
                sunspec.set("802.NCyc", (state.dischargedWh / max(1, state.capacityWh)).rounded(.down))
                sunspec.set("802.ChaSt", chargeState)
                sunspec.set("802.Hb", Double(positiveModulo(time / 1000, 65_536)))
                sunspec.set("802.A", watts / Self.batteryVoltage)
                sunspec.set("802.W", watts)
            case .eastronSDM630:
                break
            }
            image = .sunspec(sunspec)
        }
    }

    /// Copies the image into the unit's memory. Control registers are written only if they
    /// still hold `seenControls` (a client's newer write is picked up by the next refresh).
    mutating func write(into memory: ModbusUnitMemory, seenControls: [UInt16]) {
        switch image {
        case .profile(let profile):
            for (table, entry) in profile.tables {
                memory.set(table == .holding ? .holding : .input, at: entry.start, entry.registers)
            }
        case .sunspec(let sunspec):
            let ranges = controlRanges
            let keepClientWrite = controls(in: memory) != seenControls
            for (index, word) in sunspec.registers.enumerated() {
                let address = sunspec.base + index
                if keepClientWrite && ranges.contains(where: { $0.contains(address) }) { continue }
                memory[holding: address] = word
            }
            if !keepClientWrite { lastControls = controlWords }
        }
    }
}
