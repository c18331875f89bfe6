package dev.rseq4j.collections;

/**
 * What every structure's {@code stats()} returns: the counts of the rare events of its per-CPU
 * operations, the same numbers the flight recorder's {@code dev.rseq4j.PerCpuStatistics} event reports
 * for the structure's kind. One interface, so that a dashboard or a metrics binding reads every
 * structure alike; each structure's record adds its own figures ({@link PoolStats}: refills, spills,
 * steals, items made and resting; {@link OperationStats}: the rest of the protocol's counts).
 *
 * <p>The counts are shared: every structure of one kind and indexing uses the same operations
 * instance (so that its stubs fold into direct calls), so they cover all of them in the process (all
 * rings together, say), not the one instance. Fast-path commits are not counted: a count per
 * operation would cost as much as the operation. Sums of adders read one after another: not an
 * atomic snapshot while the structure is in use.
 *
 * <p>Thread-safety and ordering: the records are immutable values, safe to share; a {@code stats()}
 * call reads each count once (opaque adder sums), with no happens-before to the operations it counts.
 */
public sealed interface PerCpuStatistics permits OperationStats, PoolStats {
    /** True in rseq mode; false in lock mode, where every operation is a slow path. */
    boolean restartable();

    /** Restartable sequences the kernel aborted (preemption, migration, signal). */
    long aborts();

    /** Operations completed under a CPU's guard (all of them in lock mode). */
    long slowPaths();

    /** Operations that found a CPU's guard held by another thread's slow path and waited for its release. */
    long guardWaits();
}
