package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.runtime.RseqRuntime;
import org.junit.jupiter.api.Test;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A {@link StackOverflowError} may strike anywhere in an operation, including between taking and
 * releasing a guard. Each round recurses, calling an operation at every level, until the stack
 * overflows (a random padding moves the point where it strikes), then checks that no guard of the
 * area is held and that the sum counts every completed operation (plus at most the one the error
 * interrupted after its commit).
 */
class GuardStackOverflowTest {
    private static final int ROUNDS = 300;
    private static final long STACK_BYTES = 256 * 1024;

    @Test
    void lockModeNeverLeavesAGuardHeld() throws Exception {
        overflowRounds(OpsVariant.lockMode(), ROUNDS * 4);
    }

    @Test
    void slowPathNeverLeavesAGuardHeld() throws Exception {
        RseqRuntime rt = RseqRuntime.get();
        assumeTrue(rt.rseqMode(), "needs the stubs");
        overflowRounds(OpsVariant.of(CpuIndexing.CPU).forcingSlowPathEvery(1).create(), ROUNDS);
    }

    @Test
    void sumThenResetNeverLeavesAGuardHeld() throws Exception {
        PerCpuOps ops = OpsVariant.lockMode();
        PerCpuArea area = PerCpuArea.forPossibleCpus(ops.indexing(), 64);
        runOnSmallStack(() -> {
            for (int round = 0; round < ROUNDS; round++) {
                try {
                    diveSumThenReset(ops, area, ThreadLocalRandom.current().nextInt(64));
                } catch (StackOverflowError expected) {
                    assertNoGuardHeld(area, round);
                }
            }
        });
    }

    private static void overflowRounds(PerCpuOps ops, int rounds) throws Exception {
        PerCpuArea area = PerCpuArea.forPossibleCpus(ops.indexing(), 64);
        long[] completed = {0};
        int[] overflows = {0};
        runOnSmallStack(() -> {
            for (int round = 0; round < rounds; round++) {
                long before = completed[0];
                try {
                    pad(ThreadLocalRandom.current().nextInt(64), () -> dive(ops, area, completed));
                } catch (StackOverflowError expected) {
                    overflows[0]++;
                }
                assertNoGuardHeld(area, round);
                long sum = sum(area);
                assertTrue(sum - completed[0] >= 0 && sum - completed[0] <= 1,
                        "round " + round + ": sum " + sum + " vs completed " + completed[0] + " (was " + before + ")");
                completed[0] = sum;   // an interrupted but committed operation counts from here on
            }
        });
        System.out.printf("stack overflow: %d rounds, %d overflows, %d operations, no guard left held%n",
                rounds, overflows[0], completed[0]);
        assertEquals(rounds, overflows[0]);
    }

    /** Calls the operation at every level until the stack overflows. */
    private static void dive(PerCpuOps ops, PerCpuArea area, long[] completed) {
        ops.add(area, 8, 1);
        completed[0]++;
        dive(ops, area, completed);
    }

    private static void diveSumThenReset(PerCpuOps ops, PerCpuArea area, int padding) {
        if (padding > 0) {
            diveSumThenReset(ops, area, padding - 1);
            return;
        }
        ops.sumThenReset(area, 8);
        diveSumThenReset(ops, area, 0);
    }

    private static void pad(int frames, Runnable then) {
        if (frames == 0) {
            then.run();
        } else {
            pad(frames - 1, then);
        }
    }

    private static void assertNoGuardHeld(PerCpuArea area, int round) {
        for (int r = 0; r < area.regions(); r++) {
            assertTrue(!area.guardHeld(r), "round " + round + ": guard of region " + r + " left held");
        }
    }

    private static long sum(PerCpuArea area) {
        long s = 0;
        for (int r = 0; r < area.regions(); r++) {
            s += area.region(r).get(JAVA_LONG, 8);
        }
        return s;
    }

    /** Runs {@code body} on a thread with a small stack, rethrowing its failure. */
    private static void runOnSmallStack(Runnable body) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(null, () -> {
            try {
                body.run();
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "small-stack", STACK_BYTES);
        t.start();
        t.join();
        if (failure.get() instanceof AssertionError e) {
            throw e;
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
    }
}
