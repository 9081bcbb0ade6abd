import CModbus
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A TCP connect that does not wait: the socket is returned while the handshake runs, and its
/// outcome is read once the socket turns writable. Sets what libmodbus sets on its own sockets
/// (close-on-exec, no Nagle delay).
enum NonBlockingTCP {
    /// Resolves `host` (numeric addresses without a lookup; names through the system resolver,
    /// which may block) and starts connecting to its first address.
    static func startConnect(host: String, port: Int, target: String) throws(ModbusError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw ModbusError(.connectionFailed, operation: "connect", target: target, detail: "cannot resolve host '\(host)' (getaddrinfo \(status))")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ModbusError.fromErrno(errno, operation: "connect", target: target, connecting: true) }
        var on: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        if connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
            let error = errno
            close(fd)
            throw ModbusError.fromErrno(error, operation: "connect", target: target, connecting: true)
        }
        return fd
    }

    /// The connect's outcome (0 or an errno) once the socket is writable.
    static func connectError(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { return errno }
        return error
    }
}

/// Waits for socket events with a timeout of nanosecond resolution (`ppoll`).
public enum SocketPoll {
    /// The number of ready descriptors, 0 on timeout, -1 on error (`errno`). A nil or negative
    /// timeout waits for an event.
    public static func wait(_ fds: inout [pollfd], timeout: Duration?) -> Int32 {
        var nanoseconds: Int64 = -1
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            nanoseconds = max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        return fds.withUnsafeMutableBufferPointer { hubmeter_poll_ns($0.baseAddress, UInt($0.count), nanoseconds) }
    }
}

