package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.testing.Forked;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.PerCpuOps;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class PerCpuCounterTest {
    private static final int THREADS = 8;

    @Test
    void longAdderContract() {
        PerCpuCounter c = new PerCpuCounter();
        assertEquals(0, c.sum());
        c.increment();
        c.add(41);
        c.decrement();
        c.add(-3);
        assertEquals(38, c.sum());
        assertEquals(38L, c.longValue());
        assertEquals(38, c.intValue());
        assertEquals(38f, c.floatValue());
        assertEquals(38d, c.doubleValue());
        assertEquals("38", c.toString());
        assertEquals(38, c.sumThenReset());
        assertEquals(0, c.sum());
        c.add(Long.MAX_VALUE);
        c.add(2);
        assertEquals(Long.MIN_VALUE + 1, c.sum(), "wraps like LongAdder");
        c.reset();
        assertEquals(0, c.sum());
        c.add(1L << 40);
        assertEquals(0, c.intValue(), "narrowing conversion");
    }

    @Test
    void serializesAsItsSum() throws Exception {
        PerCpuCounter c = new PerCpuCounter();
        c.add(123);
        var bytes = new java.io.ByteArrayOutputStream();
        try (var out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(c);
        }
        try (var in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
            PerCpuCounter copy = (PerCpuCounter) in.readObject();
            assertEquals(123, copy.sum());
            copy.increment();
            assertEquals(124, copy.sum());
            assertEquals(123, c.sum(), "a copy has its own cell");
        }
    }

    /** Runs {@code perThread} increments from {@code threads} platform threads; returns the expected total. */
    static long hammer(PerCpuCounter c, int threads, int perThread) {
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            ts.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < perThread; i++) {
                    c.increment();
                }
            }));
        }
        ts.forEach(PerCpuCounterTest::join);
        return (long) threads * perThread;
    }

    @Test
    void exactWithEightThreadsOnTwoCores() {
        PerCpuCounter c = new PerCpuCounter();
        assertEquals(hammer(c, THREADS, 1_000_000), c.sum());
    }

    private static PerCpuCounter counter(PerCpuOps ops) {
        return new PerCpuCounter(new PerCpuArena(ops));
    }

    /**
     * The protocol's hardest case: one operation in 64 forced onto the slow path (guard, membarrier,
     * plain update) on a random CPU's cell, racing fast paths that spin inside their critical section.
     */
    @Test
    void forcedSlowPathsRacingDelayedFastPathsLoseNothing() {
        for (CpuIndexing index : CpuIndexing.values()) {
            RseqRuntime rt = RseqRuntime.get();
            assumeTrue(rt.rseqMode());
            if (index == CpuIndexing.CONCURRENCY_ID && !rt.status().mmCid()) {
                continue;
            }
            PerCpuOps ops = OpsVariant.of(index).withDelay(2_000).forcingSlowPathEvery(64).create();
            PerCpuCounter c = counter(ops);
            long expected = hammer(c, THREADS, 100_000);
            OperationStats s = c.stats();
            System.out.printf("forced-fallback %s: ops=%d fastCommits=%d slowPaths=%d aborts=%d guarded=%d sum=%d%n",
                    index, expected, expected - s.slowPaths(), s.slowPaths(), s.aborts(), s.guarded(), c.sum());
            assertEquals(expected, c.sum(), s.toString());
            assertTrue(s.slowPaths() > 0 && s.aborts() > 0, "both paths must have run: " + s);
        }
    }

    /** Negative control: the same counter on stubs that never arm the sequence must lose updates. */
    @Test
    void negativeControlLosesUpdates() {
        RseqRuntime rt = RseqRuntime.get();
        assumeTrue(rt.rseqMode());
        PerCpuOps ops = OpsVariant.of(CpuIndexing.CPU).withDelay(2_000).nonRestartable().create();
        PerCpuCounter c = counter(ops);
        long expected = hammer(c, THREADS, 100_000);
        System.out.printf("negative-control: expected=%d sum=%d lost=%d%n", expected, c.sum(), expected - c.sum());
        assertTrue(c.sum() < expected, "lost updates must be visible: " + c.sum() + " of " + expected);
    }

    /** Every update is counted by exactly one sumThenReset, however they interleave. */
    @Test
    void sumThenResetNeverLosesAnUpdate() {
        PerCpuCounter c = new PerCpuCounter();
        AtomicLong drained = new AtomicLong();
        Thread drainer = Thread.ofPlatform().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                drained.addAndGet(c.sumThenReset());
            }
        });
        long expected = hammer(c, 4, 500_000);
        drainer.interrupt();
        join(drainer);
        assertEquals(expected, drained.get() + c.sum());
    }

    @Test
    void incrementsOnlySumNeverGoesDown() {
        PerCpuCounter c = new PerCpuCounter();
        Thread writer = Thread.ofPlatform().start(() -> hammer(c, 3, 300_000));
        long last = 0;
        while (writer.isAlive()) {
            long now = c.sum();
            assertTrue(now >= last, now + " < " + last);
            last = now;
        }
        join(writer);
        assertEquals(900_000, c.sum());
    }

    @Test
    void exactWithOneHundredThousandVirtualThreads() {
        PerCpuCounter c = new PerCpuCounter();
        try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < 100_000; t++) {
                executor.submit(() -> {
                    for (int i = 0; i < 10; i++) {
                        c.increment();
                        if (i == 5) {
                            Thread.yield();
                        }
                    }
                });
            }
        }
        assertEquals(1_000_000, c.sum());
    }

    @Test
    void lockModeGivesTheSameResults() {
        PerCpuOps lock = OpsVariant.lockMode();
        PerCpuCounter c = counter(lock);
        assertEquals(hammer(c, THREADS, 200_000), c.sum());
        assertTrue(!c.stats().restartable() && c.stats().aborts() == 0);
        assertEquals(1_600_000, c.sumThenReset());
    }

    @Test
    void forkedLockModeAndSelfRegistration() throws Exception {
        Forked.Result lock = Forked.run(CounterSmoke.class, Map.of(), List.of("-Drseq4j.mode=lock"));
        assertEquals(0, lock.exitCode(), lock.output());
        assertTrue(lock.output().contains("mode=LOCK") && lock.output().contains("exact=true"), lock.output());
        assumeTrue(System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64"));
        Forked.Result self = Forked.run(CounterSmoke.class, Map.of("GLIBC_TUNABLES", "glibc.pthread.rseq=0"), List.of());
        assertEquals(0, self.exitCode(), self.output());
        assertTrue(self.output().contains("registrant=RSEQ4J") && self.output().contains("exact=true"), self.output());
    }

    /** A kernel without mm_cid (feature size capped at 20): the documented exception, every time. */
    @Test
    void concurrencyIdUnavailableThrowsUnsupportedOperationEveryTime() throws Exception {
        assumeTrue(RseqRuntime.get().rseqMode(), "RSEQ mode: in lock mode mm_cid counters work");
        Forked.Result r = Forked.run(ConcurrencyIdUnavailableProbe.class, Map.of(),
                List.of("-D" + RseqRuntime.FEATURE_SIZE_LIMIT_PROPERTY + "=20"));
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("mode=RSEQ featureSize=20 mmCid=false"), r.output());
        assertTrue(r.output().contains("attempt1=UnsupportedOperationException: mm_cid indexing needs Linux 6.3+"), r.output());
        assertTrue(r.output().contains("attempt2=UnsupportedOperationException: mm_cid indexing needs Linux 6.3+"), r.output());
        assertTrue(r.output().contains("cpuCounter=3"), r.output());
    }

    @Test
    void badInput() {
        assertThrows(NullPointerException.class, () -> PerCpuCounter.builder().arena(null));
        NullPointerException e = assertThrows(NullPointerException.class, () -> new PerCpuArena((CpuIndexing) null));
        assertTrue(e.getMessage().contains("indexing"), e.getMessage());
        assertThrows(NullPointerException.class, () -> new PerCpuCounter((PerCpuArena) null));
        assertThrows(UnsupportedOperationException.class, () -> PerCpuArena.shared().close());
    }

    @Test
    void concurrencyIdIndexedCounter() {
        RseqRuntime rt = RseqRuntime.get();
        if (rt.rseqMode() && !rt.status().mmCid()) {
            assertThrows(UnsupportedOperationException.class, () -> PerCpuCounter.builder().concurrencyIdIndexed().build());
            return;
        }
        PerCpuCounter c = PerCpuCounter.builder().concurrencyIdIndexed().build();
        assertEquals(hammer(c, THREADS, 200_000), c.sum());
    }

    static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
