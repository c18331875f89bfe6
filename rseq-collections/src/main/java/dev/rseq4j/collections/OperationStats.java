package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;

/**
 * The protocol's counts for a structure's operations (see {@link PerCpuStatistics}, which says what
 * they cover): returned by {@code stats()} of {@link PerCpuCounter}, {@link PerCpuRingBuffer},
 * {@link PerCpuRecordRingBuffer}, {@link PerCpuSpinLock} and {@link PerCpu}.
 *
 * @param restartable    true in rseq mode, false in lock mode (where every operation is a slow path)
 * @param aborts         restartable sequences the kernel aborted
 * @param slowPaths      operations completed under a CPU's guard
 * @param guarded        fast paths that found the guard held
 * @param invalidIndex   fast paths whose thread was not yet registered, or whose index was out of range
 * @param moved          sequences that found the thread on another CPU than the one the operation named,
 *                       and stored nothing
 * @param guardWaits     operations that waited for a guard another thread held
 * @param guardWaitNanos the total time of those waits, in nanoseconds
 */
public record OperationStats(boolean restartable, long aborts, long slowPaths, long guarded, long invalidIndex,
                             long moved, long guardWaits, long guardWaitNanos) implements PerCpuStatistics {

    /** The counts of {@code ops} now. */
    static OperationStats of(PerCpuOps ops) {
        PerCpuStats s = ops.stats();
        return new OperationStats(ops.restartable(), s.aborts(), s.slowPaths(), s.guarded(), s.invalidIndex(),
                s.moved(), s.guardWaits(), s.guardWaitNanos());
    }
}
