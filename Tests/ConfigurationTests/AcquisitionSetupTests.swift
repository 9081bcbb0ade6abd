import HubAgent
import Acquisition
import ConfigReading
import DeviceProfiles
import Foundation
import HubConfiguration
import HubmeterCommands
import ModbusIO
import Testing
import TestSupport

/// The agent configuration mapped onto buses and devices with the shipped profiles.
@Suite struct AcquisitionSetupTests {
    static let environment = SecretEnvironment(variables: ["HUBMETER_MQTT_PASSWORD": "x"]) { _ in "x" }
    static let catalog = try! ProfileCatalog(dataDirectory: RepositoryPaths.path("Config"))

    static func configuration(_ text: String) throws -> AgentConfiguration {
        try AgentConfiguration.parse(text, file: "agent.yaml", environment: environment)
    }

    @Test func theExampleConfigurationMapsOntoBusesWithShippedProfiles() throws {
        let configuration = try AgentConfiguration.load(path: RepositoryPaths.path("Config/agent.example.yaml"), environment: Self.environment)
        let buses = try AcquisitionSetup.buses(from: configuration, catalog: Self.catalog)
        #expect(buses.map(\.id) == ["rs485-a", "metaalwerk-lan", "logistiek-lan", "hub-lan"])
        let rs485 = try #require(buses.first)
        #expect(rs485.devices.map(\.id) == ["metaalwerk-grid", "logistiek-grid", "kantoor-grid"])
        #expect(rs485.devices.map(\.profile.id) == ["eastron-sdm630", "carlo-gavazzi-em24", "eastron-sdm630"])
        #expect(rs485.devices[2].invertPower)
        #expect(rs485.turnaroundDelay == .milliseconds(20))
        #expect(rs485.endpoint == .rtu(.init(device: "/dev/ttyUSB0", baud: 9600)))
        #expect(buses[3].devices.first?.profile.sunspec != nil)
        #expect(AcquisitionSetup.cadence(configuration.polling).backoffLimit == .seconds(60))
    }

    static let base = """
    hub:
      id: test-hub
      participants:
        - id: alpha
          devices:
            - { id: alpha-grid, role: grid_meter, bus: lan-a, unit_id: 1, profile: PROFILE, request_delay: 25ms, max_gap: 4, timeout: 3s }
            - { id: alpha-pv, role: pv_inverter, bus: lan-b, unit_id: 1, profile: huawei-sun2000-inverter }
    buses:
      - { id: lan-a, transport: tcp, host: 192.0.2.7, port: 502 }
      - { id: lan-b, transport: tcp, host: 192.0.2.7, port: 502 }
    mqtt:
      host: 127.0.0.1
    """

    @Test func deviceTimingKeysReachTheAcquisition() throws {
        var text = Self.base.replacingOccurrences(of: "PROFILE", with: "eastron-sdm630")
        text = text.replacingOccurrences(of: "host: 192.0.2.7, port: 502 }\n  - { id: lan-b, transport: tcp, host: 192.0.2.7", with: "host: 192.0.2.7, port: 502 }\n  - { id: lan-b, transport: tcp, host: 192.0.2.8")
        let buses = try AcquisitionSetup.buses(from: try Self.configuration(text), catalog: Self.catalog)
        let device = try #require(buses.first?.devices.first)
        #expect(device.requestDelay == .milliseconds(25))
        #expect(device.maxGap == 4)
        #expect(device.timeout == .seconds(3))
    }

    @Test func anUnknownProfileIsNamedWithTheAlternatives() throws {
        let text = Self.base.replacingOccurrences(of: "PROFILE", with: "eastron-sdm640")
        let error = #expect(throws: AcquisitionSetupError.self) {
            _ = try AcquisitionSetup.buses(from: try Self.configuration(text), catalog: Self.catalog)
        }
        #expect(error?.description.hasPrefix("device 'alpha-grid': profile 'eastron-sdm640' not found; available: carlo-gavazzi-em24, ") == true)
    }

    @Test func aOneClientDeviceMustNotBeReachedThroughTwoBuses() throws {
        let text = Self.base.replacingOccurrences(of: "PROFILE", with: "eastron-sdm630")
        let error = #expect(throws: AcquisitionSetupError.self) {
            _ = try AcquisitionSetup.buses(from: try Self.configuration(text), catalog: Self.catalog)
        }
        #expect(error?.description == "device 'alpha-pv': profile 'huawei-sun2000-inverter' accepts one client only, but tcp://192.0.2.7:502 is used by buses lan-a, lan-b; put all devices behind it on one bus")
    }
}
