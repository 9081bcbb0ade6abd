import DeviceProfiles
import ModbusIO

/// Finds a device's SunSpec models: the "SunS" marker at 40000, then 0, then 50000, then the
/// chain of model ids and lengths up to the end marker 0xFFFF (as pysunspec2 `scan` does).
public enum SunSpecDiscovery {
    public static let baseAddresses = [40000, 0, 50000]
    /// "SunS" as two registers.
    public static let marker: [UInt16] = [0x5375, 0x6E53]

    public struct Result: Sendable, Hashable {
        public var base: Int
        public var models: [DiscoveredModel]
    }

    /// The models, or nil when no base has the marker. A timeout or connection failure is
    /// thrown: the device is not there, and trying the other bases would only triple the wait.
    public static func discover(_ connection: isolated ModbusConnection, unit: Int,
                                observe: (Duration, ModbusError?) -> Void = { _, _ in }) throws(ModbusError) -> Result? {
        var scan = Scan()
        var step = scan.start()
        while true {
            switch step {
            case .found(let result):
                return result
            case .failed(let error):
                throw error
            case .read(let address, let count):
                let start = ContinuousClock.now
                do {
                    let registers = try connection.readRegisters(.holding, address: address, count: count, unit: unit)
                    observe(ContinuousClock.now - start, nil)
                    step = scan.complete(registers[...])
                } catch {
                    observe(ContinuousClock.now - start, error)
                    step = scan.complete(error)
                }
            }
        }
    }

    /// Discovery as steps, one holding-register read each, for a caller that does the reads
    /// itself (the blocking ``discover(_:unit:observe:)`` and the TCP loop's device cycles).
    public struct Scan: Sendable {
        public enum Step: Sendable {
            case read(address: Int, count: Int)
            /// The models, or nil when no base has the marker.
            case found(Result?)
            /// A timeout or connection failure: the device is not there.
            case failed(ModbusError)
        }

        private enum Phase: Sendable {
            case marker(baseIndex: Int)
            case modelID(base: Int, address: Int)
            case modelLength(base: Int, address: Int, id: Int)
        }

        private var phase: Phase = .marker(baseIndex: 0)
        private var models: [DiscoveredModel] = []

        public init() {}

        public mutating func start() -> Step {
            phase = .marker(baseIndex: 0)
            models = []
            return .read(address: baseAddresses[0], count: 2)
        }

        /// The registers the last step read.
        public mutating func complete(_ registers: ArraySlice<UInt16>) -> Step {
            advance(registers)
        }

        /// The error the last step's read ended with.
        public mutating func complete(_ error: ModbusError) -> Step {
            // An exception means nothing is mapped there; but a gateway saying the target does
            // not answer means the device is absent, like a timeout.
            guard case .exception(let exception) = error.kind,
                  exception != .gatewayPathUnavailable && exception != .gatewayTargetFailedToRespond else { return .failed(error) }
            return advance(nil)
        }

        private mutating func advance(_ registers: ArraySlice<UInt16>?) -> Step {
            switch phase {
            case .marker(let baseIndex):
                if let registers, registers.elementsEqual(marker) {
                    let base = baseAddresses[baseIndex]
                    return readModelID(base: base, at: base + 2)
                }
                guard baseIndex + 1 < baseAddresses.count else { return .found(nil) }
                phase = .marker(baseIndex: baseIndex + 1)
                return .read(address: baseAddresses[baseIndex + 1], count: 2)
            case .modelID(let base, let address):
                // ID and L are read separately: some devices omit L after the end marker.
                guard let id = registers?.first, id != 0xFFFF, id != 0 else { return .found(Result(base: base, models: models)) }
                phase = .modelLength(base: base, address: address, id: Int(id))
                return .read(address: address + 1, count: 1)
            case .modelLength(let base, let address, let id):
                guard let length = registers?.first else { return .found(Result(base: base, models: models)) }
                models.append(DiscoveredModel(id: id, address: address, length: Int(length)))
                return readModelID(base: base, at: address + Int(length) + 2)
            }
        }

        private mutating func readModelID(base: Int, at address: Int) -> Step {
            guard models.count < 256, address + 1 <= 65535 else { return .found(Result(base: base, models: models)) }
            phase = .modelID(base: base, address: address)
            return .read(address: address, count: 1)
        }
    }
}
