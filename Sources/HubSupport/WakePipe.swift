#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A pipe that wakes a thread waiting in `poll`: both ends non-blocking and close-on-exec.
public final class WakePipe: Sendable {
    public let readEnd: Int32
    private let writeEnd: Int32

    /// Nil when the pipe cannot be made (`errno` says why).
    public init?() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    public func signal() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Reads every pending wake-up byte.
    public func drain() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(readEnd, &bytes, bytes.count) > 0 {}
    }
}
