package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.codegen.IndexSource;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Waiters for a held guard must not burn a CPU: while every guard of an area is held for half a
 * second, four threads whose operations need a guard use almost no CPU time, then finish exactly.
 * (Before waiters parked they spun with {@code Thread.yield()}, about one CPU-second between them.)
 */
class GuardWaitTest {
    private static final long HOLD_MILLIS = 500;
    private static final int WAITERS = 4;
    private static final int OPS_PER_WAITER = 1_000;

    @Test
    void lockModeWaitersParkWhileAGuardIsHeld() throws Exception {
        assertWaitersPark(GuardedPerCpuOps.lockMode());
    }

    @Test
    void slowPathWaitersParkWhileAGuardIsHeld() throws Exception {
        RseqRuntime rt = RseqRuntime.get();
        assumeTrue(rt.rseqMode(), "needs the stubs");
        // Every operation takes the slow path on a random region: all of them need a held guard.
        assertWaitersPark(GuardedPerCpuOps.withOptions(rt.productionOptions(IndexSource.CPU_ID),
                new GuardedPerCpuOps.TestHooks(1, false)));
    }

    private static void assertWaitersPark(PerCpuOps ops) throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/thread-self/stat")), "no /proc/thread-self/stat");
        PerCpuArea area = PerCpuArea.forPossibleCpus(ops.indexing(), 64);
        for (int r = 0; r < area.regions(); r++) {
            assertTrue(area.casGuard(r));            // the test holds every guard
        }
        long waitsBefore = ops.stats().guardWaits();
        CountDownLatch started = new CountDownLatch(WAITERS);
        long[] cpuMillis = new long[WAITERS];
        List<Thread> waiters = new ArrayList<>();
        for (int t = 0; t < WAITERS; t++) {
            int id = t;
            waiters.add(Thread.ofPlatform().start(() -> {
                started.countDown();
                for (int i = 0; i < OPS_PER_WAITER; i++) {
                    ops.add(area, 8, 1);
                }
                cpuMillis[id] = threadCpuMillis();
            }));
        }
        started.await();
        Thread.sleep(HOLD_MILLIS);
        for (int r = 0; r < area.regions(); r++) {
            area.releaseGuard(r);
        }
        for (Thread w : waiters) {
            w.join();
        }
        long totalCpuMillis = 0;
        for (long n : cpuMillis) {
            totalCpuMillis += n;
        }
        long sum = 0;
        for (int r = 0; r < area.regions(); r++) {
            sum += area.region(r).get(JAVA_LONG, 8);
        }
        System.out.printf("guard wait: %d waiters held off %d ms used %d ms of CPU in all; guardWaits=%d sum=%d%n",
                WAITERS, HOLD_MILLIS, totalCpuMillis, ops.stats().guardWaits() - waitsBefore, sum);
        assertEquals((long) WAITERS * OPS_PER_WAITER, sum);
        assertTrue(ops.stats().guardWaits() - waitsBefore >= WAITERS, "every waiter must have waited");
        // A spinning waiter would use about HOLD_MILLIS each; parked ones use a few milliseconds.
        assertTrue(totalCpuMillis < HOLD_MILLIS / 2, "waiters burned " + totalCpuMillis + " ms of CPU");
    }

    /**
     * The calling thread's user + system CPU time from {@code /proc/thread-self/stat} (fields 14 and
     * 15, in clock ticks of 10 ms), without the java.management module, which the core does not read.
     */
    private static long threadCpuMillis() {
        try {
            String stat = Files.readString(Path.of("/proc/thread-self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");   // f[0] is field 3 (state)
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
