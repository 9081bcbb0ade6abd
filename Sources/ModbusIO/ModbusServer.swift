import CModbus
import HubSupport
import Dispatch
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The register tables of one simulated unit, backed by a libmodbus mapping.
///
/// Only touched while the server's lock is held (inside `ModbusTCPServer.withMemory`).
public final class ModbusUnitMemory {
    let mapping: UnsafeMutablePointer<modbus_mapping_t>
    public let holding: Range<Int>
    public let input: Range<Int>
    public let coils: Range<Int>
    public let discreteInputs: Range<Int>

    /// Allocates the four tables with the given address ranges (empty ranges are allowed).
    public init?(holding: Range<Int>, input: Range<Int> = 0..<0, coils: Range<Int> = 0..<0, discreteInputs: Range<Int> = 0..<0) {
        for range in [holding, input, coils, discreteInputs] where range.lowerBound < 0 || range.upperBound > 65536 {
            return nil
        }
        guard let mapping = modbus_mapping_new_start_address(
            UInt32(coils.lowerBound), UInt32(coils.count),
            UInt32(discreteInputs.lowerBound), UInt32(discreteInputs.count),
            UInt32(holding.lowerBound), UInt32(holding.count),
            UInt32(input.lowerBound), UInt32(input.count)
        ) else { return nil }
        self.mapping = mapping
        self.holding = holding
        self.input = input
        self.coils = coils
        self.discreteInputs = discreteInputs
    }

    deinit { modbus_mapping_free(mapping) }

    public subscript(holding address: Int) -> UInt16 {
        get { precondition(holding.contains(address)); return mapping.pointee.tab_registers[address - holding.lowerBound] }
        set { precondition(holding.contains(address)); mapping.pointee.tab_registers[address - holding.lowerBound] = newValue }
    }

    public subscript(input address: Int) -> UInt16 {
        get { precondition(input.contains(address)); return mapping.pointee.tab_input_registers[address - input.lowerBound] }
        set { precondition(input.contains(address)); mapping.pointee.tab_input_registers[address - input.lowerBound] = newValue }
    }

    public subscript(coil address: Int) -> Bool {
        get { precondition(coils.contains(address)); return mapping.pointee.tab_bits[address - coils.lowerBound] != 0 }
        set { precondition(coils.contains(address)); mapping.pointee.tab_bits[address - coils.lowerBound] = newValue ? 1 : 0 }
    }

    public subscript(discreteInput address: Int) -> Bool {
        get { precondition(discreteInputs.contains(address)); return mapping.pointee.tab_input_bits[address - discreteInputs.lowerBound] != 0 }
        set { precondition(discreteInputs.contains(address)); mapping.pointee.tab_input_bits[address - discreteInputs.lowerBound] = newValue ? 1 : 0 }
    }

    /// Writes consecutive registers of a register table.
    public func set(_ kind: RegisterKind, at address: Int, _ values: [UInt16]) {
        for (offset, value) in values.enumerated() {
            switch kind {
            case .holding: self[holding: address + offset] = value
            case .input: self[input: address + offset] = value
            case .coil: self[coil: address + offset] = value != 0
            case .discreteInput: self[discreteInput: address + offset] = value != 0
            }
        }
    }
}

/// A request as seen by the server, for fault injection and write observation.
public struct ModbusServerRequest: Sendable, Equatable {
    public let unit: Int
    public let function: UInt8
    public let address: Int
    public let count: Int

    public init(unit: Int, function: UInt8, address: Int, count: Int) {
        self.unit = unit
        self.function = function
        self.address = address
        self.count = count
    }

    public var isWrite: Bool { [5, 6, 15, 16, 22, 23].contains(function) }
}

/// What the server does with a request; the simulator uses this for scripted faults.
public enum ModbusServerAction: Sendable, Equatable {
    case reply
    case exception(ModbusException)
    /// Say nothing: the client times out.
    case ignore
    /// Wait, then reply.
    case delay(Duration)
    /// Close the client's connection.
    case disconnect
}

/// A Modbus TCP server on libmodbus's server side, serving several unit ids on one port.
///
/// Runs its own thread (a poll loop over the listening socket and its clients); the memory
/// of each unit is shared with the owner under a lock.
public final class ModbusTCPServer: Sendable {
    public typealias Policy = @Sendable (ModbusServerRequest) -> ModbusServerAction
    public typealias WriteObserver = @Sendable (ModbusServerRequest) -> Void

    public let host: String
    public let port: Int
    private let state: Mutex<ServerState>
    private let wakeWrite: Int32
    private let finished = DispatchSemaphore(value: 0)
    private let policy: Policy
    private let onWrite: WriteObserver?

    /// Binds and starts serving. `port: 0` picks a free port; read it back from `port`.
    /// `thread`: serve from a thread shared with other servers (a simulator with many endpoints)
    /// instead of a thread of this server's own.
    public init(host: String = "127.0.0.1", port: Int = 0, units: [Int: ModbusUnitMemory],
                policy: @escaping Policy = { _ in .reply }, onWrite: WriteObserver? = nil,
                thread: ModbusServerThread? = nil) throws(ModbusError) {
        guard let context = ModbusContext.make(.tcp(host: host, port: port)) else {
            throw ModbusError(.invalidRequest, operation: "create server", target: "tcp://\(host):\(port)")
        }
        // modbus_new_tcp_pi is needed for host names; for listening, the numeric form is enough.
        let listenFD = modbus_tcp_pi_listen(context.pointer, 16)
        guard listenFD >= 0 else {
            let error = hubmeter_errno()
            throw ModbusError(.connectionFailed, operation: "listen", target: "tcp://\(host):\(port)", errnoValue: error)
        }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &length) }
        }
        let family = address.ss_family
        let boundPort: Int = withUnsafePointer(to: &address) { pointer in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            close(listenFD)
            throw ModbusError(.other, operation: "create wake pipe", target: "tcp://\(host):\(port)", errnoValue: errno)
        }
        for fd in pipeFDs {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        self.host = host
        self.port = boundPort
        self.policy = policy
        self.onWrite = onWrite
        self.wakeWrite = pipeFDs[1]
        // 1 s indication timeout: a client that sends half a request cannot stall the loop forever.
        modbus_set_indication_timeout(context.pointer, 1, 0)
        self.state = Mutex(ServerState(units: units))
        let loop = ServerLoop(context: context, listenFD: listenFD, wakeRead: pipeFDs[0], server: self)
        if let thread {
            thread.add(loop)
        } else {
            DispatchQueue(label: "hubmeter.modbus-server \(host):\(boundPort)").async {
                loop.run()
            }
        }
    }

    /// Reads or changes a unit's memory while the server is not using it.
    public func withMemory<Result>(unit: Int, _ body: (ModbusUnitMemory) throws -> Result) rethrows -> Result? {
        try state.withLock { state in
            guard let memory = state.units[unit] else { return nil }
            return try body(memory)
        }
    }

    /// Adds or replaces a unit.
    public func setUnit(_ unit: Int, memory: ModbusUnitMemory?) {
        state.withLock { $0.units[unit] = memory }
    }

    /// Number of requests received so far (all units).
    public var requestCount: Int { state.withLock { $0.requestCount } }

    /// Closes every client connection (to simulate a dropped link) but keeps listening.
    public func dropClients() {
        state.withLock { $0.dropClientsRequested = true }
        wake()
    }

    /// Stops serving, closes all sockets and waits for the server thread to end.
    public func stop() {
        let alreadyStopping = state.withLock { state in
            defer { state.stopping = true }
            return state.stopping
        }
        guard !alreadyStopping else { return }
        wake()
        finished.wait()
        close(wakeWrite)
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    fileprivate func decide(_ request: ModbusServerRequest) -> ModbusServerAction { policy(request) }
    fileprivate func observeWrite(_ request: ModbusServerRequest) { onWrite?(request) }
    fileprivate func withState<Result>(_ body: (inout ServerState) -> Result) -> Result { state.withLock { body(&$0) } }
    fileprivate func signalFinished() { finished.signal() }
}

struct ServerState: ~Copyable {
    var units: [Int: ModbusUnitMemory]
    var stopping = false
    var dropClientsRequested = false
    var requestCount = 0
}

// The memory objects are only touched under the server's lock.
extension ModbusUnitMemory: @unchecked Sendable {}

/// The server thread's private state: the libmodbus context and the client sockets.
private final class ServerLoop: @unchecked Sendable {
    let context: ModbusContext
    let listenFD: Int32
    let wakeRead: Int32
    unowned let server: ModbusTCPServer
    var clients: [Int32] = []

    init(context: ModbusContext, listenFD: Int32, wakeRead: Int32, server: ModbusTCPServer) {
        self.context = context
        self.listenFD = listenFD
        self.wakeRead = wakeRead
        self.server = server
    }

    func run() {
        var query = [UInt8](repeating: 0, count: Int(hubmeter_modbus_tcp_max_adu_length()))
        var fds: [pollfd] = []
        while housekeeping() {
            fds.removeAll(keepingCapacity: true)
            appendPollEntries(to: &fds)
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                // EINTR, or ENOMEM: wait a moment and poll again (stop() waits for this thread).
                if errno != EINTR { usleep(10_000) }
                continue
            }
            handle(fds[...], query: &query)
        }
    }

    /// Acts on stop and drop requests; false once the server stopped (its sockets are closed).
    func housekeeping() -> Bool {
        let (stopping, dropClients) = server.withState { state in
            defer { state.dropClientsRequested = false }
            return (state.stopping, state.dropClientsRequested)
        }
        if stopping {
            clients.forEach { close($0) }
            clients.removeAll()
            close(listenFD)
            close(wakeRead)
            server.signalFinished()
            return false
        }
        if dropClients {
            clients.forEach { close($0) }
            clients.removeAll()
        }
        return true
    }

    /// The listening socket, the wake pipe, then every client.
    func appendPollEntries(to fds: inout [pollfd]) {
        fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0))
        fds.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
        for client in clients { fds.append(pollfd(fd: client, events: Int16(POLLIN), revents: 0)) }
    }

    /// Serves what `poll` found ready among this server's entries (in ``appendPollEntries(to:)``'s order).
    func handle(_ fds: ArraySlice<pollfd>, query: inout [UInt8]) {
        let first = fds.startIndex
        if fds[first + 1].revents != 0 {
            var drain = [UInt8](repeating: 0, count: 64)
            _ = read(wakeRead, &drain, drain.count)
        }
        if fds[first].revents & Int16(POLLIN) != 0 {
            let client = accept(listenFD, nil, nil)
            if client >= 0 { clients.append(client) }
        }
        let headerLength = Int(modbus_get_header_length(context.pointer))
        for entry in fds.dropFirst(2) where entry.revents != 0 {
            if !serve(client: entry.fd, query: &query, headerLength: headerLength) {
                close(entry.fd)
                clients.removeAll { $0 == entry.fd }
            }
        }
    }

    /// Handles one request; false when the client should be dropped.
    func serve(client: Int32, query: inout [UInt8], headerLength: Int) -> Bool {
        modbus_set_socket(context.pointer, client)
        let length = query.withUnsafeMutableBufferPointer { modbus_receive(context.pointer, $0.baseAddress) }
        if length <= 0 { return length == 0 }
        let function = query[headerLength]
        let unit = Int(query[headerLength - 1])
        let address = length > headerLength + 2 ? Int(query[headerLength + 1]) << 8 | Int(query[headerLength + 2]) : 0
        var count = length > headerLength + 4 ? Int(query[headerLength + 3]) << 8 | Int(query[headerLength + 4]) : 0
        if function == 5 || function == 6 { count = 1 }
        let request = ModbusServerRequest(unit: unit, function: function, address: address, count: count)
        server.withState { $0.requestCount += 1 }

        var action = server.decide(request)
        if case .delay(let duration) = action {
            let (seconds, attoseconds) = duration.components
            var remaining = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            var request = remaining
            while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
            action = .reply
        }
        switch action {
        case .ignore:
            return true
        case .disconnect:
            return false
        case .exception(let exception):
            _ = query.withUnsafeMutableBufferPointer { modbus_reply_exception(context.pointer, $0.baseAddress, UInt32(exception.rawValue)) }
            return true
        case .reply, .delay:
            let replied: Int32? = server.withState { state in
                guard let memory = state.units[unit] else { return nil }
                return query.withUnsafeMutableBufferPointer { modbus_reply(context.pointer, $0.baseAddress, length, memory.mapping) }
            }
            guard let replied else {
                // No such unit behind this "gateway": say so instead of letting the client time out.
                _ = query.withUnsafeMutableBufferPointer {
                    modbus_reply_exception(context.pointer, $0.baseAddress, UInt32(ModbusException.gatewayTargetFailedToRespond.rawValue))
                }
                return true
            }
            if replied >= 0 && request.isWrite { server.observeWrite(request) }
            return replied >= 0
        }
    }
}

/// One thread serving several ``ModbusTCPServer``s: one `poll` over all their sockets, so a
/// simulator with hundreds of endpoints wakes once for a burst of requests instead of once per
/// endpoint. A server stops as usual (``ModbusTCPServer/stop()``); the thread ends with
/// ``finish()`` once its servers stopped.
public final class ModbusServerThread: @unchecked Sendable {
    private let added = Mutex<(loops: [ServerLoop], finishing: Bool)>(([], false))
    private let wakePipe: WakePipe

    public init() throws(ModbusError) {
        guard let wakePipe = WakePipe() else {
            throw ModbusError(.other, operation: "create wake pipe", target: "Modbus server thread", errnoValue: errno)
        }
        self.wakePipe = wakePipe
        DispatchQueue(label: "hubmeter.modbus-servers").async { self.run() }
    }

    /// Ends the thread after its last server stopped.
    public func finish() {
        added.withLock { $0.finishing = true }
        wake()
    }

    fileprivate func add(_ loop: ServerLoop) {
        added.withLock { $0.loops.append(loop) }
        wake()
    }

    private func wake() { wakePipe.signal() }

    private func run() {
        var loops: [ServerLoop] = []
        var fds: [pollfd] = []
        var starts: [Int] = []
        var query = [UInt8](repeating: 0, count: Int(hubmeter_modbus_tcp_max_adu_length()))
        while true {
            let (new, finishing) = added.withLock { state in
                defer { state.loops.removeAll() }
                return (state.loops, state.finishing)
            }
            loops += new
            loops = loops.filter { $0.housekeeping() }
            if loops.isEmpty && finishing { break }
            fds.removeAll(keepingCapacity: true)
            starts.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakePipe.readEnd, events: Int16(POLLIN), revents: 0))
            for loop in loops {
                starts.append(fds.count)
                loop.appendPollEntries(to: &fds)
            }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                // EINTR, or ENOMEM: wait a moment and poll again (stop() waits for this thread).
                if errno != EINTR { usleep(10_000) }
                continue
            }
            if fds[0].revents != 0 { wakePipe.drain() }
            for (index, loop) in loops.enumerated() {
                let end = index + 1 < starts.count ? starts[index + 1] : fds.count
                loop.handle(fds[starts[index]..<end], query: &query)
            }
        }
    }
}
