package dev.rseq4j.core.internal.jfr;

import java.util.concurrent.atomic.LongAdder;

/**
 * The process-wide counts of all pools ({@code PerCpuFreeList} and the object and memory pools over
 * it) since start, read by the {@code dev.rseq4j.PoolStatistics} event; written through
 * {@code dev.rseq4j.core.percpu.PoolTotals} (this package is not exported). {@code LongAdder}s: sums,
 * not snapshots. Never reset. Thread-safe.
 */
public final class PoolTally {
    public static final LongAdder REFILLS = new LongAdder();
    public static final LongAdder SPILLS = new LongAdder();
    public static final LongAdder STEALS = new LongAdder();
    public static final LongAdder CREATED = new LongAdder();
    public static final LongAdder DROPPED = new LongAdder();

    private PoolTally() {
    }
}
