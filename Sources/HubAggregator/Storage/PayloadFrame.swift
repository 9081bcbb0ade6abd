import CLZ4

/// The SQLite store keeps each interval payload as an LZ4 frame (the `lz4` tool's format, with the
/// content size and a checksum of the content): a 5,404-byte payload becomes ~1,375 bytes, so a
/// year of 100 hubs keeps ~4.8 GB instead of ~19 GB, and the single writer has ~4 kB less to put in
/// the WAL per record, and the checkpoint as much less to copy (docs/performance.md). The bytes come back exactly as received, which is what the
/// hash chain is checked over. PostgreSQL compresses large values itself (TOAST) and keeps them raw.
public enum PayloadFrame {
    /// How a stored payload is encoded (column `encoding` of `interval_payload`).
    public enum Encoding: String, Sendable {
        /// The bytes as received (rows written before schema v4).
        case raw
        /// An LZ4 frame of them.
        case lz4
    }

    /// A decompressed payload larger than this is refused: a damaged frame must not make the
    /// reader allocate whatever its header claims. (Payloads are limited to a few hundred kB at ingest.)
    public static let maximumContentBytes = 64 << 20

    /// The frame a stored payload is kept as, or nil for one kept raw: an empty payload, since a
    /// frame of nothing carries no content size (``decompress(_:maximumBytes:)`` would refuse it).
    public static func frame(of payload: [UInt8]) -> [UInt8]? {
        payload.isEmpty ? nil : compress(payload)
    }

    /// Compresses `payload` into one LZ4 frame with content size and content checksum. An empty
    /// payload gives a frame without content size; stores use ``frame(of:)``.
    public static func compress(_ payload: [UInt8]) -> [UInt8] {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.contentSize = UInt64(payload.count)
        preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        let bound = LZ4F_compressFrameBound(payload.count, &preferences)
        // Allocated at the worst-case size and kept so: copying the frame out at its real size (a
        // scratch buffer, then an exact array) measured ~3 % less ingest throughput. A queued frame so
        // holds about as much memory as its payload until the writer has stored it.
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialized in
            let written = payload.withUnsafeBytes { source in
                LZ4F_compressFrame(buffer.baseAddress, bound, source.baseAddress, source.count, &preferences)
            }
            // Only a capacity below the bound can fail, and the bound is what was allocated.
            precondition(LZ4F_isError(written) == 0, "LZ4F_compressFrame: \(String(cString: LZ4F_getErrorName(written)))")
            initialized = written
        }
    }

    /// The payload of one frame, checked against the frame's content size and checksum. A frame
    /// that declares more than `maximumBytes` of content is refused before anything is allocated.
    public static func decompress(_ frame: [UInt8], maximumBytes: Int = maximumContentBytes) throws(PayloadFrameError) -> [UInt8] {
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            throw PayloadFrameError("cannot create an LZ4 decompression context")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        // `withUnsafeBytes` rethrows untyped errors: the outcome leaves the closure as a `Result`.
        return try frame.withUnsafeBytes { source in Result { () throws(PayloadFrameError) -> [UInt8] in
            guard let base = source.baseAddress, source.count > 0 else { throw PayloadFrameError("empty frame") }
            var info = LZ4F_frameInfo_t()
            var headerBytes = source.count
            let hint = LZ4F_getFrameInfo(context, &info, base, &headerBytes)
            guard LZ4F_isError(hint) == 0 else { throw PayloadFrameError("frame header: \(String(cString: LZ4F_getErrorName(hint)))") }
            guard info.contentSize > 0, info.contentSize <= UInt64(maximumBytes) else {
                throw PayloadFrameError("frame header declares \(info.contentSize) bytes of content; expected 1…\(maximumBytes)")
            }
            let size = Int(info.contentSize)
            var consumed = headerBytes
            var produced = 0
            var failure: PayloadFrameError?
            let payload = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                while true {
                    var outputBytes = size - produced
                    var inputBytes = source.count - consumed
                    let result = LZ4F_decompress(context, buffer.baseAddress! + produced, &outputBytes,
                                                 base + consumed, &inputBytes, nil)
                    if LZ4F_isError(result) != 0 {
                        failure = PayloadFrameError("frame content: \(String(cString: LZ4F_getErrorName(result)))")
                        break
                    }
                    produced += outputBytes
                    consumed += inputBytes
                    if result == 0 { break } // the frame is complete, checksum verified
                    if inputBytes == 0 && outputBytes == 0 {
                        failure = PayloadFrameError("frame ends early, after \(produced) of \(size) bytes")
                        break
                    }
                }
                initialized = produced
            }
            if let failure { throw failure }
            guard produced == size, consumed == source.count else {
                throw PayloadFrameError("frame holds \(produced) bytes in \(consumed) of \(source.count) frame bytes; header declares \(size)")
            }
            return payload
        } }.get()
    }
}

/// A stored payload frame that cannot be read back (damaged on disk, or not an LZ4 frame).
public struct PayloadFrameError: Error, Sendable, Equatable, CustomStringConvertible {
    public let detail: String
    init(_ detail: String) { self.detail = detail }
    public var description: String { "stored payload is not a valid LZ4 frame: \(detail)" }
}
