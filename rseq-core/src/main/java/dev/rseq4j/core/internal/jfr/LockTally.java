package dev.rseq4j.core.internal.jfr;

import java.util.concurrent.atomic.LongAdder;

/**
 * The process-wide rare-event counts of all {@code PerCpuSpinLock}s since start, read by the
 * {@code dev.rseq4j.LockStatistics} event; written through {@code dev.rseq4j.core.percpu.LockTotals}
 * (this package is not exported). {@code LongAdder}s: sums, not snapshots. Never reset. Thread-safe.
 */
public final class LockTally {
    public static final LongAdder CONTENDED = new LongAdder();
    public static final LongAdder PARKS = new LongAdder();
    public static final LongAdder WAKEUPS = new LongAdder();
    public static final LongAdder SLICE_GRANTS = new LongAdder();
    public static final LongAdder SLICE_YIELDS = new LongAdder();

    private LockTally() {
    }
}
