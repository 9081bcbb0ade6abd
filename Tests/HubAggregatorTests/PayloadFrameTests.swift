import Foundation
import HubAggregator
import HubContract
import Testing
import TestSupport

/// The LZ4 frames the SQLite store keeps payloads in: exact round trips, readable by the `lz4`
/// tool an auditor would use, and damaged or foreign bytes refused with a reason.
@Suite("Payload frames")
struct PayloadFrameTests {
    /// Deterministic bytes: JSON-like text (compressible) or noise (not).
    static func sample(count: Int, seed: UInt64, text: Bool) -> [UInt8] {
        var state = seed
        return (0..<count).map { index in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            if text { return Array("{\"value\":12.5,\"quality\":\"measured\"},".utf8)[index % 36] ^ (state >> 56 == 0 ? 1 : 0) }
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    @Test(arguments: [1, 35, 5_409, 70_000, 300_000])
    func framesRoundTripExactly(count: Int) throws {
        for text in [true, false] {
            let payload = Self.sample(count: count, seed: UInt64(count), text: text)
            let frame = PayloadFrame.compress(payload)
            #expect(Array(frame.prefix(4)) == [0x04, 0x22, 0x4D, 0x18], "LZ4 frame magic number")
            #expect(try PayloadFrame.decompress(frame) == payload)
            if text && count > 1_000 { #expect(frame.count * 3 < payload.count, "\(frame.count) of \(count) bytes") }
        }
    }

    /// The `lz4` command-line tool (Debian package lz4, installed by `scripts/setup.sh --test`, as
    /// CI runs it) reads a stored frame back to the same bytes:
    /// an auditor with the SQLite file needs no hubmeter to read what was received.
    @Test func theLZ4ToolReadsAStoredFrame() throws {
        let payload = try AggregatorFixtures.messages(try AggregatorFixtures.records(count: 1))[0].payload
        let directory = try AggregatorFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(PayloadFrame.compress(payload)).write(to: URL(fileURLWithPath: directory + "/payload.lz4"))
        let result = try runCommand("/usr/bin/lz4", ["-d", "-q", directory + "/payload.lz4", directory + "/payload.json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/payload.json"))) == payload)
    }

    @Test func damagedAndForeignBytesAreRefusedWithAReason() throws {
        let payload = Self.sample(count: 5_000, seed: 7, text: true)
        let frame = PayloadFrame.compress(payload)
        func refusal(_ bytes: [UInt8]) -> String? {
            do {
                _ = try PayloadFrame.decompress(bytes)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(refusal([])?.contains("empty frame") == true)
        #expect(refusal(payload)?.contains("frame header") == true, "raw JSON is not a frame")
        #expect(refusal(Array(frame.dropLast(9)))?.contains("ends early") == true)
        #expect(refusal(frame + [0]) != nil, "bytes after the frame")
        var flipped = frame
        flipped[frame.count / 2] ^= 0x01
        #expect(refusal(flipped) != nil, "a changed byte fails the content checksum")
        // A header that declares more content than allowed is refused before anything is allocated.
        #expect(throws: PayloadFrameError.self) { try PayloadFrame.decompress(frame, maximumBytes: 4_999) }
        #expect((try? PayloadFrame.decompress(frame, maximumBytes: 5_000)) == payload)
        do {
            _ = try PayloadFrame.decompress(frame, maximumBytes: 4_999)
        } catch {
            #expect(error.description.contains("declares 5000 bytes"), "\(error)")
        }
    }
}
