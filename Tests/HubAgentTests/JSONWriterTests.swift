import Foundation
import HubContract
import HubDomain
import Testing

/// The fast writer produces exactly the bytes of the canonical Foundation encoding.
@Suite struct JSONWriterTests {
    static let figures: [Figure] = [
        .measured(2000), .measured(-1500.25), .measured(0.1), .measured(1e-5), .measured(123_456_789.125),
        .estimated(42.5, share: 0.25), Figure(value: nil, quality: .stale(ageMs: 12_000)), .missing,
    ]

    @Test(arguments: 0..<8) func participantBalanceMatchesFoundation(_ index: Int) throws {
        let figure = Self.figures[index]
        let other = Self.figures[(index + 3) % Self.figures.count]
        let message = ParticipantBalanceMessage(hub: "hub \"q\"", participant: "alpha", at: "2026-03-01T00:00:00.000Z", balance: ParticipantBalance(
            isMember: index % 2 == 0, gridW: figure, importW: other, exportW: figure, productionW: other, batteryW: figure,
            consumptionW: other, allocationW: figure, residualImportW: other))
        #expect(String(decoding: message.payload, as: UTF8.self) == String(decoding: try MessageEncoding.encode(message), as: UTF8.self))
    }

    @Test func deviceStateMatchesFoundation() throws {
        let message = DeviceStateMessage(
            hub: "park", device: "meter-1", profile: "eastron-sdm630", health: "online", at: "2026-03-01T00:00:01.000Z",
            points: [
                "total_power": .init(value: 2000.5, text: nil, unit: "W", quality: "good", ageMs: nil, error: nil, acquiredAt: "2026-03-01T00:00:00.987Z"),
                "serial": .init(value: nil, text: "SN\\1\n", unit: nil, quality: "good", ageMs: nil, error: nil, acquiredAt: nil),
                "import_energy": .init(value: nil, text: nil, unit: "Wh", quality: "error", ageMs: nil, error: "modbus.timeout: no response", acquiredAt: nil),
                "export_energy": .init(value: 10, text: nil, unit: "Wh", quality: "stale", ageMs: 3000, error: nil, acquiredAt: "2026-03-01T00:00:00.001Z"),
            ],
            canonical: ["grid_power": "total_power", "grid_import_energy": "import_energy"])
        #expect(String(decoding: message.payload, as: UTF8.self) == String(decoding: try MessageEncoding.encode(message), as: UTF8.self))
    }
}
