package dev.rseq4j.core.percpu;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counts of the rare events of {@link PerCpuOps}: aborted sequences, slow paths and why they were
 * taken. Only rare events are counted, so the fast path pays nothing. Sums are not atomic snapshots.
 */
public final class PerCpuStats {
    private final LongAdder aborts = new LongAdder();
    private final LongAdder slowPaths = new LongAdder();
    private final LongAdder guarded = new LongAdder();
    private final LongAdder invalidIndex = new LongAdder();

    public void recordAbort() {
        aborts.increment();
    }

    public void recordSlowPath() {
        slowPaths.increment();
    }

    public void recordGuarded() {
        guarded.increment();
    }

    public void recordInvalidIndex() {
        invalidIndex.increment();
    }

    /** Restartable sequences the kernel aborted. */
    public long aborts() {
        return aborts.sum();
    }

    /** Operations completed under the guard (all of them in lock mode). */
    public long slowPaths() {
        return slowPaths.sum();
    }

    /** Fast paths that found their region's guard held. */
    public long guarded() {
        return guarded.sum();
    }

    /**
     * Fast paths that read an index outside the area: the thread was not registered yet (cpu_id -1
     * or -2), or the area has fewer regions than the index (every such operation takes the slow path).
     */
    public long invalidIndex() {
        return invalidIndex.sum();
    }

    @Override
    public String toString() {
        return "aborts=" + aborts() + " slowPaths=" + slowPaths() + " guarded=" + guarded()
                + " invalidIndex=" + invalidIndex();
    }
}
