import CModbus
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One Modbus connection: a TCP endpoint or a serial bus, with any number of unit ids behind it.
///
/// libmodbus contexts are not thread-safe, and their calls block. The actor runs on its own
/// serial queue, so transactions on one connection are strictly one at a time and never
/// occupy the cooperative pool. Devices on different connections never wait for each other.
public actor ModbusConnection {
    public nonisolated let endpoint: ModbusEndpoint
    private let executor: any SerialExecutor
    private let context: ModbusContext
    private var responseTimeout: Duration
    /// Timeouts per unit that differ from the connection's (slow devices behind one gateway).
    private var unitTimeouts: [Int: Duration] = [:]
    private var appliedTimeout: Duration
    /// Quiet time between the end of one transaction and the start of the next (RTU turnaround,
    /// gateways that need a pause when switching units).
    public private(set) var turnaroundDelay: Duration = .zero
    /// Extra pause before every request to a unit (slow RTU meters).
    private var requestDelays: [Int: Duration] = [:]
    /// Pause after opening the connection before the first request (Huawei dongles).
    public private(set) var connectDelay: Duration = .zero
    private var lastTransactionEnd: ContinuousClock.Instant?
    /// Counts successful connects, so that users notice a reconnect (and re-read static values).
    public private(set) var connectionGeneration = 0
    /// Time spent inside transactions (including delays), for bus utilisation.
    public private(set) var busyTime: Duration = .zero
    public private(set) var transactionCount = 0

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Creates the connection object; nothing is opened until `connect()` or the first transaction.
    /// `executor`: where the actor runs; by default a private serial queue of its own. A TCP
    /// connection served by a ``ModbusEventLoop`` runs on the loop's thread instead.
    public init(endpoint: ModbusEndpoint, responseTimeout: Duration = .seconds(1), executor: (any SerialExecutor)? = nil) throws(ModbusError) {
        guard let context = ModbusContext.make(endpoint) else {
            throw ModbusError(.invalidRequest, operation: "create context", target: endpoint.description,
                              errnoValue: hubmeter_errno(), detail: "libmodbus rejected the endpoint parameters")
        }
        self.endpoint = endpoint
        self.context = context
        self.responseTimeout = responseTimeout
        self.appliedTimeout = responseTimeout
        self.executor = executor ?? SerialQueueExecutor(label: "hubmeter.modbus \(endpoint)")
        // Protocol recovery flushes the link after a bad frame; link recovery (which sleeps and
        // reconnects inside libmodbus) stays off, we reconnect ourselves with backoff.
        modbus_set_error_recovery(context.pointer, MODBUS_ERROR_RECOVERY_PROTOCOL)
        Self.apply(timeout: responseTimeout, to: context)
    }

    public var isConnected: Bool { context.isOpen }

    /// Opens the TCP connection or serial port (and switches it to RS-485 mode if asked).
    public func connect() throws(ModbusError) {
        guard !context.isOpen else { return }
        if modbus_connect(context.pointer) != 0 {
            let error = hubmeter_errno()
            throw ModbusError.fromErrno(error, operation: "connect", target: endpoint.description, connecting: true)
        }
        context.markOpen(true)
        connectionGeneration += 1
        if connectDelay > .zero { Self.sleep(connectDelay) }
        if case .rtu(let serial) = endpoint, serial.rs485 {
            if modbus_rtu_set_serial_mode(context.pointer, Int32(MODBUS_RTU_RS485)) != 0 {
                let error = hubmeter_errno()
                close()
                throw ModbusError(.connectionFailed, operation: "set RS-485 mode", target: endpoint.description, errnoValue: error,
                                  detail: "the serial driver does not support RS-485 mode; set rs485: false if the adapter switches direction itself")
            }
        }
    }

    public func close() {
        context.close()
    }

    public func setResponseTimeout(_ timeout: Duration) {
        responseTimeout = timeout
        appliedTimeout = timeout
        Self.apply(timeout: timeout, to: context)
    }

    /// A response timeout for one unit (nil: the connection's).
    public func setResponseTimeout(_ timeout: Duration?, unit: Int) {
        unitTimeouts[unit] = timeout
    }

    /// The pause between transactions on this connection (see `turnaroundDelay`).
    public func setTurnaroundDelay(_ delay: Duration) { turnaroundDelay = delay }

    /// The pause before every request to `unit` (see `requestDelays`).
    public func setRequestDelay(_ delay: Duration, unit: Int) { requestDelays[unit] = delay > .zero ? delay : nil }

    public func setConnectDelay(_ delay: Duration) { connectDelay = delay }

    /// The timeout a transaction with `unit` gets.
    public func responseTimeout(unit: Int) -> Duration { unitTimeouts[unit] ?? responseTimeout }

    /// Blocks this connection's own queue (never the cooperative pool): the bus is idle anyway,
    /// and sleeping here keeps the delay inside the one-transaction-at-a-time order.
    private static func sleep(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    private static func apply(timeout: Duration, to context: ModbusContext) {
        let (seconds, attoseconds) = timeout.components
        modbus_set_response_timeout(context.pointer, UInt32(clamping: seconds), UInt32(clamping: attoseconds / 1_000_000_000_000))
    }

    // MARK: Transactions

    /// Reads `count` registers of a register table into a new array.
    public func readRegisters(_ kind: RegisterKind, address: Int, count: Int, unit: Int) throws(ModbusError) -> [UInt16] {
        var values = [UInt16](repeating: 0, count: count)
        try readRegisters(kind, address: address, count: count, unit: unit, into: &values)
        return values
    }

    /// Reads registers into a caller-owned buffer (which must hold `count` values), so that
    /// steady-state polling allocates nothing.
    public func readRegisters(_ kind: RegisterKind, address: Int, count: Int, unit: Int, into buffer: inout [UInt16]) throws(ModbusError) {
        let operation = Operation.readRegisters(kind, address, count)
        guard kind == .holding || kind == .input else {
            throw failure(.invalidRequest, operation, unit, detail: "\(kind.rawValue) is a bit table; use readBits")
        }
        try validate(address: address, count: count, max: Int(hubmeter_modbus_max_read_registers()), operation, unit)
        guard buffer.count >= count else { throw failure(.invalidRequest, operation, unit, detail: "buffer too small") }
        try prepare(unit: unit, operation)
        let result = buffer.withUnsafeMutableBufferPointer { pointer in
            kind == .holding
                ? modbus_read_registers(context.pointer, Int32(address), Int32(count), pointer.baseAddress)
                : modbus_read_input_registers(context.pointer, Int32(address), Int32(count), pointer.baseAddress)
        }
        try check(result, expected: count, operation, unit)
    }

    /// Reads coils or discrete inputs.
    public func readBits(_ kind: RegisterKind, address: Int, count: Int, unit: Int) throws(ModbusError) -> [Bool] {
        let operation = Operation.readBits(kind, address, count)
        guard kind.isBit else { throw failure(.invalidRequest, operation, unit, detail: "\(kind.rawValue) is a register table; use readRegisters") }
        try validate(address: address, count: count, max: 2000, operation, unit)
        try prepare(unit: unit, operation)
        var bits = [UInt8](repeating: 0, count: count)
        let result = bits.withUnsafeMutableBufferPointer { pointer in
            kind == .coil
                ? modbus_read_bits(context.pointer, Int32(address), Int32(count), pointer.baseAddress)
                : modbus_read_input_bits(context.pointer, Int32(address), Int32(count), pointer.baseAddress)
        }
        try check(result, expected: count, operation, unit)
        return bits.map { $0 != 0 }
    }

    /// Function code 6: one holding register.
    public func writeRegister(address: Int, value: UInt16, unit: Int) throws(ModbusError) {
        let operation = Operation.writeRegister(address)
        try validate(address: address, count: 1, max: 1, operation, unit)
        try prepare(unit: unit, operation)
        try check(modbus_write_register(context.pointer, Int32(address), value), expected: 1, operation, unit)
    }

    /// Function code 16: consecutive holding registers.
    public func writeRegisters(address: Int, values: [UInt16], unit: Int) throws(ModbusError) {
        let operation = Operation.writeRegisters(address, values.count)
        try validate(address: address, count: values.count, max: Int(hubmeter_modbus_max_write_registers()), operation, unit)
        try prepare(unit: unit, operation)
        let result = values.withUnsafeBufferPointer { pointer in
            modbus_write_registers(context.pointer, Int32(address), Int32(values.count), pointer.baseAddress)
        }
        try check(result, expected: values.count, operation, unit)
    }

    /// Function code 5: one coil.
    public func writeCoil(address: Int, value: Bool, unit: Int) throws(ModbusError) {
        let operation = Operation.writeCoil(address)
        try validate(address: address, count: 1, max: 1, operation, unit)
        try prepare(unit: unit, operation)
        try check(modbus_write_bit(context.pointer, Int32(address), value ? 1 : 0), expected: 1, operation, unit)
    }

    // MARK: Split transactions (Modbus TCP on an event loop)

    /// The open TCP socket, or -1.
    public var socketDescriptor: Int32 { context.isOpen ? modbus_get_socket(context.pointer) : -1 }

    /// A read sent by ``sendRead`` that waits for ``receiveRead`` or ``abandonRead``.
    private var pendingRead: (operation: Operation, unit: Int, function: UInt8, count: Int)?
    /// A socket whose non-blocking connect is in progress.
    private var pendingConnect: Int32?
    /// Request and answer of a split transaction, reused: they run once per device per cycle.
    private var splitRequest = [UInt8](repeating: 0, count: 6)
    private var splitResponse = [UInt8](repeating: 0, count: Int(hubmeter_modbus_tcp_max_adu_length()))

    /// Starts a non-blocking TCP connect and returns its socket: wait until it is writable, then
    /// call ``finishConnect()`` (or ``abandonConnect()`` at the deadline). libmodbus's own connect
    /// blocks up to the response timeout, which would stall every other bus of an event loop.
    public func startConnect() throws(ModbusError) -> Int32 {
        guard case .tcp(let host, let port) = endpoint else {
            throw ModbusError(.invalidRequest, operation: "connect", target: endpoint.description, detail: "only TCP connects without blocking")
        }
        abandonConnect()
        let fd = try NonBlockingTCP.startConnect(host: host, port: port, target: endpoint.description)
        pendingConnect = fd
        return fd
    }

    /// Completes the connect started by ``startConnect()`` once its socket is writable.
    public func finishConnect() throws(ModbusError) {
        guard let fd = pendingConnect else {
            throw ModbusError(.invalidRequest, operation: "connect", target: endpoint.description, detail: "no connect in progress")
        }
        pendingConnect = nil
        let error = NonBlockingTCP.connectError(fd)
        guard error == 0 else {
            Glibc.close(fd)
            throw ModbusError.fromErrno(error, operation: "connect", target: endpoint.description, connecting: true)
        }
        modbus_set_socket(context.pointer, fd)
        context.markOpen(true)
        connectionGeneration += 1
    }

    /// Gives up a connect in progress (its deadline passed); the error to report.
    @discardableResult
    public func abandonConnect() -> ModbusError {
        if let fd = pendingConnect { Glibc.close(fd) }
        pendingConnect = nil
        return ModbusError(.connectionFailed, operation: "connect", target: endpoint.description, errnoValue: ETIMEDOUT)
    }

    /// Sends a read request without waiting for the answer (Modbus TCP only): wait until the
    /// socket is readable, then call ``receiveRead(into:)``, or ``abandonRead()`` at the deadline.
    public func sendRead(_ kind: RegisterKind, address: Int, count: Int, unit: Int) throws(ModbusError) {
        let operation: Operation = kind.isBit ? .readBits(kind, address, count) : .readRegisters(kind, address, count)
        try validate(address: address, count: count, max: kind.isBit ? 2000 : Int(hubmeter_modbus_max_read_registers()), operation, unit)
        guard isTCP, context.isOpen else {
            throw failure(.connectionLost, operation, unit, detail: "split transactions need an open Modbus TCP connection")
        }
        let function: UInt8 = switch kind {
        case .coil: 1
        case .discreteInput: 2
        case .holding: 3
        case .input: 4
        }
        // Unit, function, address and count; libmodbus adds the MBAP header (transaction id 0).
        splitRequest[0] = UInt8(unit)
        splitRequest[1] = function
        splitRequest[2] = UInt8(address >> 8)
        splitRequest[3] = UInt8(address & 0xFF)
        splitRequest[4] = UInt8(count >> 8)
        splitRequest[5] = UInt8(count & 0xFF)
        transactionStart = ContinuousClock.now
        let sent = splitRequest.withUnsafeMutableBufferPointer { modbus_send_raw_request(context.pointer, $0.baseAddress, Int32($0.count)) }
        guard sent > 0 else {
            let error = hubmeter_errno()
            finishTransaction()
            context.close()
            throw ModbusError.fromErrno(error, operation: operation.description, target: target(unit))
        }
        pendingRead = (operation, unit, function, count)
    }

    /// Reads the answer to ``sendRead`` once the socket is readable: registers, or bits as 0 and 1.
    public func receiveRead(into buffer: inout [UInt16]) throws(ModbusError) {
        guard let pending = pendingRead else {
            throw ModbusError(.invalidRequest, operation: "receive", target: endpoint.description, detail: "no read in flight")
        }
        pendingRead = nil
        let length = Int(splitResponse.withUnsafeMutableBufferPointer { modbus_receive_confirmation(context.pointer, $0.baseAddress) })
        let response = splitResponse
        let savedErrno = hubmeter_errno()
        finishTransaction()
        // MBAP header (transaction, protocol, length: 6 bytes), unit, function, then the data.
        let error: ModbusError?
        if length < 0 {
            error = ModbusError.fromErrno(savedErrno, operation: pending.operation.description, target: target(pending.unit))
        } else if length >= 9, response[7] == pending.function | 0x80 {
            error = ModbusError.fromErrno(hubmeter_modbus_enobase() + Int32(response[8]), operation: pending.operation.description, target: target(pending.unit))
        } else {
            let isBits = pending.function <= 2
            let byteCount = isBits ? (pending.count + 7) / 8 : pending.count * 2
            if length == 9 + byteCount, response[0] == 0, response[1] == 0, response[6] == UInt8(pending.unit),
               response[7] == pending.function, Int(response[8]) == byteCount {
                if buffer.count < pending.count { buffer = [UInt16](repeating: 0, count: pending.count) }
                for index in 0..<pending.count {
                    buffer[index] = isBits
                        ? UInt16((response[9 + index / 8] >> (index % 8)) & 1)
                        : UInt16(response[9 + 2 * index]) << 8 | UInt16(response[10 + 2 * index])
                }
                return
            }
            error = ModbusError.fromErrno(response[6] != UInt8(pending.unit) ? hubmeter_modbus_embbadslave() : hubmeter_modbus_embbaddata(),
                                          operation: pending.operation.description, target: target(pending.unit))
        }
        guard let error else { return }
        // Anything but a clean exception leaves the stream in doubt: reconnect, as after a timeout.
        if case .exception = error.kind {} else { context.close() }
        throw error
    }

    /// Gives up the read in flight (its deadline passed) and closes the connection, so that a
    /// late answer cannot be taken for the next one; the error to report.
    @discardableResult
    public func abandonRead() -> ModbusError {
        let pending = pendingRead
        pendingRead = nil
        finishTransaction()
        context.close()
        guard let pending else { return ModbusError(.timeout, operation: "read", target: endpoint.description, errnoValue: ETIMEDOUT) }
        return ModbusError(.timeout, operation: pending.operation.description, target: target(pending.unit), errnoValue: ETIMEDOUT)
    }

    // MARK: Helpers

    private func validate(address: Int, count: Int, max: Int, _ operation: Operation, _ unit: Int) throws(ModbusError) {
        guard (0...65535).contains(address), count >= 1, count <= max, address + count <= 65536 else {
            throw failure(.invalidRequest, operation, unit, detail: "address must be 0–65535 and count 1–\(max) within the address space")
        }
        guard (0...255).contains(unit) else { throw failure(.invalidRequest, operation, unit, detail: "unit id must be 0–255") }
    }

    private func prepare(unit: Int, _ operation: Operation) throws(ModbusError) {
        if !context.isOpen {
            do {
                try connect()
            } catch {
                throw ModbusError(error.kind, operation: operation.description, target: target(unit), errnoValue: error.errnoValue, detail: error.detail)
            }
        }
        let timeout = unitTimeouts[unit] ?? responseTimeout
        if timeout != appliedTimeout {
            Self.apply(timeout: timeout, to: context)
            appliedTimeout = timeout
        }
        if let last = lastTransactionEnd, turnaroundDelay > .zero {
            let quiet = ContinuousClock.now - last
            if quiet < turnaroundDelay { Self.sleep(turnaroundDelay - quiet) }
        }
        if let delay = requestDelays[unit] { Self.sleep(delay) }
        modbus_set_slave(context.pointer, Int32(unit))
        transactionStart = ContinuousClock.now
    }

    private var transactionStart: ContinuousClock.Instant?

    private func finishTransaction() {
        let end = ContinuousClock.now
        if let start = transactionStart { busyTime += end - start }
        transactionStart = nil
        transactionCount += 1
        lastTransactionEnd = end
    }

    private func check(_ result: Int32, expected: Int, _ operation: Operation, _ unit: Int) throws(ModbusError) {
        let savedErrno = hubmeter_errno()
        finishTransaction()
        if result == Int32(expected) { return }
        let error: ModbusError
        if result < 0 {
            error = ModbusError.fromErrno(savedErrno, operation: operation.description, target: target(unit))
        } else {
            error = ModbusError(.invalidResponse, operation: operation.description, target: target(unit), detail: "got \(result) items, expected \(expected)")
        }
        // A timeout on TCP can leave a late response in the stream; reconnecting resynchronises.
        if error.breaksConnection || (error.kind == .timeout && isTCP) {
            context.close()
        }
        throw error
    }

    private var isTCP: Bool {
        if case .tcp = endpoint { return true }
        return false
    }

    private func target(_ unit: Int) -> String { "\(endpoint) unit \(unit)" }

    private func failure(_ kind: ModbusError.Kind, _ operation: Operation, _ unit: Int, detail: String) -> ModbusError {
        ModbusError(kind, operation: operation.description, target: target(unit), detail: detail)
    }

    /// What a transaction does; turned into text only for an error, so that the steady state
    /// builds no strings.
    private enum Operation: CustomStringConvertible {
        case readRegisters(RegisterKind, Int, Int)
        case readBits(RegisterKind, Int, Int)
        case writeRegister(Int)
        case writeRegisters(Int, Int)
        case writeCoil(Int)

        var description: String {
            switch self {
            case .readRegisters(let kind, let address, let count): "read \(count) \(kind.rawValue) register\(count == 1 ? "" : "s") at \(address)"
            case .readBits(let kind, let address, let count): "read \(count) \(kind.rawValue)\(count == 1 ? "" : "s") at \(address)"
            case .writeRegister(let address): "write holding register \(address)"
            case .writeRegisters(let address, let count): "write \(count) holding registers at \(address)"
            case .writeCoil(let address): "write coil \(address)"
            }
        }
    }
}
