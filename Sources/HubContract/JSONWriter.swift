/// A small, fast JSON writer for the messages published every cycle (device states, balances):
/// Foundation's JSONEncoder costs tens of microseconds per message, which adds up to milliseconds
/// at 200 devices per second. Callers write keys in sorted order, so the output is byte-for-byte
/// what `MessageEncoding` would produce for the same value (checked in the tests).
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = [false]

    public init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma.removeLast()
    }

    public mutating func key(_ name: String) {
        separate()
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
        // The value that follows must not add a comma of its own.
        needsComma[needsComma.count - 1] = false
        pendingValue = true
    }

    private var pendingValue = false

    public mutating func string(_ value: String) {
        separate()
        appendString(value)
    }

    public mutating func number(_ value: Double) {
        separate()
        if value == value.rounded(), abs(value) < 1e15 {
            bytes.append(contentsOf: String(Int64(value)).utf8)
        } else {
            bytes.append(contentsOf: value.description.utf8)
        }
    }

    public mutating func number(_ value: Int64) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
    }

    /// `"name":value` pairs for the common cases.
    public mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    public mutating func field(_ name: String, _ value: Double) { key(name); number(value) }
    public mutating func field(_ name: String, _ value: Int64) { key(name); number(value) }
    public mutating func field(_ name: String, _ value: Bool) { key(name); bool(value) }

    private mutating func separate() {
        if pendingValue {
            pendingValue = false
        } else if needsComma[needsComma.count - 1] {
            bytes.append(UInt8(ascii: ","))
        }
        needsComma[needsComma.count - 1] = true
    }

    private mutating func appendString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        // Names, units and timestamps need no escape: copied in one go (byte by byte, this was
        // the writer's largest cost with 200 device states per second).
        let copied = text.withUTF8 { utf8 in
            guard !utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 0x0A: bytes.append(contentsOf: [92, 110])
            case 0x0D: bytes.append(contentsOf: [92, 114])
            case 0x09: bytes.append(contentsOf: [92, 116])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, 117, 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension QualifiedValue {
    /// Keys in sorted order: ageMs, estimatedShare, quality, unit, value.
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        if let ageMs { writer.field("ageMs", ageMs) }
        if let estimatedShare { writer.field("estimatedShare", estimatedShare) }
        writer.field("quality", quality)
        writer.field("unit", unit)
        writer.key("value")
        if let value { writer.number(value) } else { writer.null() }
        writer.endObject()
    }
}

extension ParticipantBalanceMessage {
    /// The same bytes as `MessageEncoding.encode(self)`, without Foundation.
    public var payload: [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("allocationPower"); allocationPower.write(to: &writer)
        writer.key("at"); writer.string(at)
        writer.key("batteryPower"); batteryPower.write(to: &writer)
        writer.field("complete", complete)
        writer.key("consumptionPower"); consumptionPower.write(to: &writer)
        writer.key("exportPower"); exportPower.write(to: &writer)
        writer.key("gridPower"); gridPower.write(to: &writer)
        writer.field("hub", hub)
        writer.key("importPower"); importPower.write(to: &writer)
        writer.field("member", member)
        writer.field("participant", participant)
        writer.key("productionPower"); productionPower.write(to: &writer)
        writer.key("residualImportPower"); residualImportPower.write(to: &writer)
        writer.field("schema", schema)
        writer.endObject()
        return writer.bytes
    }
}

extension HubBalanceMessage {
    /// The same bytes as `MessageEncoding.encode(self)`, without Foundation.
    public var payload: [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("allocatedPower"); allocatedPower.write(to: &writer)
        writer.field("allocationKey", allocationKey)
        writer.field("at", at)
        writer.key("collectiveBatteryPower"); collectiveBatteryPower.write(to: &writer)
        writer.key("collectiveProductionPower"); collectiveProductionPower.write(to: &writer)
        writer.field("complete", complete)
        writer.key("consumptionPower"); consumptionPower.write(to: &writer)
        writer.key("exportedSurplusPower"); exportedSurplusPower.write(to: &writer)
        writer.field("hub", hub)
        writer.field("incompleteParticipants", Int64(incompleteParticipants))
        writer.field("memberCount", Int64(memberCount))
        writer.key("netGridPower"); netGridPower.write(to: &writer)
        writer.key("poolPower"); poolPower.write(to: &writer)
        writer.key("productionPower"); productionPower.write(to: &writer)
        writer.field("schema", schema)
        writer.endObject()
        return writer.bytes
    }
}

extension DeviceStateMessage {
    /// The same bytes as `MessageEncoding.encode(self)`, without Foundation.
    public var payload: [UInt8] {
        var writer = JSONWriter(capacity: 256 + points.count * 96)
        writer.beginObject()
        writer.field("at", at)
        writer.key("canonical")
        writer.beginObject()
        for (quantity, point) in canonical.sorted(by: { $0.key < $1.key }) { writer.field(quantity, point) }
        writer.endObject()
        writer.field("device", device)
        writer.field("health", health)
        writer.field("hub", hub)
        writer.key("points")
        writer.beginObject()
        for (name, point) in points.sorted(by: { $0.key < $1.key }) {
            writer.key(name)
            writer.beginObject()
            if let acquiredAt = point.acquiredAt { writer.field("acquiredAt", acquiredAt) }
            if let ageMs = point.ageMs { writer.field("ageMs", ageMs) }
            if let error = point.error { writer.field("error", error) }
            writer.field("quality", point.quality)
            if let text = point.text { writer.field("text", text) }
            if let unit = point.unit { writer.field("unit", unit) }
            if let value = point.value { writer.field("value", value) }
            writer.endObject()
        }
        writer.endObject()
        writer.field("profile", profile)
        writer.field("schema", schema)
        writer.endObject()
        return writer.bytes
    }
}
