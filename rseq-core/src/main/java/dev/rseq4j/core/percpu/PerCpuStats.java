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
    private final LongAdder moved = new LongAdder();
    private final LongAdder guardWaits = new LongAdder();
    private final LongAdder guardWaitNanos = new LongAdder();

    void recordAbort() {
        aborts.increment();
    }

    void recordSlowPath() {
        slowPaths.increment();
    }

    void recordGuarded() {
        guarded.increment();
    }

    void recordInvalidIndex() {
        invalidIndex.increment();
    }

    void recordMoved() {
        moved.increment();
    }

    /** A slow path found its guard held and waited {@code nanos} for it. */
    void recordGuardWait(long nanos) {
        guardWaits.increment();
        guardWaitNanos.add(nanos);
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

    /**
     * Sequences that found the thread on another region than the operation's expected index (it
     * migrated after choosing the region) and stored nothing.
     */
    public long moved() {
        return moved.sum();
    }

    /** Slow paths that found their guard held by another slow path and waited for it. */
    public long guardWaits() {
        return guardWaits.sum();
    }

    /** Total time slow paths spent waiting for guards, in nanoseconds. */
    public long guardWaitNanos() {
        return guardWaitNanos.sum();
    }

    @Override
    public String toString() {
        return "aborts=" + aborts() + " slowPaths=" + slowPaths() + " guarded=" + guarded()
                + " invalidIndex=" + invalidIndex() + " moved=" + moved() + " guardWaits=" + guardWaits()
                + " guardWaitMillis=" + guardWaitNanos() / 1_000_000;
    }
}
