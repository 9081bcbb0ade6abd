import Acquisition
import DeviceProfiles
import Foundation
import HubDomain
import ModbusIO
import Testing
import TestSupport

/// Each shipped profile against a register image built from its vendor's published map
/// (Fixtures/profile-images, made by make_profile_images.py), served over real Modbus TCP by our
/// libmodbus server and by pymodbus: the decoded canonical values must be the hub's.
@Suite struct ProfileImageTests {
    struct Fixture: Sendable, CustomTestStringConvertible {
        let profile: String
        let unit: Int
        let imageJSON: String
        let canonical: [String: Double]
        /// Point name → number, text, or nil for "missing".
        let points: [String: String?]
        var testDescription: String { profile }
    }

    static let fixtures: [Fixture] = {
        let directory = RepositoryPaths.path("Tests/AcquisitionTests/Fixtures/profile-images")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return files.map { file in
            let data = try! Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
            let document = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
            let image = try! JSONSerialization.data(withJSONObject: document["image"]!, options: [.sortedKeys])
            let points = (document["points"] as! [String: Any]).mapValues { value -> String? in
                if value is NSNull { return nil }
                if let text = value as? String { return "text:" + text }
                return String((value as! NSNumber).doubleValue)
            }
            return Fixture(profile: document["profile"] as! String, unit: document["unit"] as! Int,
                           imageJSON: String(decoding: image, as: UTF8.self),
                           canonical: (document["canonical"] as! [String: NSNumber]).mapValues(\.doubleValue), points: points)
        }
    }()

    @Test func everyShippedVendorProfileHasAnImage() {
        let vendorProfiles = Set(Catalog.shared.profiles.keys).subtracting(["sunspec"])
        #expect(Set(Self.fixtures.map(\.profile)) == vendorProfiles)
    }

    static func check(_ fixture: Fixture, port: Int) async throws {
        let profile = try #require(Catalog.shared.profile(fixture.profile))
        // Short timeouts for the test; the profile's connect delay (Huawei) still applies.
        var fast = profile
        fast.options.minimumTimeout = .zero
        let device = AcquisitionDevice(id: "dut", unitID: fixture.unit, profile: fast)
        let bus = AcquisitionBus(id: "lan", endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .seconds(2), devices: [device])
        let connection = try ModbusConnection(endpoint: bus.endpoint, responseTimeout: bus.timeout)
        let snapshot = await AcquisitionService.readOnce(device, on: connection, bus: bus, library: Catalog.shared.library,
                                                         clock: SystemWallClock(), metrics: AcquisitionMetrics())
        #expect(snapshot.health.state == .online, "\(snapshot.health.lastError ?? "")")
        for (name, expected) in fixture.canonical {
            let quantity = try #require(CanonicalQuantity(rawValue: name))
            let value = snapshot.canonical[quantity]
            #expect(value?.quality == .good, "\(fixture.profile) \(name): \(String(describing: value?.quality))")
            #expect(close(value?.value, expected), "\(fixture.profile) \(name): \(String(describing: value?.value)) ≠ \(expected)")
        }
        #expect(Set(snapshot.canonical.keys.map(\.rawValue)) == Set(fixture.canonical.keys))
        for (name, expected) in fixture.points {
            let value = try #require(snapshot.value(name), "\(fixture.profile) has no point \(name)")
            switch expected {
            case nil:
                #expect(value.quality == .missing && value.value == nil, "\(fixture.profile) \(name) should be missing")
            case let text? where text.hasPrefix("text:"):
                #expect(value.text == String(text.dropFirst(5)))
            case let number?:
                #expect(close(value.value, Double(number)!), "\(fixture.profile) \(name): \(String(describing: value.value)) ≠ \(number)")
            }
        }
        // Every value carries its device and acquisition times.
        for value in snapshot.values where value.quality == .good {
            #expect(value.device == "dut")
            #expect(value.acquiredAt != nil && value.acquiredAtMonotonic != nil)
        }
    }

    @Test(arguments: fixtures)
    func decodesTheImageFromOurServer(_ fixture: Fixture) async throws {
        let image = RegisterImage(json: try JSONSerialization.jsonObject(with: Data(fixture.imageJSON.utf8)))
        let server = try image.server()
        defer { server.stop() }
        try await Self.check(fixture, port: server.port)
    }

    @Test(arguments: fixtures)
    func decodesTheImageFromPymodbus(_ fixture: Fixture) async throws {
        let port = try freePort()
        let peer = try await Peer.start(image: fixture.imageJSON, arguments: ["server-tcp", "--port", String(port)])
        defer { peer.stop() }
        try await Self.check(fixture, port: port)
    }
}
