package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuOps;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The lock under the core's torture, as {@link RingTortureTest} does for the rings: 8 threads take
 * locks over stubs with a busy loop before the commit (the kernel aborts many takes), then with takes
 * also forced onto the slow path on random calls, and one take in eight by index from any CPU; the
 * holders increment plain counters with a busy loop inside ({@link LockSelfTest#hammer}). Totals
 * must be exact with no overlap, and the stats must show that aborts (resp. slow paths) happened. The
 * negative control, the same stubs never armed (the take is then a plain load, compare and store),
 * must be caught by the same checker: two threads of one CPU both read the lock free.
 *
 * <p>Each run prints {@code torture lock <variant> op=... ops=.. aborts=.. slowPaths=.. lost=.. overlaps=..}.
 */
class LockTortureTest {
    private static final int THREADS = 8;
    private static final int DELAY = 20_000;
    private static final long MILLIS = 1_000;
    private static final int SLOW_EVERY = 20;

    @BeforeEach
    void needsTheStubs() {
        assumeTrue(RseqRuntime.get().rseqMode(), "the abort path exists in RSEQ mode only");
    }

    @Test
    void exactUnderAbortsAndForcedSlowPaths() {
        for (boolean slow : new boolean[] {false, true}) {
            for (boolean shards : new boolean[] {false, true}) {
                OpsVariant v = OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY);
                PerCpuOps ops = (slow ? v.forcingSlowPathEvery(SLOW_EVERY) : v).create();
                LockSelfTest.Result r = LockSelfTest.hammer(ops, shards, THREADS, MILLIS, false);
                System.out.println("torture lock " + (slow ? "mixed " : "delayed ") + r);
                assertTrue(r.ok(), r.toString());
                assertTrue(r.aborts() > 0, "the kernel must have aborted some takes: " + r);
                if (slow) {
                    assertTrue(r.slowPaths() > 0, "forced slow paths must have run: " + r);
                }
            }
        }
    }

    /** The negative control: rounds of half a second until the checker sees two holders (at most 6). */
    @Test
    void negativeControlWithoutRestartableSequenceIsCaught() {
        PerCpuOps unprotected = OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY).nonRestartable().create();
        LockSelfTest.Result r = null;
        for (int round = 0; round < 6 && (r == null || r.ok()); round++) {
            r = LockSelfTest.hammer(unprotected, false, THREADS, 500, false);
        }
        System.out.println("torture lock negative-control " + r);
        assertEquals(0, r.aborts(), "nothing can abort a sequence that was never armed");
        assertFalse(r.ok(), "without rseq the checker must see two holders at once or a lost increment: " + r);
    }
}
