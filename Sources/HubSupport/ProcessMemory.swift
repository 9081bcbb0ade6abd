import CPlatform

/// malloc's knobs, for a daemon that must stay small for years.
public enum ProcessMemory {
    /// Caps glibc's malloc arenas (default: eight per core). Only takes effect for threads that
    /// have not allocated yet: call it on the main thread before anything else starts.
    @discardableResult
    public static func limitMallocArenas(to arenas: Int32) -> Bool {
        hubmeter_limit_malloc_arenas(arenas) == 1
    }

    /// Returns malloc's free pages to the kernel. glibc keeps memory freed after a transient peak
    /// (the agent's quarter-hour settlement raised its anonymous memory by 1.7 MiB for good,
    /// docs/performance.md); this gives back whole free pages, at the cost of a walk over the heap.
    @discardableResult
    public static func releaseFreeHeap() -> Bool {
        hubmeter_release_free_heap() == 1
    }
}
