import Foundation

/// One JSON encoding for everything on the wire: camelCase keys (as the Swift types name them;
/// snake_case conversion does not round-trip names like `hubID`), sorted, no insignificant
/// whitespace, so the same value always gives the same bytes (the hash chain depends on it).
public enum MessageEncoding {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .throw
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        return decoder
    }

    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        Array(try encoder().encode(value))
    }
}
