package dev.rseq4j.stress;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.RseqStatus;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.WordArena;

/** The operations the tests mix, created once per VM (hooked operations install stubs). */
final class StressOps {
    /** True when this VM runs rseq4j in rseq mode (restartable fast paths), false in lock mode. */
    static final boolean RSEQ = Rseq.status().mode() == RseqStatus.Mode.RSEQ;

    /** The production CPU-indexed operations: in rseq mode, the restartable fast path. */
    static final PerCpuOps PRODUCTION = PerCpuOps.cpuIndexed();

    /**
     * In rseq mode: operations that always take the slow path (guard, membarrier) on a random
     * region, so they race the fast paths of other CPUs on that region. In lock mode the production
     * operations, which are the lock: a lock-mode instance has no membarrier and must never be
     * mixed with restartable operations on one area.
     */
    static final PerCpuOps FORCED_SLOW = RSEQ
            ? OpsVariant.of(CpuIndexing.CPU).forcingSlowPathEvery(1).create()
            : PRODUCTION;

    /** The negative control: forced slow paths without the membarrier (in lock mode, the lock). */
    static final PerCpuOps FORCED_SLOW_UNFENCED = RSEQ
            ? OpsVariant.of(CpuIndexing.CPU).forcingSlowPathEvery(1).withoutFence().create()
            : PRODUCTION;

    /**
     * The words of the area tests: a dedicated arena, so that no other user shares their pages.
     * jcstress creates millions of states: one 8-byte word each, instead of a page-aligned area each,
     * keeps the forked VMs' native memory small.
     */
    private static final WordArena ARENA = new WordArena(CpuIndexing.CPU);

    private StressOps() {
    }

    /** A zeroed word in every CPU's region, reused once the returned word (held by the test's state) is unreachable. */
    static WordArena.Word newWord() {
        return ARENA.allocate();
    }

    /** {@code n} consecutive zeroed words of one chunk (the first is returned), as {@link #newWord}. */
    static WordArena.Word newWords(int n) {
        return ARENA.allocate(n);
    }
}
