import Crypto

/// SHA-256, from swift-crypto (BoringSSL compiled into the binary, with its SHA extensions code).
///
/// Not from the system's OpenSSL: its first digest initialises OpenSSL 3's provider machinery and
/// configuration, which keeps 2 MiB of libcrypto resident in the agent for the rest of its life
/// (docs/performance.md, "Every function in its own section, and SHA-256 without OpenSSL").
public enum SHA256 {
    public static func digest(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var hasher = Crypto.SHA256()
        update(&hasher, with: bytes)
        return Array(hasher.finalize())
    }

    /// The digest of `first` followed by `second`, without joining them first.
    public static func digest(_ first: some Collection<UInt8>, followedBy second: some Collection<UInt8>) -> [UInt8] {
        var hasher = Crypto.SHA256()
        update(&hasher, with: first)
        update(&hasher, with: second)
        return Array(hasher.finalize())
    }

    private static func update(_ hasher: inout Crypto.SHA256, with bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { hasher.update(bufferPointer: $0) } }
    }

    /// Lowercase hex of the digest.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        hexString(digest(bytes))
    }

    public static func hex(_ text: String) -> String { hex(Array(text.utf8)) }

    public static func hexString(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var result = [UInt8]()
        result.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            result.append(digits[Int(byte >> 4)])
            result.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: result, as: UTF8.self)
    }
}
