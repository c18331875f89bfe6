package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The rings under the core's torture, as {@link PoolTortureTest} does for the pools: 8 producers and
 * one consumer over stubs with a busy loop before the commit (the kernel aborts them often), then
 * with operations also forced onto the slow path (guard, membarrier) on random calls. Every element
 * must be consumed exactly once with the fields its producer wrote ({@link PerCpuRingBufferTest#hammer});
 * the stats must show that aborts (resp. slow paths) happened. The negative control, the same stubs
 * never armed, must be caught by the same checker: two producers of one CPU then reserve the same
 * slot, and one element overwrites the other.
 *
 * <p>Each run prints {@code torture <ring> <variant> producers=.. delivered=.. aborts=.. slowPaths=..}.
 */
class RingTortureTest {
    private static final int PRODUCERS = 8;
    private static final int DELAY = 20_000;
    private static final long MILLIS = 1_000;
    private static final int SLOW_EVERY = 20;

    @BeforeEach
    void needsTheStubs() {
        assumeTrue(RseqRuntime.get().rseqMode(), "the abort path exists in RSEQ mode only");
    }

    private static PerCpuOps variant(boolean slow) {
        OpsVariant v = OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY);
        return (slow ? v.forcingSlowPathEvery(SLOW_EVERY) : v).create();
    }

    private static void report(String what, long delivered, PerCpuStats stats) {
        System.out.println("torture " + what + " producers=" + PRODUCERS + " delivered=" + delivered + " aborts="
                + stats.aborts() + " slowPaths=" + stats.slowPaths());
        assertTrue(delivered > 0, what + ": something was delivered");
        assertTrue(stats.aborts() > 0, what + ": the kernel must have aborted some sequences: " + stats);
    }

    @Test
    void objectRingDeliversExactlyOnceUnderAbortsAndForcedSlowPaths() throws Exception {
        for (boolean slow : new boolean[] {false, true}) {
            PerCpuOps ops = variant(slow);
            PerCpuRingBuffer<PerCpuRingBufferTest.Item> q = new PerCpuRingBuffer<>(ops, 64);
            PerCpuRingBufferTest.Hammer r = PerCpuRingBufferTest.hammer(q, PRODUCERS, MILLIS);
            report("object-ring " + (slow ? "mixed" : "delayed"), r.delivered(), ops.stats());
            if (slow) {
                assertTrue(ops.stats().slowPaths() > 0, "forced slow paths must have run: " + ops.stats());
            }
        }
    }

    /** Records of 1 to 200 bytes, checked byte by byte ({@link RingSelfTest#recordRing}, also run by diagnose). */
    @Test
    void recordRingDeliversWholeRecordsExactlyOnceUnderAbortsAndForcedSlowPaths() {
        for (boolean slow : new boolean[] {false, true}) {
            PerCpuOps ops = variant(slow);
            RingSelfTest.Result r = RingSelfTest.recordRing(ops, PRODUCERS, MILLIS);
            report("record-ring " + (slow ? "mixed" : "delayed"), r.ops(), ops.stats());
            assertTrue(r.ok(), r.toString());
            if (slow) {
                assertTrue(ops.stats().slowPaths() > 0, "forced slow paths must have run: " + ops.stats());
            }
        }
    }

    /**
     * The record ring's negative control: without the restartable sequence, two writers of one CPU
     * copy into the same bytes and commit the same tail, so records are torn or lost.
     */
    @Test
    void recordRingNegativeControlIsCaught() {
        PerCpuOps unprotected = OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY).nonRestartable().create();
        RingSelfTest.Result r = null;
        for (int round = 0; round < 6 && (r == null || r.ok()); round++) {
            r = RingSelfTest.recordRing(unprotected, PRODUCERS, 500);
        }
        System.out.println("torture record-ring negative-control " + r);
        assertTrue(!r.ok(), "without rseq the checker must see a torn or lost record: " + r);
    }

    /** The negative control: runs rounds of half a second until the checker catches a loss (at most 6). */
    @Test
    void negativeControlWithoutRestartableSequenceIsCaught() {
        PerCpuOps unprotected = OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY).nonRestartable().create();
        Throwable caught = null;
        int rounds = 0;
        while (caught == null && rounds++ < 6) {
            try {
                PerCpuRingBufferTest.hammer(new PerCpuRingBuffer<>(unprotected, 64), PRODUCERS, 500);
            } catch (Throwable t) {
                caught = t;
            }
        }
        System.out.println("torture object-ring negative-control rounds=" + rounds + " caught="
                + (caught == null ? "nothing" : caught.toString().lines().findFirst().orElse("")));
        assertEquals(0, unprotected.stats().aborts(), "nothing can abort a sequence that was never armed");
        assertTrue(caught instanceof AssertionError, "without rseq the checker must see a lost or duplicated element: "
                + caught);
    }
}
