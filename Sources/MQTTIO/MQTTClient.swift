import CMosquitto
import HubSupport
import Foundation
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Initialises libmosquitto exactly once per process (a global `let` runs its initializer once, thread-safely).
private let libraryInitialization: Int32 = mosquitto_lib_init()

/// An MQTT client on libmosquitto in threaded mode.
///
/// One dedicated network thread per client waits on the socket and reconnects with exponential
/// backoff. We do not use `mosquitto_loop_start`: its thread (`mosquitto_loop_forever`) exits for
/// good on a TLS, DNS or authentication error, so a gateway with a wrong CA file or a DNS outage
/// at boot would never connect again. Nor `mosquitto_loop`: it wakes once per queued publish (one
/// byte each on an internal socket pair, read one per call), which for a burst of 400 messages is
/// 400 wake-ups; our loop calls `mosquitto_loop_read`/`_write`/`_misc` itself and is woken once
/// per burst through a pipe of its own. Callbacks reach this object through the user-data pointer
/// (no global registry), copy what they receive, and hand it on as `events`. Publishing works from
/// any thread (`mosquitto_threaded_set`).
public final class MQTTClient: Sendable {
    public struct Options: Sendable {
        public enum ProtocolVersion: Sendable { case v5, v311 }
        public struct TLS: Sendable {
            public var caFile: String?
            public var certificateFile: String?
            public var keyFile: String?
            public var verifyServer: Bool

            public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verifyServer: Bool = true) {
                self.caFile = caFile
                self.certificateFile = certificateFile
                self.keyFile = keyFile
                self.verifyServer = verifyServer
            }
        }

        public var clientID: String
        public var cleanStart: Bool = true
        public var protocolVersion: ProtocolVersion = .v5
        public var keepalive: Duration = .seconds(30)
        public var username: String?
        public var password: Secret?
        public var tls: TLS?
        public var will: MQTTMessage?
        public var reconnectDelay: Duration = .seconds(1)
        public var reconnectDelayMax: Duration = .seconds(60)

        public init(clientID: String) {
            self.clientID = clientID
        }
    }

    public enum Event: Sendable, Equatable {
        case connected(sessionPresent: Bool)
        /// The broker refused the connection, or the connection attempt failed (TLS, network).
        case connectionRefused(reason: Int32, text: String)
        /// `reason` 0 means we asked for it; anything else is unexpected and will be retried.
        case disconnected(reason: Int32, text: String)
        /// The broker acknowledged a QoS 1/2 message (or a QoS 0 one left the socket).
        case published(messageID: Int32, reason: Int32)
        case subscribed(messageID: Int32, grantedQoS: [Int32])
        case message(MQTTMessage)
        /// A warning or error from libmosquitto itself (for example a TLS verification failure).
        case log(level: Int32, text: String)
    }

    public let options: Options
    public let events: AsyncStream<Event>
    private let handle: Handle
    private let box: Unmanaged<CallbackBox>
    private let state = Mutex(LifecycleState())

    private struct LifecycleState: ~Copyable {
        var started = false
        var stopped = false
    }

    private let loopFinished = DispatchSemaphore(value: 0)
    private let wake: NetworkWake

    public init(options: Options) throws(MQTTError) {
        try MQTTError.check(libraryInitialization, "initialise libmosquitto")
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(65_536))
        let box = Unmanaged.passRetained(CallbackBox(continuation: continuation))
        guard let pointer = mosquitto_new(options.clientID, options.cleanStart, box.toOpaque()) else {
            box.release()
            throw MQTTError(.library(MOSQ_ERR_NOMEM.rawValue), operation: "create client", errnoValue: hubmeter_mosq_errno(),
                            detail: "client id '\(options.clientID)'")
        }
        guard let wake = NetworkWake() else {
            mosquitto_destroy(pointer)
            box.release()
            throw MQTTError(.library(MOSQ_ERR_ERRNO.rawValue), operation: "create client", errnoValue: hubmeter_mosq_errno(), detail: "cannot create the wake-up pipe")
        }
        self.wake = wake
        self.handle = Handle(pointer: pointer)
        self.box = box
        self.options = options
        self.events = stream
        // On failure deinit runs (every stored property is set) and releases `box`.
        try configure()
    }

    deinit {
        stop()
        box.release()
    }

    private var mosq: OpaquePointer { handle.pointer }

    private func configure() throws(MQTTError) {
        try MQTTError.check(mosquitto_threaded_set(mosq, true), "enable thread safety")
        let version = options.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try MQTTError.check(mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, version), "set protocol version")
        if let username = options.username {
            let rc = options.password.map { secret in
                secret.withRevealedValue { mosquitto_username_pw_set(mosq, username, $0) }
            } ?? mosquitto_username_pw_set(mosq, username, nil)
            try MQTTError.check(rc, "set user name and password")
        }
        if let tls = options.tls {
            if tls.caFile == nil {
                try MQTTError.check(mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1), "use the system's CA certificates")
            }
            try MQTTError.check(mosquitto_tls_set(mosq, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil), "configure TLS",
                                detail: "CA \(tls.caFile ?? "system"), certificate \(tls.certificateFile ?? "none")")
            // cert_reqs 1 = SSL_VERIFY_PEER; insecure mode additionally skips the host name check.
            try MQTTError.check(mosquitto_tls_opts_set(mosq, tls.verifyServer ? 1 : 0, nil, nil), "set TLS options")
            try MQTTError.check(mosquitto_tls_insecure_set(mosq, !tls.verifyServer), "set TLS host name verification")
        }
        if let will = options.will {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set_v5(mosq, will.topic, Int32(bytes.count), bytes.baseAddress, Int32(will.qos), will.retain, nil)
            }
            try MQTTError.check(rc, "set last will", detail: will.topic)
        }
        let delay = UInt32(max(1, options.reconnectDelay.components.seconds))
        let delayMax = UInt32(max(Int64(delay), options.reconnectDelayMax.components.seconds))
        try MQTTError.check(mosquitto_reconnect_delay_set(mosq, delay, delayMax, true), "set reconnect delay")

        mosquitto_connect_v5_callback_set(mosq) { mosq, object, reason, flags, _ in
            guard let box = CallbackBox.from(object) else { return }
            if reason == 0 {
                let sessionPresent = flags & 1 != 0
                // Without a stored session the broker forgot our subscriptions: restore them.
                if !sessionPresent {
                    for (pattern, qos) in box.subscriptions.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
                        mosquitto_subscribe_v5(mosq, nil, pattern, Int32(qos), 0, nil)
                    }
                }
                box.connectedFlag.withLock { $0 = true }
                box.continuation.yield(.connected(sessionPresent: sessionPresent))
            } else {
                box.continuation.yield(.connectionRefused(reason: reason, text: MQTTError.reasonText(reason)))
            }
        }
        mosquitto_disconnect_v5_callback_set(mosq) { _, object, reason, _ in
            guard let box = CallbackBox.from(object) else { return }
            let text = reason == 0 ? "disconnected on request" : String(cString: mosquitto_strerror(reason))
            box.disconnectedFlag.withLock { $0 = true }
            box.continuation.yield(.disconnected(reason: reason, text: text))
        }
        mosquitto_publish_v5_callback_set(mosq) { _, object, messageID, reason, _ in
            CallbackBox.from(object)?.continuation.yield(.published(messageID: messageID, reason: reason))
        }
        mosquitto_subscribe_v5_callback_set(mosq) { _, object, messageID, count, granted, _ in
            let qos = (0..<Int(count)).map { granted![$0] }
            CallbackBox.from(object)?.continuation.yield(.subscribed(messageID: messageID, grantedQoS: qos))
        }
        mosquitto_message_v5_callback_set(mosq) { _, object, message, _ in
            // The message is freed when the callback returns: copy topic and payload now.
            guard let box = CallbackBox.from(object), let message else { return }
            let raw = message.pointee
            let payload = raw.payloadlen > 0 && raw.payload != nil
                ? [UInt8](UnsafeRawBufferPointer(start: raw.payload, count: Int(raw.payloadlen)))
                : []
            box.continuation.yield(.message(MQTTMessage(topic: String(cString: raw.topic), payload: payload, qos: Int(raw.qos), retain: raw.retain)))
        }
        mosquitto_log_callback_set(mosq) { _, object, level, text in
            // Only warnings and errors: the rest is chatter (PINGREQ, PUBLISH received, …).
            guard let text, level & (MOSQ_LOG_WARNING | MOSQ_LOG_ERR) != 0 else { return }
            CallbackBox.from(object)?.continuation.yield(.log(level: level, text: String(cString: text)))
        }
    }

    /// Starts the network thread, which connects and keeps reconnecting with backoff; this
    /// succeeds even while the broker is down (the connection is reported in `events`).
    public func start(host: String, port: Int) throws(MQTTError) {
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started && !state.stopped
        }
        guard first else { return }
        let keepalive = Int32(clamping: options.keepalive.components.seconds)
        let handle = handle, box = box, initialDelay = options.reconnectDelay, maxDelay = options.reconnectDelayMax
        let stoppedFlag = StoppedFlag(self)
        let finished = loopFinished, wake = wake
        Thread.detachNewThread {
            NetworkLoop(handle: handle, box: box, host: host, port: port, keepalive: keepalive,
                        initialDelay: initialDelay, maxDelay: maxDelay, stopped: stoppedFlag, wake: wake).run()
            finished.signal()
        }
    }

    fileprivate var isStopped: Bool { state.withLock { $0.stopped } }

    /// Publishes a message; returns its message id (matched later by `.published`).
    /// Fails with MOSQ_ERR_NO_CONN while disconnected: libmosquitto keeps no offline queue.
    @discardableResult
    public func publish(_ message: MQTTMessage) throws(MQTTError) -> Int32 {
        var messageID: Int32 = 0
        let rc = message.payload.withUnsafeBytes { bytes in
            mosquitto_publish_v5(mosq, &messageID, message.topic, Int32(bytes.count), bytes.baseAddress, Int32(message.qos), message.retain, nil)
        }
        try MQTTError.check(rc, "publish to \(message.topic)")
        wake.signal()
        return messageID
    }

    /// Subscribes now and again after every reconnect that has no stored session.
    @discardableResult
    public func subscribe(_ pattern: String, qos: Int) throws(MQTTError) -> Int32 {
        box.takeUnretainedValue().subscriptions.withLock { $0[pattern] = qos }
        var messageID: Int32 = 0
        try MQTTError.check(mosquitto_subscribe_v5(mosq, &messageID, pattern, Int32(qos), 0, nil), "subscribe to \(pattern)")
        wake.signal()
        return messageID
    }

    /// Disconnects cleanly (the broker discards the will), stops the network thread, ends `events`.
    public func stop() {
        let wasRunning = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped && state.started
        }
        if wasRunning {
            mosquitto_disconnect_v5(mosq, 0, nil)
            wake.signal()
            // Waits for the network thread; after this no callback can run, so `box` may be released in deinit.
            loopFinished.wait()
        }
        box.takeUnretainedValue().continuation.finish()
    }
}

/// One MQTT message, payload copied into Swift memory.
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: Int = 0, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    public init(topic: String, text: String, qos: Int = 0, retain: Bool = false) {
        self.init(topic: topic, payload: Array(text.utf8), qos: qos, retain: retain)
    }

    public var text: String? { String(validating: payload, as: UTF8.self) }
}

/// Lets the network thread see that the client stopped, without keeping the client alive.
private struct StoppedFlag: Sendable {
    weak var client: MQTTClient?
    init(_ client: MQTTClient) { self.client = client }
    var isStopped: Bool { client?.isStopped ?? true }
}

/// The client's network thread: connect, loop, and on any failure wait (exponential backoff,
/// reset after a successful connection) and reconnect, until the client stops.
private struct NetworkLoop {
    let handle: Handle
    let box: Unmanaged<CallbackBox>
    let host: String
    let port: Int
    let keepalive: Int32
    let initialDelay: Duration
    let maxDelay: Duration
    let stopped: StoppedFlag
    let wake: NetworkWake

    func run() {
        var delay = initialDelay
        var firstAttempt = true
        while !stopped.isStopped {
            let rc = firstAttempt
                ? mosquitto_connect(handle.pointer, host, Int32(port), keepalive)
                : mosquitto_reconnect(handle.pointer)
            firstAttempt = false
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                var loopResult = MOSQ_ERR_SUCCESS.rawValue
                while !stopped.isStopped && loopResult == MOSQ_ERR_SUCCESS.rawValue {
                    loopResult = turn()
                    if box.takeUnretainedValue().connectedSinceLastCheck() { delay = initialDelay }
                }
                if stopped.isStopped {
                    // Let the DISCONNECT go out.
                    _ = mosquitto_loop(handle.pointer, 100, 1)
                    return
                }
                // A lost connection was already reported by the disconnect callback.
                if !box.takeUnretainedValue().disconnectedSinceLastCheck() { report(loopResult) }
            } else {
                report(rc)
            }
            sleep(delay)
            delay = min(delay * 2, maxDelay)
        }
    }

    /// One turn of the network loop: what `mosquitto_loop(mosq, 200, 1)` does, but woken by
    /// `wake` (once per burst of publishes) instead of by libmosquitto's byte per publish.
    private func turn() -> Int32 {
        let mosq = handle.pointer
        let socket = mosquitto_socket(mosq)
        guard socket >= 0 else { return MOSQ_ERR_NO_CONN.rawValue }
        var fds = [pollfd(fd: socket, events: Int16(POLLIN) | (mosquitto_want_write(mosq) ? Int16(POLLOUT) : 0), revents: 0),
                   pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0)]
        let ready = poll(&fds, 2, 200)
        if ready < 0 && errno != EINTR { return MOSQ_ERR_ERRNO.rawValue }
        if fds[1].revents != 0 { wake.drain() }
        if fds[0].revents != 0 && fds[0].revents & Int16(POLLOUT) != fds[0].revents {
            let rc = mosquitto_loop_read(mosq, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(mosq) < 0 { return rc }
        }
        if mosquitto_want_write(mosq) {
            let rc = mosquitto_loop_write(mosq, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(mosq) < 0 { return rc }
        }
        return mosquitto_loop_misc(mosq)
    }

    /// Failures that come without a libmosquitto callback (TLS, DNS, refused TCP) become events.
    private func report(_ rc: Int32) {
        let errnoValue = rc == MOSQ_ERR_ERRNO.rawValue ? hubmeter_mosq_errno() : 0
        let error = MQTTError(.library(rc), operation: "connect to \(host):\(port)", errnoValue: errnoValue,
                              detail: errnoValue != 0 ? Self.errnoText(errnoValue) : "")
        box.takeUnretainedValue().continuation.yield(.disconnected(reason: rc, text: error.description))
    }

    private static func errnoText(_ value: Int32) -> String {
        switch value {
        case ECONNREFUSED: "connection refused"
        case ETIMEDOUT: "timed out"
        case EHOSTUNREACH: "host unreachable"
        case ENETUNREACH: "network unreachable"
        case ECONNRESET: "connection reset"
        default: "errno \(value)"
        }
    }

    /// Sleeps in short steps so that stop() is not held up by a long backoff.
    private func sleep(_ duration: Duration) {
        let deadline = ContinuousClock.now + duration
        while !stopped.isStopped && ContinuousClock.now < deadline {
            usleep(50_000)
        }
    }
}

/// Wakes the network thread after a publish, once per burst: a publish that finds a wake-up
/// already pending writes nothing.
private final class NetworkWake: Sendable {
    private let pipe: WakePipe
    private let pending = Atomic(false)

    init?() {
        guard let pipe = WakePipe() else { return nil }
        self.pipe = pipe
    }

    var readEnd: Int32 { pipe.readEnd }

    func signal() {
        guard !pending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pipe.signal()
    }

    /// Called by the network thread when woken, before it writes what is queued.
    func drain() {
        pending.store(false, ordering: .releasing)
        pipe.drain()
    }
}

/// Owns the `struct mosquitto *`.
private final class Handle: Sendable {
    nonisolated(unsafe) let pointer: OpaquePointer

    init(pointer: OpaquePointer) { self.pointer = pointer }

    deinit { mosquitto_destroy(pointer) }
}

/// What the C callbacks reach through the user-data pointer.
private final class CallbackBox: Sendable {
    let continuation: AsyncStream<MQTTClient.Event>.Continuation
    /// Pattern → QoS, restored on reconnects without a session.
    let subscriptions = Mutex<[String: Int]>([:])
    /// Set by the CONNACK callback; read (and cleared) by the network loop to reset its backoff.
    let connectedFlag = Mutex(false)

    /// Set by the disconnect callback, so the network loop does not report the same loss twice.
    let disconnectedFlag = Mutex(false)

    func disconnectedSinceLastCheck() -> Bool {
        disconnectedFlag.withLock { value in
            defer { value = false }
            return value
        }
    }

    func connectedSinceLastCheck() -> Bool {
        connectedFlag.withLock { value in
            defer { value = false }
            return value
        }
    }

    init(continuation: AsyncStream<MQTTClient.Event>.Continuation) {
        self.continuation = continuation
    }

    static func from(_ object: UnsafeMutableRawPointer?) -> CallbackBox? {
        guard let object else { return nil }
        return Unmanaged<CallbackBox>.fromOpaque(object).takeUnretainedValue()
    }
}
