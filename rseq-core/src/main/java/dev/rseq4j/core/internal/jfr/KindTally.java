package dev.rseq4j.core.internal.jfr;

import java.util.concurrent.atomic.LongAdder;

/**
 * The process-wide rare-event counts of one structure kind since start, read by the
 * {@code dev.rseq4j.PerCpuStatistics} event. {@code PerCpuStats} adds to its kind's tally beside its
 * own counts, on the rare paths only.
 *
 * <h2>Implementation notes</h2>
 * Here, below the per-CPU package, so that the events read the tallies without the per-CPU package
 * and this one depending on each other (the packages form layers, see {@code ArchitectureTest}).
 * {@code LongAdder}s: updates atomic, reads are sums, not snapshots (neither of one figure under
 * concurrent updates nor across figures). Never reset. Thread-safe.
 */
public final class KindTally {
    private final String kind;
    final LongAdder aborts = new LongAdder();
    final LongAdder slowPaths = new LongAdder();
    final LongAdder guarded = new LongAdder();
    final LongAdder invalidIndex = new LongAdder();
    final LongAdder moved = new LongAdder();
    final LongAdder guardWaits = new LongAdder();
    final LongAdder guardWaitNanos = new LongAdder();

    KindTally(String kind) {
        this.kind = kind;
    }

    /** The kind's label in events ({@code counter}, {@code freeList}, ...). */
    public String kind() {
        return kind;
    }

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

    public void recordMoved() {
        moved.increment();
    }

    public void recordGuardWait(long nanos) {
        guardWaits.increment();
        guardWaitNanos.add(nanos);
    }
}
