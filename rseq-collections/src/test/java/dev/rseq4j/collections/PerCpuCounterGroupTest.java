package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuOps;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link PerCpuCounter.Group}: each member's sum exact under concurrent group updates (production,
 * forced slow paths racing delayed fast paths, lock mode, virtual threads), a negative control that
 * loses without the restartable sequence, and the API's bounds.
 */
class PerCpuCounterGroupTest {
    private static final int THREADS = 8;

    /** {@code perThread} group updates (1, 2, 3) from {@code threads} platform threads; returns the updates. */
    private static long hammer(PerCpuCounter.Group g, int threads, int perThread) {
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            ts.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < perThread; i++) {
                    g.add(1, 2, 3);
                }
            }));
        }
        ts.forEach(PerCpuCounterTest::join);
        return (long) threads * perThread;
    }

    private static void assertSums(PerCpuCounter.Group g, long n) {
        assertEquals(n, g.counter(0).sum(), g.toString());
        assertEquals(2 * n, g.counter(1).sum(), g.toString());
        assertEquals(3 * n, g.counter(2).sum(), g.toString());
    }

    private static PerCpuCounter.Group group(PerCpuOps ops) {
        return PerCpuCounter.builder().arena(new PerCpuArena(ops)).buildGroup(3);
    }

    @Test
    void exactWithEightThreadsOnTwoCores() {
        PerCpuCounter.Group g = PerCpuCounter.group(3);
        assertSums(g, hammer(g, THREADS, 500_000));
    }

    @Test
    void forcedSlowPathsRacingDelayedFastPathsLoseNothing() {
        RseqRuntime rt = RseqRuntime.get();
        assumeTrue(rt.rseqMode());
        for (CpuIndexing index : CpuIndexing.values()) {
            if (index == CpuIndexing.CONCURRENCY_ID && !rt.status().mmCid()) {
                continue;
            }
            PerCpuCounter.Group g = group(OpsVariant.of(index).withDelay(2_000).forcingSlowPathEvery(64).create());
            long n = hammer(g, THREADS, 50_000);
            OperationStats s = g.counter(0).stats();
            System.out.printf("group forced-fallback %s: updates=%d slowPaths=%d aborts=%d sums=%s%n",
                    index, n, s.slowPaths(), s.aborts(), g);
            assertSums(g, n);
            assertTrue(s.slowPaths() > 0 && s.aborts() > 0, "both paths must have run: " + s);
        }
    }

    /** Negative control: the same group on stubs that never arm the sequence must lose updates. */
    @Test
    void negativeControlLosesUpdates() {
        assumeTrue(RseqRuntime.get().rseqMode());
        PerCpuCounter.Group g = group(OpsVariant.of(CpuIndexing.CPU).withDelay(2_000).nonRestartable().create());
        long n = hammer(g, THREADS, 50_000);
        long lost = 6 * n - g.counter(0).sum() - g.counter(1).sum() - g.counter(2).sum();
        System.out.println("group negative control: updates=" + n + " lost=" + lost);
        assertTrue(lost > 0, "without rseq, preemption between load and store must lose updates: " + g);
    }

    @Test
    void lockModeGivesTheSameResults() {
        PerCpuCounter.Group g = group(OpsVariant.lockMode());
        assertSums(g, hammer(g, 4, 50_000));
    }

    @Test
    void tenThousandVirtualThreads() {
        PerCpuCounter.Group g = PerCpuCounter.group(3);
        try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < 10_000; t++) {
                executor.submit(() -> {
                    for (int i = 0; i < 100; i++) {
                        g.add(1, 2, 3);
                        if (i % 10 == 0) {
                            Thread.yield();      // unmount mid-run: the next update may run on another carrier
                        }
                    }
                });
            }
        }
        assertSums(g, 1_000_000);
    }

    @Test
    void membersAreCountersOfTheirOwn() {
        PerCpuCounter.Group g = PerCpuCounter.group(4);
        assertEquals(4, g.size());
        assertSame(g.counter(2), g.counter(2));
        g.add(5, 7);                    // counters 0 and 1 only (ints: still the two-value add, not addTo)
        g.add(1, 1, 1);
        g.addTo(3, 40);
        g.counter(3).increment();
        assertEquals("[6, 8, 1, 41]", g.toString());
        assertEquals(8, g.counter(1).sumThenReset());
        assertEquals("[6, 0, 1, 41]", g.toString(), "a member's reset leaves the others");
        assertEquals(41L, g.counter(3).longValue());
    }

    @Test
    void boundsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> PerCpuCounter.group(0));
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> PerCpuCounter.group(9));
        assertTrue(big.getMessage().contains("size must be in [1, 8], was 9"), big.getMessage());
        PerCpuCounter.Group two = PerCpuCounter.group(2);
        IndexOutOfBoundsException arity = assertThrows(IndexOutOfBoundsException.class, () -> two.add(1, 2, 3));
        assertTrue(arity.getMessage().contains("counter 2 out of bounds for a group of 2"), arity.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> PerCpuCounter.group(1).add(1, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> two.addTo(2, 1L));
        assertThrows(IndexOutOfBoundsException.class, () -> two.addTo(-1, 1L));
        assertThrows(IndexOutOfBoundsException.class, () -> two.counter(2));
        assertEquals("[0, 0]", two.toString(), "nothing written by a refused call");
        assertThrows(NullPointerException.class, () -> PerCpuCounter.builder().arena(null));
    }
}
