import Foundation

/// Deterministic randomness: a value depends only on the seed, a stream name and an index
/// (a time bucket), never on how often or in which order it is asked for. A simulation is
/// therefore the same whatever the update cadence or the speed.
struct SeededNoise: Sendable, Hashable {
    let seed: UInt64

    /// A uniform number in [0, 1).
    func uniform(stream: UInt64, index: Int64) -> Double {
        var x = seed &+ stream &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(bitPattern: index) &* 0xBF58_476D_1CE4_E5B9
        // splitmix64 finaliser
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        x ^= x >> 31
        return Double(x >> 11) / Double(1 << 53)
    }

    /// A stream id from a name (FNV-1a).
    static func stream(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// A smooth value in [0, 1): uniform values at bucket edges, cosine-interpolated in between.
    func smooth(stream: UInt64, time: Int64, bucket: Int64) -> Double {
        let index = floorDiv(time, bucket)
        let fraction = Double(time - index * bucket) / Double(bucket)
        let a = uniform(stream: stream, index: index), b = uniform(stream: stream, index: index + 1)
        let weight = (1 - cos(Double.pi * fraction)) / 2
        return a + (b - a) * weight
    }
}

func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let quotient = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
}

func positiveModulo(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }
