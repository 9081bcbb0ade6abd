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
        for base in baseAddresses {
            guard let registers = try read(connection, address: base, count: 2, unit: unit, observe: observe), registers == marker else {
                continue
            }
            var models: [DiscoveredModel] = []
            var address = base + 2
            // ID and L are read separately: some devices omit L after the end marker.
            while models.count < 256, address + 1 <= 65535 {
                guard let id = try read(connection, address: address, count: 1, unit: unit, observe: observe)?.first,
                      id != 0xFFFF, id != 0 else { break }
                guard let length = try read(connection, address: address + 1, count: 1, unit: unit, observe: observe)?.first else { break }
                models.append(DiscoveredModel(id: Int(id), address: address, length: Int(length)))
                address += Int(length) + 2
            }
            return Result(base: base, models: models)
        }
        return nil
    }

    /// Registers, or nil when the device answers with an exception (nothing mapped there).
    private static func read(_ connection: isolated ModbusConnection, address: Int, count: Int, unit: Int,
                             observe: (Duration, ModbusError?) -> Void) throws(ModbusError) -> [UInt16]? {
        let start = ContinuousClock.now
        do {
            let registers = try connection.readRegisters(.holding, address: address, count: count, unit: unit)
            observe(ContinuousClock.now - start, nil)
            return registers
        } catch {
            observe(ContinuousClock.now - start, error)
            // A gateway saying the target does not answer means the device is absent, like a timeout.
            guard case .exception(let exception) = error.kind,
                  exception != .gatewayPathUnavailable && exception != .gatewayTargetFailedToRespond else { throw error }
            return nil
        }
    }
}
