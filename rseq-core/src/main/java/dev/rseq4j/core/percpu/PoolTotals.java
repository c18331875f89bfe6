package dev.rseq4j.core.percpu;

import dev.rseq4j.core.internal.jfr.PoolTally;

/**
 * Process-wide totals of what every pool did since start (the pools add to them beside their own
 * counts, once per batch or per item made, never per take or give), read by the JDK Flight
 * Recorder's {@code dev.rseq4j.PoolStatistics} event.
 *
 * <h2>Implementation notes</h2>
 * As {@link LockTotals}: the pools live in the collections module and the events in this one; this
 * exported class forwards to the adders of the (non-exported) event package. Sums, not snapshots;
 * never reset; thread-safe.
 */
public final class PoolTotals {

    private PoolTotals() {
    }

    /** A batch moved from the depot into a magazine. */
    public static void recordRefill() {
        PoolTally.REFILLS.increment();
    }

    /** A batch was put in the depot. */
    public static void recordSpill() {
        PoolTally.SPILLS.increment();
    }

    /** A batch was taken from another CPU's magazine. */
    public static void recordSteal() {
        PoolTally.STEALS.increment();
    }

    /** {@code n} pooled items were made (objects, or blocks carved). */
    public static void recordCreated(long n) {
        PoolTally.CREATED.add(n);
    }

    /** An object was left to the garbage collector. */
    public static void recordDropped() {
        PoolTally.DROPPED.increment();
    }

    public static long refills() {
        return PoolTally.REFILLS.sum();
    }

    public static long spills() {
        return PoolTally.SPILLS.sum();
    }

    public static long steals() {
        return PoolTally.STEALS.sum();
    }

    public static long created() {
        return PoolTally.CREATED.sum();
    }

    public static long dropped() {
        return PoolTally.DROPPED.sum();
    }
}
