package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The pools under the core's torture: their free-lists over stubs with a busy loop before the commit
 * (the kernel aborts them often) and over operations forced onto slow paths of random regions
 * (racing the delayed fast paths of that region's CPU), from more threads than CPUs. The ownership
 * checkers of {@link PerCpuFreeListTest}, {@link PerCpuObjectPoolTest} and {@link PerCpuMemoryPoolTest}
 * must see nothing held twice and nothing lost, and the stats must show that the abort path (resp.
 * the slow path) ran. The negative control, the same stubs without the restartable sequence, must be
 * caught by the same checker: proof that it can see a double pop or a lost push.
 *
 * <p>Each run prints {@code torture <structure> <variant> ops=.. aborts=.. slowPaths=..}.
 */
class PoolTortureTest {
    private static final int THREADS = Math.max(4, Math.min(8, 4 * Runtime.getRuntime().availableProcessors()));
    private static final int DELAY = 20_000;
    private static final long MILLIS = 1_000;
    /** One operation in this many is forced onto the slow path of a random region. */
    private static final int SLOW_EVERY = 20;

    @BeforeEach
    void needsTheStubs() {
        assumeTrue(RseqRuntime.get().rseqMode(), "the abort path exists in RSEQ mode only");
    }

    private static PerCpuOps delayed() {
        return OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY).create();
    }

    private static PerCpuOps mixed() {
        return OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY).forcingSlowPathEvery(SLOW_EVERY).create();
    }

    private static void report(String what, long ops, PerCpuStats stats) {
        System.out.println("torture " + what + " threads=" + THREADS + " ops=" + ops + " aborts=" + stats.aborts()
                + " slowPaths=" + stats.slowPaths() + " guarded=" + stats.guarded());
    }

    private static void assertAborted(PerCpuStats stats) {
        assertTrue(stats.aborts() > 0, "the kernel must have aborted some sequences: " + stats);
    }

    private static void assertMixed(PerCpuStats stats) {
        assertAborted(stats);
        assertTrue(stats.slowPaths() > 0, "forced slow paths must have run: " + stats);
    }

    @Test
    void freeListUnderAbortsHoldsNothingTwiceAndLosesNothing() throws Exception {
        PerCpuFreeList list = new PerCpuFreeList(delayed(), 128, false, 4);
        PerCpuFreeListTest.Hammer r = PerCpuFreeListTest.hammer(list, THREADS, MILLIS);
        report("free-list delayed", r.ops(), list.opsStats());
        assertAborted(list.opsStats());
    }

    @Test
    void freeListUnderForcedSlowPathsHoldsNothingTwiceAndLosesNothing() throws Exception {
        PerCpuFreeList list = new PerCpuFreeList(mixed(), 128, true, 4);
        PerCpuFreeListTest.Hammer r = PerCpuFreeListTest.hammer(list, THREADS, MILLIS);
        report("free-list mixed", r.ops(), list.opsStats());
        assertMixed(list.opsStats());
    }

    @Test
    void objectPoolUnderAbortsAndForcedSlowPathsLeasesNothingTwice() throws Exception {
        for (boolean slow : new boolean[] {false, true}) {
            PerCpuFreeList list = new PerCpuFreeList(slow ? mixed() : delayed(), 16, false, 2);
            PerCpuObjectPool<PerCpuObjectPoolTest.Owned> pool = PerCpuObjectPool
                    .builder(PerCpuObjectPoolTest.counting(new AtomicInteger())).build(list);
            assertEquals(16, pool.maxSize());
            long ops = PerCpuObjectPoolTest.hammer(pool, THREADS, MILLIS);
            report("object-pool " + (slow ? "mixed" : "delayed"), ops, list.opsStats());
            if (slow) {
                assertMixed(list.opsStats());
            } else {
                assertAborted(list.opsStats());
            }
        }
    }

    @Test
    void memoryPoolUnderAbortsAndForcedSlowPathsHoldsNoBlockTwice() throws Exception {
        for (boolean slow : new boolean[] {false, true}) {
            PerCpuFreeList list = new PerCpuFreeList(slow ? mixed() : delayed(), 256, slow, 4);
            try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(64).capacityPerCpu(8).build(list)) {
                assertEquals(256, pool.maxBlocks());
                long ops = PerCpuMemoryPoolTest.hammer(pool, THREADS, MILLIS);
                report("memory-pool " + (slow ? "mixed" : "delayed"), ops, list.opsStats());
                if (slow) {
                    assertMixed(list.opsStats());
                } else {
                    assertAborted(list.opsStats());
                }
            }
        }
    }

    /**
     * The negative control: the same delayed stubs, never armed, so preemption between the head's
     * load and the commit goes unnoticed; the free-list checker must report a handle held twice, a
     * double push or a lost handle. Runs rounds of half a second until it does (at most 6).
     */
    @Test
    void negativeControlWithoutRestartableSequenceIsCaught() {
        PerCpuOps unprotected = OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY).nonRestartable().create();
        Throwable caught = null;
        int rounds = 0;
        while (caught == null && rounds++ < 6) {
            PerCpuFreeList list = new PerCpuFreeList(unprotected, 128, false, 4);
            try {
                PerCpuFreeListTest.hammer(list, THREADS, 500);
            } catch (Throwable t) {
                caught = t;
            }
        }
        System.out.println("torture negative-control rounds=" + rounds + " aborts=" + unprotected.stats().aborts()
                + " caught=" + (caught == null ? "nothing" : caught.toString().lines().findFirst().orElse("")));
        assertEquals(0, unprotected.stats().aborts(), "nothing can abort a sequence that was never armed");
        assertTrue(caught instanceof AssertionError, "without rseq the checker must see a double pop or a lost push: "
                + caught);
    }
}
