import Foundation
import HubConfiguration
import HubSupport

/// Who is asking: resolved from a bearer token (or, for browsers without JavaScript, the password
/// of HTTP Basic authentication), compared by SHA-256 with the configured hashes.
public struct Principal: Sendable, Equatable {
    public var name: String
    /// nil: the regional auditor, who sees every hub.
    public var hub: String?

    public func maySee(hub other: String) -> Bool { hub == nil || hub == other }
}

public struct TokenAuthenticator: Sendable {
    struct Entry: Sendable {
        var digest: [UInt8]
        var principal: Principal
    }

    private let entries: [Entry]

    public init(tokens: [AggregatorConfiguration.APIToken]) {
        entries = tokens.compactMap { token in
            guard let digest = Self.bytes(hex: token.sha256) else { return nil }
            return Entry(digest: digest, principal: Principal(name: token.name, hub: token.role == .auditor ? nil : token.hub))
        }
    }

    /// The principal for an `Authorization` header value, or nil when absent or unknown.
    public func authenticate(authorization: String?) -> Principal? {
        guard let authorization, let token = Self.token(from: authorization), !token.isEmpty else { return nil }
        let digest = SHA256.digest(Array(token.utf8))
        var found: Principal?
        // Every entry is compared, in constant time each, so timing tells nothing about which matched.
        for entry in entries where Self.constantTimeEqual(entry.digest, digest) {
            found = entry.principal
        }
        return found
    }

    static func token(from header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        switch parts[0].lowercased() {
        case "bearer":
            return parts[1].trimmingCharacters(in: .whitespaces)
        case "basic":
            guard let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
                  let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
            return String(text[text.index(after: colon)...])
        default:
            return nil
        }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    static func bytes(hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: utf8.count, by: 2) {
            guard let byte = UInt8(String(decoding: utf8[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
