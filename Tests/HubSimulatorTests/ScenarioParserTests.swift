import Foundation
import ConfigReading
import HubSimulator
import Testing
import TestSupport

@Suite struct ScenarioParserTests {
    @Test func demoScenarioParses() throws {
        let scenario = try ScenarioParser.load(path: Fixtures.demoScenarioPath)
        #expect(scenario.groups.filter { !$0.isSharedAsset }.count == 4)
        #expect(scenario.groups.filter(\.isSharedAsset).map(\.id) == ["hub-battery"])
        #expect(Set(scenario.devices.map(\.map)) == Set(Scenario.RegisterMap.allCases))
        #expect(scenario.faults.count == 4)
        #expect(scenario.seed == 2026)
        #expect(scenario.sun.sunriseMinute == 5 * 60 + 30)
    }

    static let base = """
        servers: [{ id: lan, port: 0 }]
        companies:
          - id: werk
            load: { base_kw: 10 }
            devices:
              - { id: werk-grid, map: sunspec-meter, server: lan, unit_id: 1 }

        """

    /// Broken scenarios and the exact message each must give (file:line:col: key.path: problem).
    static let broken: [(String, String)] = [
        (base + "colour: red\n", "s.yaml:7:1: colour: unknown key"),
        (base.replacingOccurrences(of: "sunspec-meter", with: "sunspec-meters"),
         "s.yaml:6:31: companies[0].devices[0].map: 'sunspec-meters' is not valid (did you mean 'sunspec-meter'?)"),
        (base.replacingOccurrences(of: "server: lan", with: "server: wan"), "s.yaml:6:54: companies[0].devices[0].server: no server 'wan'; known: lan"),
        (base.replacingOccurrences(of: "unit_id: 1", with: "unit_id: 300"), "s.yaml:6:68: companies[0].devices[0].unit_id: 300 is out of range 1–247"),
        (base.replacingOccurrences(of: "unit_id: 1 }", with: "unit_id: 1, rated_kw: 5 }"),
         "s.yaml:6:81: companies[0].devices[0].rated_kw: rated_kw is only for PV inverters; this device's map is sunspec-meter"),
        (base.replacingOccurrences(of: "map: sunspec-meter", with: "map: sunspec-inverter"),
         "s.yaml:6:9: companies[0].devices[0].rated_kw: missing; expected the inverter's AC rating in kW"),
        (base + "  - id: werk2\n    load: { base_kw: 1 }\n    devices: []\n",
         "s.yaml:9:14: companies[1].devices: a company needs exactly one grid meter, found 0"),
        (base + "  - id: werk2\n    load: { base_kw: 1 }\n    devices:\n      - { id: werk2-grid, map: eastron-sdm630, server: lan, unit_id: 1 }\n",
         "s.yaml:10:70: companies[1].devices[0].unit_id: unit id 1 is already used on server 'lan'"),
        (base + "sun: { sunrise: \"6h\" }\n", "s.yaml:7:17: sun.sunrise: '6h' is not a time of day; expected \"HH:MM\" (UTC), for example \"06:30\""),
        (base + "faults: [{ device: werk-grid, kind: exception, code: 9 }]\n",
         "s.yaml:7:54: faults[0].code: 9 is not a Modbus exception code; expected 1–8, 10 or 11"),
        (base + "faults: [{ device: werk-pv, kind: silent }]\n", "s.yaml:7:20: faults[0].device: no device 'werk-pv' in this scenario"),
        (base + "faults: [{ device: werk-grid, kind: slow }]\n", "s.yaml:7:10: faults[0].delay: missing; expected how long each reply waits, such as 800ms"),
        (base + "faults: [{ device: werk-grid, kind: wobble }]\n",
         "s.yaml:7:37: faults[0].kind: 'wobble' is not a fault; expected one of: silent, exception, slow, disconnect, counter_reset"),
    ]

    @Test(arguments: 0..<broken.count)
    func brokenScenarioIsRejectedWithItsPosition(_ index: Int) {
        let (text, expected) = Self.broken[index]
        #expect {
            _ = try ScenarioParser.parse(text, file: "s.yaml")
        } throws: { error in
            let description = (error as? ConfigError)?.description ?? "\(error)"
            if !description.hasPrefix(expected) { Issue.record("got: \(description)\nexpected: \(expected)") }
            return description.hasPrefix(expected)
        }
    }
}
