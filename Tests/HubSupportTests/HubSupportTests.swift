import Foundation
import HubSupport
import Logging
import Synchronization
import Testing
import TestSupport

@Suite struct LogHandlerTests {
    /// Collects log lines in memory instead of bootstrapping the process-wide logging system.
    final class Lines: Sendable {
        private let storage = Mutex<[String]>([])
        func append(_ line: String) { storage.withLock { $0.append(line) } }
        func withLock<R>(_ body: ([String]) -> R) -> R { storage.withLock { body($0) } }
    }

    static func logger(_ format: HubLogHandler.Format, level: Logger.Level = .info) -> (Logger, Lines) {
        let lines = Lines()
        let sink = LogSink { line in lines.append(line) }
        let clock: @Sendable () -> UTCTimestamp = { UTCTimestamp(millisecondsSinceEpoch: 1_796_000_000_123) }
        let logger = Logger(label: "agent") { label in
            HubLogHandler(label: label, level: level, format: format, sink: sink, clock: clock)
        }
        return (logger, lines)
    }

    @Test func plainLinesCarryTimeLevelLabelAndSortedMetadata() {
        let (logger, lines) = Self.logger(.plain)
        logger.info("device online", metadata: ["unit": "3", "device": "hub-battery"])
        #expect(lines.withLock { $0 } == ["2026-11-30T00:53:20.123Z info [agent] device online device=hub-battery unit=3"])
    }

    @Test func journaldLinesCarryThePriorityPrefixAndNoTimestamp() {
        let (logger, lines) = Self.logger(.journald, level: .debug)
        logger.error("broker refused the connection", metadata: ["reason": "bad user name or password"])
        logger.debug("cycle")
        logger.warning("slow")
        #expect(lines.withLock { $0 } == [
            "<3>[agent] broker refused the connection reason=\"bad user name or password\"",
            "<7>[agent] cycle",
            "<4>[agent] slow",
        ])
    }

    @Test func levelFiltersAndMultiLineMessagesStayOneLine() {
        let (logger, lines) = Self.logger(.plain, level: .warning)
        logger.info("dropped")
        logger.warning("two\nlines")
        #expect(lines.withLock { $0 } == ["2026-11-30T00:53:20.123Z warning [agent] two lines"])
    }

    @Test func secretsInMetadataAreRedacted() {
        let (logger, lines) = Self.logger(.plain)
        let secret = Secret("hunter2", origin: "/etc/hubmeter/mqtt.password")
        logger.info("connecting", metadata: ["password": "\(secret)"])
        let line = lines.withLock { $0 }.first ?? ""
        #expect(!line.contains("hunter2"))
        #expect(line.hasSuffix("password=\"<secret from /etc/hubmeter/mqtt.password>\""))
    }

    @Test func formatIsDetectedFromJournalStream() {
        #expect(HubLogHandler.Format.detect(environment: ["JOURNAL_STREAM": "8:12345"]) == .journald)
        #expect(HubLogHandler.Format.detect(environment: [:]) == .plain)
    }
}

@Suite struct UTCTimestampTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00.000Z", Int64(0)),
        ("2026-11-29T03:42:37.123Z", Int64(1_795_923_757_123)),
        ("2024-02-29T23:59:59.999Z", Int64(1_709_251_199_999)),
        ("1969-12-31T23:59:59.999Z", Int64(-1)),
    ])
    func formatsAndParsesRoundTrip(text: String, milliseconds: Int64) {
        #expect(UTCTimestamp(millisecondsSinceEpoch: milliseconds).iso8601 == text)
        #expect(UTCTimestamp.parse(iso8601: text)?.millisecondsSinceEpoch == milliseconds)
    }

    @Test func parsesOffsetsAndFractions() {
        #expect(UTCTimestamp.parse(iso8601: "2026-01-01T01:00:00+01:00")?.iso8601 == "2026-01-01T00:00:00.000Z")
        #expect(UTCTimestamp.parse(iso8601: "2026-01-01T00:00:00.5Z")?.millisecondsSinceEpoch == 1_767_225_600_500)
        #expect(UTCTimestamp.parse(iso8601: "2026-01-01T00:00:00.123456Z")?.millisecondsSinceEpoch == 1_767_225_600_123)
    }

    @Test(arguments: ["2026-02-30T00:00:00Z", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "garbage", "2026-01-01T24:00:00Z"])
    func rejectsMalformedText(_ text: String) {
        #expect(UTCTimestamp.parse(iso8601: text) == nil)
    }

    @Test func nowIsCloseToFoundationsClock() {
        let ours = UTCTimestamp.now().millisecondsSinceEpoch
        let foundation = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(abs(ours - foundation) < 1000)
    }
}

@Suite struct SystemdNotifierTests {
    @Test(arguments: [false, true]) func sendsStateDatagrams(abstract: Bool) throws {
        let socket = try NotifySocket(abstract: abstract)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "20000000"])
        #expect(notifier.isActive)
        #expect(notifier.watchdogInterval == .seconds(10))
        notifier.ready(status: "polling 6 devices")
        #expect(socket.receive() == "READY=1\nSTATUS=polling 6 devices")
        notifier.watchdog()
        #expect(socket.receive() == "WATCHDOG=1")
        notifier.stopping()
        #expect(socket.receive() == "STOPPING=1")
    }

    @Test func withoutSystemdEverythingIsANoOp() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isActive)
        #expect(notifier.watchdogInterval == nil)
        #expect(notifier.send("READY=1") == false)
    }
}

@Suite struct SHA256Tests {
    /// FIPS 180-2 test vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func matchesPublishedVectors(input: String, expected: String) {
        #expect(SHA256.hex(input) == expected)
    }

    /// The chain hash digests a header and a record without joining them; any split, and parts
    /// without contiguous storage, give the digest of the whole.
    @Test func partsGiveTheDigestOfTheWhole() {
        let whole = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        let expected = SHA256.digest(whole)
        for cut in [0, 1, 31, 32, 55, whole.count] {
            #expect(SHA256.digest(whole[..<cut], followedBy: whole[cut...]) == expected, "split at \(cut)")
        }
        let lazyTail = whole[20...].lazy.map { $0 }
        #expect(SHA256.digest(Array(whole[..<20]), followedBy: lazyTail) == expected)
        #expect(SHA256.digest(lazyTail, followedBy: [UInt8]()) == SHA256.digest(whole[20...]))
    }
}
