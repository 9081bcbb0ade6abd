import Foundation

/// Binds a datagram socket like systemd's notify socket (`NOTIFY_SOCKET`) and returns what arrives.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let fd: Int32

    /// `abstract`: in the abstract namespace (path starts with `@`), as systemd may use.
    public init(abstract: Bool = false) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        let name = "hubmeter-notify-\(UUID().uuidString.prefix(8))"
        path = abstract ? "@\(name)" : NSTemporaryDirectory() + name
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw TestSupportError("cannot bind the notify socket \(path)") }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram, or nil after a 2 s timeout.
    public func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }

    /// Datagrams until one satisfies `condition` (included) or `timeout` passes.
    public func receive(until condition: (String) -> Bool, timeout: Duration = .seconds(10)) -> [String] {
        var received: [String] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let message = receive() else { continue }
            received.append(message)
            if condition(message) { break }
        }
        return received
    }

    deinit {
        close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }
}
