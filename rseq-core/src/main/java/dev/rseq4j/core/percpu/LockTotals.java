package dev.rseq4j.core.percpu;

import java.util.concurrent.atomic.LongAdder;

/**
 * Process-wide totals of the rare events of every {@code PerCpuSpinLock} since start (the lock adds
 * to them beside its own per-lock counts, on its rare paths only: contention, parking, waking, time
 * slices), read by the JDK Flight Recorder's {@code dev.rseq4j.LockStatistics} event.
 *
 * <h2>Implementation notes</h2>
 * The lock lives in the collections module but the events in this one, hence totals here: a lock
 * registers nothing, however many are created. Each figure is a {@code LongAdder}: updates are
 * atomic, reads are sums that are not snapshots (neither of one figure under concurrent updates nor
 * across figures). Never reset. Thread-safe.
 */
public final class LockTotals {
    private static final LongAdder CONTENDED = new LongAdder();
    private static final LongAdder PARKS = new LongAdder();
    private static final LongAdder WAKEUPS = new LongAdder();
    private static final LongAdder SLICE_GRANTS = new LongAdder();
    private static final LongAdder SLICE_YIELDS = new LongAdder();

    private LockTotals() {
    }

    /** A take found the lock held (or lost the race for it) at its first attempt. */
    public static void recordContended() {
        CONTENDED.increment();
    }

    /** A waiter parked. */
    public static void recordPark() {
        PARKS.increment();
    }

    /** An unlock unparked a waiter. */
    public static void recordWakeup() {
        WAKEUPS.increment();
    }

    /** An unlock found a time-slice extension granted. */
    public static void recordSliceGrant() {
        SLICE_GRANTS.increment();
    }

    /** An unlock yielded the CPU after a granted extension. */
    public static void recordSliceYield() {
        SLICE_YIELDS.increment();
    }

    public static long contended() {
        return CONTENDED.sum();
    }

    public static long parks() {
        return PARKS.sum();
    }

    public static long wakeups() {
        return WAKEUPS.sum();
    }

    public static long sliceGrants() {
        return SLICE_GRANTS.sum();
    }

    public static long sliceYields() {
        return SLICE_YIELDS.sum();
    }
}
