import DeviceProfiles
import ModbusIO

/// Writes a point (battery setpoints, PV limits) and reads it back to verify.
///
/// Refused unless the device is configured `writable: true` and the profile marks the point
/// writable. Single registers use function 6, longer values function 16, coils function 5.
public enum DeviceWriter {
    /// Writes `value` (in the point's unit and the hub's sign convention) and returns the value read back.
    @discardableResult
    public static func write(_ value: Double, to pointName: String, of device: AcquisitionDevice, profile: DeviceProfile? = nil,
                             on connection: ModbusConnection) async throws(ModbusError) -> Double {
        let profile = profile ?? device.profile
        let target = "\(connection.endpoint) unit \(device.unitID)"
        let operation = "write \(pointName) = \(value)"
        guard device.writable else { throw ModbusError(.writeNotAllowed, operation: operation, target: target) }
        guard let point = profile.points.first(where: { $0.name == pointName }) else {
            throw ModbusError(.invalidRequest, operation: operation, target: target, detail: "profile \(profile.id) has no point named \(pointName)")
        }
        guard point.writable, !point.isComputed, point.type != .string, point.table == .holding || point.table == .coil else {
            throw ModbusError(.invalidRequest, operation: operation, target: target, detail: "point \(pointName) is not writable in profile \(profile.id)")
        }
        if point.table == .coil {
            try await connection.writeCoil(address: point.address, value: value != 0, unit: device.unitID)
            let readBack = try await connection.readBits(.coil, address: point.address, count: 1, unit: device.unitID)
            guard readBack == [value != 0] else {
                throw ModbusError(.verificationFailed, operation: operation, target: target, detail: "coil reads back \(readBack[0])")
            }
            return readBack[0] ? 1 : 0
        }
        var scale = point.scale
        if let factorName = point.scaleFactorPoint, let factor = profile.points.first(where: { $0.name == factorName }) {
            let registers = try await connection.readRegisters(.holding, address: factor.address, count: 1, unit: device.unitID)
            let exponent = Int(Int16(bitPattern: registers[0]))
            var power = 1.0
            for _ in 0..<abs(exponent) { power *= 10 }
            scale = exponent < 0 ? scale / power : scale * power
        }
        let signed = point.invert ? -value : value
        let raw = (signed - point.offset) / scale
        guard let registers = RegisterCodec.encode(raw, type: point.type, byteOrder: point.byteOrder, wordOrder: point.wordOrder) else {
            throw ModbusError(.invalidRequest, operation: operation, target: target, detail: "\(value) does not fit \(point.type.rawValue) after scaling")
        }
        if registers.count == 1 {
            try await connection.writeRegister(address: point.address, value: registers[0], unit: device.unitID)
        } else {
            try await connection.writeRegisters(address: point.address, values: registers, unit: device.unitID)
        }
        let readBack = try await connection.readRegisters(.holding, address: point.address, count: registers.count, unit: device.unitID)
        guard readBack == registers else {
            throw ModbusError(.verificationFailed, operation: operation, target: target,
                              detail: "wrote \(registers) but read back \(readBack)")
        }
        let bits = readBack.withUnsafeBufferPointer { buffer in
            RegisterCodec.bits(buffer, at: 0, registerCount: readBack.count, byteOrder: point.byteOrder, wordOrder: point.wordOrder)
        }
        let decoded = RegisterCodec.number(bits: bits, type: point.type) * scale + point.offset
        return point.invert ? -decoded : decoded
    }
}
