/// A point in time as whole milliseconds since 1970-01-01T00:00:00Z (UTC, no leap seconds).
///
/// The domain never reads a clock: every operation that depends on time takes a
/// `UTCMilliseconds` from the caller (see ``UTCClock``). That keeps the module pure and
/// lets tests run days of operation in milliseconds.
public struct UTCMilliseconds: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Milliseconds since the Unix epoch.
    public var rawValue: Int64

    /// Creates a time from milliseconds since the Unix epoch.
    @inlinable
    public init(_ rawValue: Int64) {
        self.rawValue = rawValue
    }

    /// Creates a time from whole seconds since the Unix epoch.
    @inlinable
    public init(epochSeconds: Int64) {
        self.rawValue = epochSeconds * 1000
    }

    /// Length of one settlement interval (a UTC quarter hour) in milliseconds.
    public static let quarterHourMs: Int64 = 900_000

    /// Whole seconds since the epoch, rounded towards negative infinity.
    @inlinable
    public var epochSeconds: Int64 { Self.floorDiv(rawValue, 1000) }

    /// This time shifted by `milliseconds` (may be negative).
    @inlinable
    public func adding(milliseconds: Int64) -> UTCMilliseconds {
        UTCMilliseconds(rawValue + milliseconds)
    }

    /// Milliseconds from `other` to `self` (positive when `self` is later).
    @inlinable
    public func milliseconds(since other: UTCMilliseconds) -> Int64 {
        rawValue - other.rawValue
    }

    /// The start of the UTC quarter hour that contains this time.
    @inlinable
    public var quarterHourFloor: UTCMilliseconds {
        UTCMilliseconds(Self.floorDiv(rawValue, Self.quarterHourMs) * Self.quarterHourMs)
    }

    /// The first UTC quarter-hour boundary at or after this time.
    @inlinable
    public var quarterHourCeiling: UTCMilliseconds {
        let floor = quarterHourFloor
        return floor == self ? floor : floor.adding(milliseconds: Self.quarterHourMs)
    }

    /// `true` when this time is exactly on a UTC quarter-hour boundary.
    @inlinable
    public var isQuarterHourAligned: Bool { quarterHourFloor == self }

    @inlinable
    public static func < (lhs: UTCMilliseconds, rhs: UTCMilliseconds) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    @inlinable
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Decodes ISO-8601 text (the wire format) or, for older snapshots, epoch milliseconds.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let value = UTCMilliseconds(iso8601: text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not YYYY-MM-DDTHH:MM:SS[.mmm]Z")
            }
            self = value
        } else {
            rawValue = try container.decode(Int64.self)
        }
    }

    /// Encodes as ISO-8601 with milliseconds, as every timestamp on the wire.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso8601)
    }

    /// ISO-8601 in UTC with milliseconds, e.g. `2026-03-01T10:15:00.000Z`.
    public var iso8601: String {
        let seconds = Self.floorDiv(rawValue, 1000)
        let millis = Int(rawValue - seconds * 1000)
        let days = Self.floorDiv(seconds, 86_400)
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = Self.civil(fromDays: days)
        var text = Self.pad(Int(year), 4) + "-" + Self.pad(month, 2) + "-" + Self.pad(day, 2)
        text += "T" + Self.pad(secondOfDay / 3600, 2) + ":" + Self.pad(secondOfDay / 60 % 60, 2)
        text += ":" + Self.pad(secondOfDay % 60, 2)
        text += "." + Self.pad(millis, 3)
        return text + "Z"
    }

    public var description: String { iso8601 }

    /// Parses the subset of ISO-8601 that ``iso8601`` produces: `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 20 || bytes.count == 24, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        let separators: [(Int, Character)] = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")]
        for (index, character) in separators where bytes[index] != character.asciiValue! { return nil }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        var millis = 0
        if bytes.count == 24 {
            guard bytes[19] == UInt8(ascii: "."), let value = number(20..<23) else { return nil }
            millis = value
        }
        let days = Self.days(fromCivilYear: Int64(year), month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        self.init(seconds * 1000 + Int64(millis))
    }

    // Howard Hinnant's civil-from-days and days-from-civil algorithms (proleptic Gregorian).
    static func civil(fromDays z0: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    static func days(fromCivilYear y0: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? y0 - 1 : y0
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
