package dev.rseq4j.core.percpu;

import dev.rseq4j.core.internal.jfr.LockTally;

/**
 * Process-wide totals of the rare events of every {@code PerCpuSpinLock} since start (the lock adds
 * to them beside its own per-lock counts, on its rare paths only: contention, parking, waking, time
 * slices), read by the JDK Flight Recorder's {@code dev.rseq4j.LockStatistics} event.
 *
 * <h2>Implementation notes</h2>
 * The lock lives in the collections module but the events in this one, hence totals here: a lock
 * registers nothing, however many are created. This exported class only forwards to the adders of
 * the (non-exported) event package, which must not depend back on this one. Each figure is a {@code LongAdder}: updates are
 * atomic, reads are sums that are not snapshots (neither of one figure under concurrent updates nor
 * across figures). Never reset. Thread-safe.
 */
public final class LockTotals {

    private LockTotals() {
    }

    /** A take found the lock held (or lost the race for it) at its first attempt. */
    public static void recordContended() {
        LockTally.CONTENDED.increment();
    }

    /** A waiter parked. */
    public static void recordPark() {
        LockTally.PARKS.increment();
    }

    /** An unlock unparked a waiter. */
    public static void recordWakeup() {
        LockTally.WAKEUPS.increment();
    }

    /** An unlock found a time-slice extension granted. */
    public static void recordSliceGrant() {
        LockTally.SLICE_GRANTS.increment();
    }

    /** An unlock yielded the CPU after a granted extension. */
    public static void recordSliceYield() {
        LockTally.SLICE_YIELDS.increment();
    }

    public static long contended() {
        return LockTally.CONTENDED.sum();
    }

    public static long parks() {
        return LockTally.PARKS.sum();
    }

    public static long wakeups() {
        return LockTally.WAKEUPS.sum();
    }

    public static long sliceGrants() {
        return LockTally.SLICE_GRANTS.sum();
    }

    public static long sliceYields() {
        return LockTally.SLICE_YIELDS.sum();
    }
}
