import Dispatch
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A deliberately small HTTP/1.1 server for `/metrics` and `/health` on a loopback address:
/// GET only, one request per connection, bounded request size and read time. It runs on its own
/// thread so a slow scraper never touches the agent's cycle.
public final class LoopbackHTTPServer: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        public init(status: Int, contentType: String, body: String) {
            self.status = status
            self.contentType = contentType
            self.body = Array(body.utf8)
        }
    }

    public typealias Handler = @Sendable (_ method: String, _ path: String) -> Response

    public let port: Int
    private let listenFD: Int32
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)

    public struct StartError: HubError {
        public let code = "http.listen_failed"
        public let description: String
    }

    /// Binds `host:port` (IPv4 or IPv6 literal; port 0 picks one) and starts serving.
    public init(host: String, port: Int, handler: @escaping Handler) throws(StartError) {
        let isIPv6 = host.contains(":")
        let fd = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "cannot create a socket for \(host):\(port)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var bound: Int32 = -1
        var actualPort = port
        if isIPv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else {
                close(fd)
                throw StartError(description: "'\(host)' is not an IPv6 address")
            }
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 ? getsockname(fd, $0, &length) : -1 }
            }
            actualPort = Int(UInt16(bigEndian: address.sin6_port))
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let text = host == "localhost" ? "127.0.0.1" : host
            guard inet_pton(AF_INET, text, &address.sin_addr) == 1 else {
                close(fd)
                throw StartError(description: "'\(host)' is not an IPv4 address")
            }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 ? getsockname(fd, $0, &length) : -1 }
            }
            actualPort = Int(UInt16(bigEndian: address.sin_port))
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let error = errno
            close(fd)
            throw StartError(description: "cannot listen on \(host):\(port) (errno \(error))")
        }
        self.listenFD = fd
        self.port = actualPort
        // The thread holds the server until stop() is called.
        DispatchQueue(label: "hubmeter.http \(host):\(actualPort)").async { [self] in
            serve(handler: handler)
            finished.signal()
        }
    }

    private func serve(handler: Handler) {
        while !stopped.withLock({ $0 }) {
            var poller = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 200)
            if ready <= 0 { continue }
            let client = accept(listenFD, nil, nil)
            if client < 0 { continue }
            Self.handle(client: client, handler: handler)
            close(client)
        }
        close(listenFD)
    }

    private static func handle(client: Int32, handler: Handler) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        // Read until the end of the header (we never need a body) or 8 KiB.
        while request.count < 8192 {
            let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            request += buffer[0..<count]
            if request.count >= 4, request.suffix(4) == [13, 10, 13, 10] { break }
        }
        let requestLine = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = requestLine.split(separator: " ")
        let response: Response
        if parts.count != 3 || !parts[2].hasPrefix("HTTP/1.") {
            response = Response(status: 400, contentType: "text/plain; charset=utf-8", body: "bad request: expected 'GET /path HTTP/1.1'\n")
        } else if parts[0] != "GET" && parts[0] != "HEAD" {
            response = Response(status: 405, contentType: "text/plain; charset=utf-8", body: "method \(parts[0]) not allowed; only GET\n")
        } else {
            let path = String(parts[1].split(separator: "?", maxSplits: 1).first ?? "")
            response = handler(String(parts[0]), path)
        }
        let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][response.status] ?? "Status"
        var bytes = Array("HTTP/1.1 \(response.status) \(reason)\r\nContent-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\n\r\n".utf8)
        if parts.first != "HEAD" { bytes += response.body }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { break }
            offset += sent
        }
    }

    /// Stops accepting and waits for the server thread (at most one poll interval).
    public func stop() {
        let wasStopped = stopped.withLock { value -> Bool in
            defer { value = true }
            return value
        }
        if !wasStopped { finished.wait() }
    }
}
