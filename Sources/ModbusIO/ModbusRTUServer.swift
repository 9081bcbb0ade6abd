import CModbus
import Dispatch
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A Modbus RTU server on a pseudo-terminal: clients open ``devicePath`` as if it were an RS-485
/// adapter. Several unit ids share the line, as meters on one bus do. Same memory, policy and
/// write observer as ``ModbusTCPServer``; `.disconnect` means no answer on a serial line.
public final class ModbusRTUServer: Sendable {
    public typealias Policy = ModbusTCPServer.Policy
    public typealias WriteObserver = ModbusTCPServer.WriteObserver

    /// The terminal clients open: the symlink when one was asked for, else /dev/pts/N.
    public let devicePath: String
    private let link: String?
    private let state: Mutex<ServerState>
    private let wakeWrite: Int32
    private let finished = DispatchSemaphore(value: 0)
    private let policy: Policy
    private let onWrite: WriteObserver?

    /// Opens a pty pair and serves on its master side. `link`, when given, becomes a symlink to the
    /// terminal (an existing symlink there is replaced; any other file is an error).
    public init(link: String? = nil, units: [Int: ModbusUnitMemory], policy: @escaping Policy = { _ in .reply },
                onWrite: WriteObserver? = nil) throws(ModbusError) {
        let target = "rtu:\(link ?? "pty")"
        var number: UInt32 = 0
        let master = hubmeter_open_pty(&number)
        guard master >= 0 else {
            throw ModbusError(.connectionFailed, operation: "open a pseudo-terminal", target: target, errnoValue: hubmeter_errno())
        }
        let terminal = "/dev/pts/\(number)"
        // Our own handle on the terminal: raw mode before any client, and no EIO on the master
        // side while no client has it open.
        let slave = open(terminal, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            let error = errno
            close(master)
            throw ModbusError(.connectionFailed, operation: "open \(terminal)", target: target, errnoValue: error)
        }
        var attributes = termios()
        tcgetattr(slave, &attributes)
        cfmakeraw(&attributes)
        tcsetattr(slave, TCSANOW, &attributes)
        if let link {
            var info = stat()
            if lstat(link, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFLNK else {
                    close(master)
                    close(slave)
                    throw ModbusError(.connectionFailed, operation: "link \(link) to \(terminal)", target: target, errnoValue: EEXIST,
                                      detail: "\(link) exists and is not a symlink")
                }
                unlink(link)
            }
            guard symlink(terminal, link) == 0 else {
                let error = errno
                close(master)
                close(slave)
                throw ModbusError(.connectionFailed, operation: "link \(link) to \(terminal)", target: target, errnoValue: error)
            }
        }
        // The context never opens a device: it reads and writes the master side we hand it.
        guard let context = ModbusContext.make(.rtu(.init(device: "/dev/null"))) else {
            close(master)
            close(slave)
            throw ModbusError(.invalidRequest, operation: "create RTU server", target: target)
        }
        modbus_set_socket(context.pointer, master)
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            close(master)
            close(slave)
            throw ModbusError(.other, operation: "create wake pipe", target: target, errnoValue: errno)
        }
        for fd in pipeFDs {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        self.devicePath = link ?? terminal
        self.link = link
        self.policy = policy
        self.onWrite = onWrite
        self.wakeWrite = pipeFDs[1]
        self.state = Mutex(ServerState(units: units))
        let loop = RTUServerLoop(context: context, master: master, slave: slave, wakeRead: pipeFDs[0], server: self)
        DispatchQueue(label: "hubmeter.modbus-rtu-server \(devicePath)").async { loop.run() }
    }

    /// Reads or changes a unit's memory while the server is not using it.
    public func withMemory<Result>(unit: Int, _ body: (ModbusUnitMemory) throws -> Result) rethrows -> Result? {
        try state.withLock { state in
            guard let memory = state.units[unit] else { return nil }
            return try body(memory)
        }
    }

    public var requestCount: Int { state.withLock { $0.requestCount } }

    /// Stops serving, closes the terminal, removes the symlink and waits for the server thread.
    public func stop() {
        let alreadyStopping = state.withLock { state in
            defer { state.stopping = true }
            return state.stopping
        }
        guard !alreadyStopping else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        finished.wait()
        close(wakeWrite)
        if let link { unlink(link) }
    }

    fileprivate func decide(_ request: ModbusServerRequest) -> ModbusServerAction { policy(request) }
    fileprivate func observeWrite(_ request: ModbusServerRequest) { onWrite?(request) }
    fileprivate func withState<Result>(_ body: (inout ServerState) -> Result) -> Result { state.withLock { body(&$0) } }
    fileprivate func signalFinished() { finished.signal() }
}

/// The RTU server thread's private state.
private final class RTUServerLoop: @unchecked Sendable {
    let context: ModbusContext
    let master: Int32
    let slave: Int32
    let wakeRead: Int32
    unowned let server: ModbusRTUServer

    init(context: ModbusContext, master: Int32, slave: Int32, wakeRead: Int32, server: ModbusRTUServer) {
        self.context = context
        self.master = master
        self.slave = slave
        self.wakeRead = wakeRead
        self.server = server
    }

    func run() {
        var frame = [UInt8](repeating: 0, count: Int(hubmeter_modbus_rtu_max_adu_length()))
        while !server.withState({ $0.stopping }) {
            var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                _ = read(wakeRead, &drain, drain.count)
            }
            if fds[0].revents & Int16(POLLIN) != 0 {
                serve(frame: &frame)
            }
        }
        close(master)
        close(slave)
        close(wakeRead)
        server.signalFinished()
    }

    func serve(frame: inout [UInt8]) {
        // Framing is ours, not libmodbus's: its RTU receive drops the frame after one addressed
        // to another unit (it takes it for that unit's reply), and one line serves several units.
        guard readExactly(2, into: &frame, at: 0) else { return discard() }
        let rest: Int
        switch frame[1] {
        case 1, 2, 3, 4, 5, 6: rest = 6
        case 15, 16:
            guard readExactly(5, into: &frame, at: 2) else { return discard() }
            rest = Int(frame[6]) + 2
        case 23:
            guard readExactly(9, into: &frame, at: 2) else { return discard() }
            rest = Int(frame[10]) + 2
        default:
            return discard()
        }
        guard let length = Self.requestLength(frame), readExactly(rest, into: &frame, at: length - rest),
              Self.crcMatches(frame, length: length) else { return discard() }
        let unit = Int(frame[0]), function = frame[1]
        guard unit != 0 else { return } // broadcasts get no answer
        let address = Int(frame[2]) << 8 | Int(frame[3])
        let count = function == 5 || function == 6 ? 1 : Int(frame[4]) << 8 | Int(frame[5])
        let request = ModbusServerRequest(unit: unit, function: function, address: address, count: count)
        let known = server.withState { state in
            state.requestCount += 1
            return state.units[unit] != nil
        }
        // A unit that is not on the line stays silent, as on a real bus.
        guard known else { return }
        var action = server.decide(request)
        if case .delay(let duration) = action {
            let (seconds, attoseconds) = duration.components
            var remaining = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            var asked = remaining
            while nanosleep(&asked, &remaining) != 0 && errno == EINTR { asked = remaining }
            action = .reply
        }
        switch action {
        case .ignore, .disconnect:
            return
        case .exception(let exception):
            _ = frame.withUnsafeMutableBufferPointer { modbus_reply_exception(context.pointer, $0.baseAddress, UInt32(exception.rawValue)) }
        case .reply, .delay:
            let replied: Int32 = server.withState { state in
                guard let memory = state.units[unit] else { return -1 }
                return frame.withUnsafeMutableBufferPointer { modbus_reply(context.pointer, $0.baseAddress, Int32(length), memory.mapping) }
            }
            if replied >= 0 && request.isWrite { server.observeWrite(request) }
        }
    }

    /// Reads `count` bytes, allowing 500 ms between bytes (libmodbus's default byte timeout).
    func readExactly(_ count: Int, into frame: inout [UInt8], at offset: Int) -> Bool {
        guard offset + count <= frame.count else { return false }
        var got = 0
        while got < count {
            var entry = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, 500)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return false }
            let n = frame.withUnsafeMutableBufferPointer { read(master, $0.baseAddress! + offset + got, count - got) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            got += n
        }
        return true
    }

    /// Drops whatever is left of a broken frame.
    func discard() { tcflush(master, TCIFLUSH) }

    /// Length of a request frame including its CRC, from its function code.
    static func requestLength(_ frame: [UInt8]) -> Int? {
        switch frame[1] {
        case 1, 2, 3, 4, 5, 6: 8
        case 15, 16: 9 + Int(frame[6])
        case 23: 13 + Int(frame[10])
        default: nil
        }
    }

    /// The Modbus CRC-16 (polynomial 0xA001, low byte first on the wire).
    static func crcMatches(_ frame: [UInt8], length: Int) -> Bool {
        guard length >= 4, length <= frame.count else { return false }
        var crc: UInt16 = 0xFFFF
        for byte in frame[0..<(length - 2)] {
            crc ^= UInt16(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        }
        return frame[length - 2] == UInt8(crc & 0xFF) && frame[length - 1] == UInt8(crc >> 8)
    }
}
