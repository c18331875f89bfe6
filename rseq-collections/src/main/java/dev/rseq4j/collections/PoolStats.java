package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PerCpuStats;

/**
 * What a pool ({@link PerCpuFreeList}, {@link PerCpuObjectPool}, {@link PerCpuMemoryPool}) did since it
 * was created, and where its free items rest now: for dashboards and for sizing {@code capacityPerCpu}
 * and {@code maxSize}. Sums of counters read one after another: not an atomic snapshot while the pool
 * is in use.
 *
 * <p>A take that is none of refill, steal or creation was served by the current CPU's magazine: those
 * hits are not counted, because a count per take would cost a shared write or a downcall per take.
 * In a steady state {@code steals} and {@code guardWaits} stay at zero; a growing {@code steals} means
 * that free items pile up on CPUs that do not take them while the depot is empty (a larger
 * {@code maxSize} helps).
 *
 * @param restartable    true in rseq mode, false in lock mode (where every magazine operation takes a lock)
 * @param refills        batches a take moved from the depot into an empty magazine
 * @param spills         batches put in the depot: by a give onto a full magazine, or the rest of a refill or
 *                       steal that found the magazine filled meanwhile
 * @param steals         batches a take moved from another CPU's magazine (under that CPU's guard), with the
 *                       depot empty and, for the object and memory pools, the pool at its maximum size
 * @param created        items made so far: objects from the factory, blocks carved (0 for a free-list)
 * @param dropped        objects left to the garbage collector: made beyond {@code maxSize}, or rejected by
 *                       {@code onRelease} (0 for a free-list and the memory pool)
 * @param inMagazines    free items resting in the CPUs' magazines now
 * @param inDepot        free items resting in the depot now
 * @param aborts         restartable sequences the kernel aborted, of all pools of the process that share this
 *                       pool's operations (the pools of one indexing share one instance, so that its stubs
 *                       fold into direct calls)
 * @param slowPaths      operations completed under a CPU's guard (every steal; every operation in lock
 *                       mode), shared as {@code aborts}
 * @param guardWaits     operations that found a CPU's guard held by another thread (a steal) and waited for
 *                       its release, shared as {@code aborts}
 */
public record PoolStats(boolean restartable, long refills, long spills, long steals, long created, long dropped,
                        long inMagazines, long inDepot, long aborts, long slowPaths, long guardWaits)
        implements PerCpuStatistics {

    /** The statistics of {@code list}, with the items a pool over it created and dropped. */
    static PoolStats of(PerCpuFreeList list, long created, long dropped) {
        Depot depot = list.depot();
        PerCpuStats ops = list.opsStats();
        long free = 0;
        for (int n : list.freePerRegion()) {
            free += n;
        }
        return new PoolStats(list.restartable(), depot.takes(), depot.puts(), list.steals(), created, dropped, free,
                depot.handles(), ops.aborts(), ops.slowPaths(), ops.guardWaits());
    }
}
