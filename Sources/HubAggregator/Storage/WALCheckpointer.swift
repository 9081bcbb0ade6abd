import Dispatch
import GRDBSQLite
import Synchronization

/// Copies committed WAL frames into the database file on a connection and queue of its own, so
/// that the store's commits do not wait for it.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL frames, on the
/// writer's thread: about a fifth of the writer's time in the ingest benchmark (reading the WAL
/// back, writing the database file, syncing it; docs/performance.md). Here the writer's
/// connection reports each commit through `sqlite3_wal_hook` (which also turns its automatic
/// checkpoint off), and a PASSIVE checkpoint runs on the checkpointer's queue while the writer
/// goes on with the next batch. SQLite allows one checkpoint beside one writer.
///
/// The WAL only starts over when a transaction begins after a checkpoint has copied every frame,
/// which a writer that never pauses does not give it. So once the WAL holds `limitFrames` frames,
/// the commit that reports it waits for the checkpointer, as SQLite's own checkpoint would have
/// made it wait: the WAL stays within about `limitFrames` frames plus one batch.
final class WALCheckpointer: Sendable {
    /// Frames in the WAL after which a checkpoint is started (the store passes 1,000, SQLite's default for its automatic one).
    let startFrames: Int32
    /// Frames in the WAL after which a commit waits for a complete checkpoint.
    let limitFrames: Int32
    private let queue = DispatchQueue(label: "hubmeter.aggregator-store.checkpoint")
    /// The checkpointer's own connection; used on `queue` only.
    private nonisolated(unsafe) let connection: OpaquePointer
    private let pending = Atomic(false)
    private let counters = Mutex(WALCheckpointCounts())

    /// Opens the checkpointer's connection to the database at `path` (which the store has opened
    /// in WAL mode already).
    init(path: String, startFrames: Int32, limitFrames: Int32) throws(AggregatorStoreError) {
        var handle: OpaquePointer?
        let code = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw AggregatorStoreError(.unavailable, operation: "open checkpoint connection", detail: "\(path): \(message) (\(code))")
        }
        // A checkpoint syncs the WAL before it copies, and the database file after: a power cut
        // in between loses nothing.
        sqlite3_exec(handle, "PRAGMA synchronous = FULL", nil, nil, nil)
        connection = handle
        self.startFrames = startFrames
        self.limitFrames = max(limitFrames, startFrames)
    }

    deinit {
        // Not through `queue`: a queued checkpoint holds `self`, so none is left now, and the last
        // release may happen on `queue` itself, where `queue.sync` would deadlock.
        sqlite3_close_v2(connection)
    }

    var counts: WALCheckpointCounts { counters.withLock { $0 } }

    /// Installs the commit hook on the writer's connection. The hook holds this object unretained:
    /// the store keeps it for as long as its connections are open.
    func attach(toWriter writer: OpaquePointer) {
        sqlite3_wal_hook(writer, { context, _, _, frames in
            Unmanaged<WALCheckpointer>.fromOpaque(context!).takeUnretainedValue().committed(walFrames: frames)
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Called on the writer's thread after each commit, with the frames now in the WAL.
    func committed(walFrames: Int32) {
        if walFrames >= limitFrames {
            // The pass in progress, if any, finishes first; this one then copies what it left.
            _ = queue.sync { checkpointNow(waited: true) }
        } else if walFrames >= startFrames, !pending.exchange(true, ordering: .acquiringAndReleasing) {
            queue.async {
                self.pending.store(false, ordering: .releasing)
                self.checkpointNow(waited: false)
            }
        }
    }

    /// Waits for the checkpoint in progress and runs one more (for tests and diagnostics).
    @discardableResult
    func checkpointAndWait() -> (walFrames: Int32, copied: Int32) {
        queue.sync { checkpointNow(waited: true) }
    }

    @discardableResult
    private func checkpointNow(waited: Bool) -> (walFrames: Int32, copied: Int32) {
        var walFrames: Int32 = -1, copied: Int32 = -1
        let code = sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, &walFrames, &copied)
        // BUSY: another process's checkpoint is running; it copies the same frames.
        let failure: String? = code == SQLITE_OK || code == SQLITE_BUSY ? nil : "\(String(cString: sqlite3_errmsg(connection))) (\(code))"
        counters.withLock { counts in
            if waited { counts.waited += 1 } else { counts.background += 1 }
            if let failure {
                counts.failed += 1
                counts.lastFailure = failure
            }
        }
        return (walFrames, copied)
    }
}

/// What a store's ``WALCheckpointer`` has done so far.
public struct WALCheckpointCounts: Sendable, Equatable {
    /// Checkpoints run in the background, and by a commit that waited for one (the WAL at its limit).
    public var background = 0, waited = 0
    /// Checkpoints that failed (an I/O error, a full disk), with SQLite's last message.
    public var failed = 0
    public var lastFailure: String?
}
