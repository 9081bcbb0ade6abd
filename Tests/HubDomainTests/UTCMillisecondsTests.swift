import HubDomain
import Testing

@Suite struct UTCMillisecondsTests {
    @Test func formatsISO8601() {
        // 2026-03-01T10:15:00Z = 1_772_360_100 s (python datetime(..., tzinfo=utc).timestamp()).
        let time = UTCMilliseconds(epochSeconds: 1_772_360_100)
        #expect(time.iso8601 == "2026-03-01T10:15:00.000Z")
        #expect(UTCMilliseconds(epochSeconds: 951_825_600).iso8601 == "2000-02-29T12:00:00.000Z")
        #expect(UTCMilliseconds(-1000).iso8601 == "1969-12-31T23:59:59.000Z")
        #expect(UTCMilliseconds(1_772_360_100_123).iso8601 == "2026-03-01T10:15:00.123Z")
    }

    @Test func parsesWhatItFormats() {
        for raw: Int64 in [0, -1000, 951_825_600_000, 1_772_360_100_123, 4_102_444_800_000] {
            let time = UTCMilliseconds(raw)
            #expect(UTCMilliseconds(iso8601: time.iso8601) == time)
        }
        #expect(UTCMilliseconds(iso8601: "2026-13-01T00:00:00Z") == nil)
        #expect(UTCMilliseconds(iso8601: "2026-03-01 10:15:00Z") == nil)
    }

    @Test func quarterHours() {
        let time = UTCMilliseconds(epochSeconds: 1_772_360_100).plus(m: 7, s: 30)
        #expect(time.quarterHourFloor == UTCMilliseconds(epochSeconds: 1_772_360_100))
        #expect(time.quarterHourCeiling == UTCMilliseconds(epochSeconds: 1_772_360_100 + 900))
        #expect(UTCMilliseconds(-1).quarterHourFloor == UTCMilliseconds(-900_000))
        #expect(dayStart.isQuarterHourAligned)
        #expect(dayStart.quarterHourCeiling == dayStart)
    }

    @Test func recordIDsAreDeterministic() {
        let interval = SettlementInterval(containing: dayStart.plus(h: 10, m: 20))
        #expect(interval.recordID(hub: "park-a") == "park-a:2026-03-01T10:15:00.000Z")
        #expect(interval.next.start == dayStart.plus(h: 10, m: 30))
    }
}
