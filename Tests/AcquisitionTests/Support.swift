import Acquisition
import DeviceProfiles
import Foundation
import HubDomain
import Logging
import ModbusIO
import Testing
import TestSupport

/// Register contents of simulated devices, servable by our in-process server and by pymodbus.
struct RegisterImage {
    /// unit → table → address → value
    var units: [Int: [RegisterTable: [Int: UInt16]]] = [:]

    mutating func put(unit: Int, _ table: RegisterTable = .holding, at address: Int, _ registers: [UInt16]) {
        for (offset, value) in registers.enumerated() {
            units[unit, default: [:]][table, default: [:]][address + offset] = value
        }
    }

    /// Reads the pymodbus peer's format: {"units": {"1": {"holding": {"40000": [..]}}}}.
    init(json: Any) {
        let document = json as? [String: Any] ?? [:]
        for (unitText, tables) in document["units"] as? [String: Any] ?? [:] {
            for (tableName, blocks) in tables as? [String: Any] ?? [:] {
                let table = RegisterTable(rawValue: tableName)!
                for (start, values) in blocks as? [String: Any] ?? [:] {
                    put(unit: Int(unitText)!, table, at: Int(start)!, (values as! [Any]).map { UInt16(($0 as! NSNumber).intValue) })
                }
            }
        }
    }

    init() {}

    var json: String {
        var units: [String: Any] = [:]
        for (unit, tables) in units_sorted() {
            var tablesJSON: [String: Any] = [:]
            for (table, registers) in tables {
                var blocks: [String: [Int]] = [:]
                var start = -2, previous = -2
                for address in registers.keys.sorted() {
                    if address != previous + 1 { start = address }
                    blocks[String(start), default: []].append(Int(registers[address]!))
                    previous = address
                }
                tablesJSON[table.rawValue] = blocks
            }
            units[String(unit)] = tablesJSON
        }
        let data = try! JSONSerialization.data(withJSONObject: ["units": units], options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    private func units_sorted() -> [(Int, [RegisterTable: [Int: UInt16]])] { units.sorted { $0.key < $1.key } }

    /// Our in-process libmodbus server with one memory per unit, spanning each table's addresses.
    func server(policy: @escaping ModbusTCPServer.Policy = { _ in .reply }, onWrite: ModbusTCPServer.WriteObserver? = nil) throws -> ModbusTCPServer {
        var memories: [Int: ModbusUnitMemory] = [:]
        for (unit, tables) in units {
            func span(_ table: RegisterTable) -> Range<Int> {
                guard let registers = tables[table], let low = registers.keys.min(), let high = registers.keys.max() else { return 0..<0 }
                return low..<(high + 1)
            }
            let memory = try #require(ModbusUnitMemory(holding: span(.holding), input: span(.input), coils: span(.coil), discreteInputs: span(.discreteInput)))
            for (table, registers) in tables {
                for (address, value) in registers { memory.set(table.modbusKindForTests, at: address, [value]) }
            }
            memories[unit] = memory
        }
        return try ModbusTCPServer(units: memories, policy: policy, onWrite: onWrite)
    }
}

extension RegisterTable {
    var modbusKindForTests: RegisterKind {
        switch self {
        case .holding: .holding
        case .input: .input
        case .coil: .coil
        case .discreteInput: .discreteInput
        }
    }
}

enum Peer {
    static let script = RepositoryPaths.path("Tests/Peers/pymodbus_peer.py")

    /// Starts the pymodbus peer serving `image` (TCP on `port`, or RTU on `device`).
    static func start(image: String, arguments: [String]) async throws -> ChildProcess {
        let directory = try RepositoryPaths.makeTemporaryDirectory("acquisition-peer")
        try image.write(toFile: directory + "/image.json", atomically: true, encoding: .utf8)
        let peer = try ChildProcess(executable: RepositoryPaths.systemPython, arguments: [script] + arguments + ["--image", directory + "/image.json"])
        let deadline = ContinuousClock.now + .seconds(20)
        while !peer.output.contains("READY") {
            guard peer.isRunning, ContinuousClock.now < deadline else { throw TestSupportError("pymodbus peer did not start: \(peer.output)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return peer
    }

    /// A socat pty pair: (our end, the peer's end, the socat process).
    static func ptyPair() async throws -> (String, String, ChildProcess) {
        let directory = try RepositoryPaths.makeTemporaryDirectory("acquisition-pty")
        let ours = directory + "/hubmeter", theirs = directory + "/peer"
        let socat = try ChildProcess(executable: "/usr/bin/socat", arguments: ["pty,raw,echo=0,link=\(ours)", "pty,raw,echo=0,link=\(theirs)"])
        let deadline = ContinuousClock.now + .seconds(5)
        while !(FileManager.default.fileExists(atPath: ours) && FileManager.default.fileExists(atPath: theirs)) {
            guard ContinuousClock.now < deadline else { throw TestSupportError("socat made no pty pair: \(socat.output)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (ours, theirs, socat)
    }
}

enum Catalog {
    static let shared: ProfileCatalog = try! ProfileCatalog(dataDirectory: RepositoryPaths.path("Config"))
}

let testLogger = Logger(label: "hubmeter.test") { _ in SwiftLogNoOpLogHandler() }

func close(_ value: Double?, _ expected: Double, tolerance: Double = 1e-6) -> Bool {
    guard let value else { return false }
    return abs(value - expected) <= tolerance * max(1, abs(expected))
}
