#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Logging
import Synchronization

/// Writes one line per log event to a sink (stdout in the daemon, memory in tests).
///
/// Two formats:
/// - `.plain`: `2026-11-29T03:42:37.123Z info [agent] message key=value`
/// - `.journald`: `<6>[agent] message key=value`; journald reads the `<N>` priority prefix
///   (sd-daemon(3)) and adds its own timestamp.
///
/// Metadata values of type `Secret` render as `<secret from …>`, so a password cannot be logged by accident.
public struct HubLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case plain
        case journald

        /// journald when stdout is connected to the journal (systemd sets `JOURNAL_STREAM`).
        public static func detect(environment: [String: String]) -> Format {
            environment["JOURNAL_STREAM"] != nil ? .journald : .plain
        }
    }

    /// The shared level when the handler follows a ``LogLevelControl`` (changed on reload), else its own.
    public var logLevel: Logger.Level {
        get { control?.level ?? ownLevel }
        set { ownLevel = newValue }
    }
    private var ownLevel: Logger.Level
    private let control: LogLevelControl?
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: Format
    private let sink: LogSink
    private let clock: @Sendable () -> UTCTimestamp

    public init(
        label: String,
        level: Logger.Level,
        format: Format,
        sink: LogSink,
        clock: @escaping @Sendable () -> UTCTimestamp = UTCTimestamp.now,
        control: LogLevelControl? = nil
    ) {
        self.label = label
        self.ownLevel = level
        self.control = control
        self.format = format
        self.sink = sink
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }

        var line: String
        switch format {
        case .plain:
            line = "\(clock().iso8601) \(event.level.rawValue) [\(label)] \(event.message)"
        case .journald:
            line = "<\(Self.syslogPriority(event.level))>[\(label)] \(event.message)"
        }
        for key in merged.keys.sorted() {
            line += " \(key)=\(Self.render(merged[key]!))"
        }
        // One event is one line: a multi-line message would split into several journal entries.
        line = line.replacingNewlines()
        sink.write(line)
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text):
            return text.contains(" ") || text.isEmpty ? "\"\(text)\"" : text
        case .stringConvertible(let convertible):
            let text = convertible.description
            return text.contains(" ") ? "\"\(text)\"" : text
        case .array(let values):
            return "[" + values.map(render).joined(separator: ",") + "]"
        case .dictionary(let values):
            return "{" + values.keys.sorted().map { "\($0)=\(render(values[$0]!))" }.joined(separator: ",") + "}"
        }
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        guard contains(where: \.isNewline) else { return self }
        return String(map { $0.isNewline ? " " : $0 })
    }
}

/// Where log lines go.
public final class LogSink: Sendable {
    private let writeLine: @Sendable (String) -> Void

    public init(_ writeLine: @escaping @Sendable (String) -> Void) {
        self.writeLine = writeLine
    }

    public func write(_ line: String) { writeLine(line) }

    /// Standard error, for messages before logging is configured.
    public static let standardError = LogSink { line in
        let text = line + "\n"
        text.withCString { pointer in
            _ = fputs(pointer, stderr)
        }
    }

    /// Standard output, line-buffered so journald gets whole lines promptly.
    public static let standardOutput = LogSink { line in
        let text = line + "\n"
        text.withCString { pointer in
            _ = fputs(pointer, stdout)
        }
        fflush(stdout)
    }
}

/// A log level shared by every logger of a ``LoggerFactory``, so that a configuration reload
/// (SIGHUP) changes the level of loggers already handed out.
public final class LogLevelControl: Sendable {
    private let raw: Atomic<UInt8>

    public init(_ level: Logger.Level) { raw = Atomic(Self.code(level)) }

    public var level: Logger.Level {
        get { Logger.Level.allCases[Int(raw.load(ordering: .relaxed))] }
        set { raw.store(Self.code(newValue), ordering: .relaxed) }
    }

    static func code(_ level: Logger.Level) -> UInt8 { UInt8(Logger.Level.allCases.firstIndex(of: level) ?? 2) }
}

/// Builds loggers for one process from its configured level and format; passed to whoever needs to log.
public struct LoggerFactory: Sendable {
    public var level: Logger.Level { control.level }
    public let format: HubLogHandler.Format
    public let sink: LogSink
    /// Shared by every logger this factory made: setting it changes all of them.
    public let control: LogLevelControl

    public init(level: Logger.Level, format: HubLogHandler.Format, sink: LogSink = .standardOutput) {
        self.format = format
        self.sink = sink
        self.control = LogLevelControl(level)
    }

    public func logger(_ label: String) -> Logger {
        let format = format, sink = sink, control = control
        return Logger(label: label) { label in
            HubLogHandler(label: label, level: control.level, format: format, sink: sink, control: control)
        }
    }
}
