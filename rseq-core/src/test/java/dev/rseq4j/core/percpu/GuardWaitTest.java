package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.testing.Forked;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Waiters for a held guard must not burn a CPU: while every guard of an area is held for half a
 * second, four threads whose operations need a guard use almost no CPU time, then finish exactly.
 * (Before waiters parked they spun with {@code Thread.yield()} and used the machine's CPUs meanwhile.)
 */
class GuardWaitTest {
    private static final long HOLD_MILLIS = 500;
    private static final int WAITERS = 4;
    private static final int OPS_PER_WAITER = 1_000;

    @Test
    void lockModeWaitersParkWhileAGuardIsHeld() throws Exception {
        assertWaitersPark(OpsVariant.lockMode());
    }

    @Test
    void slowPathWaitersParkWhileAGuardIsHeld() throws Exception {
        RseqRuntime rt = RseqRuntime.get();
        assumeTrue(rt.rseqMode(), "needs the stubs");
        // Every operation takes the slow path on a random region: all of them need a held guard.
        assertWaitersPark(OpsVariant.of(CpuIndexing.CPU).forcingSlowPathEvery(1).create());
    }

    /** 64 virtual threads on 2 carriers, some CPU-bound, the others on slow paths and sumThenReset. */
    @Test
    void virtualThreadsOnTwoCarriersFinishExactly() throws Exception {
        Forked.Result r = Forked.run(VirtualThreadGuardProbe.class, Map.of(),
                List.of("-Djdk.virtualThreadScheduler.parallelism=2", "-Djdk.virtualThreadScheduler.maxPoolSize=2"));
        System.out.print(r.output());
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("ok=true"), r.output());
    }

    private static void assertWaitersPark(PerCpuOps ops) throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/thread-self/stat")), "no /proc/thread-self/stat");
        PerCpuArea area = PerCpuArea.forPossibleCpus(ops.indexing(), 64);
        for (int r = 0; r < area.regions(); r++) {
            assertTrue(area.casGuard(r));            // the test holds every guard
        }
        long waitsBefore = ops.stats().guardWaits();
        CountDownLatch started = new CountDownLatch(WAITERS);
        Path[] stats = new Path[WAITERS];
        List<Thread> waiters = new ArrayList<>();
        for (int t = 0; t < WAITERS; t++) {
            int id = t;
            waiters.add(Thread.ofPlatform().start(() -> {
                try {
                    stats[id] = Path.of("/proc/thread-self").toRealPath().resolve("stat");   // /proc/PID/task/TID
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                started.countDown();
                for (int i = 0; i < OPS_PER_WAITER; i++) {
                    ops.add(area, 8, 1);
                }
            }));
        }
        started.await();
        Thread.sleep(50);                            // let every waiter reach the held guard
        long before = cpuMillis(stats);
        Thread.sleep(HOLD_MILLIS);
        long heldCpuMillis = cpuMillis(stats) - before;   // CPU the waiters used while the guards were held
        for (int r = 0; r < area.regions(); r++) {
            area.releaseGuard(r);
        }
        for (Thread w : waiters) {
            w.join();
        }
        long sum = 0;
        for (int r = 0; r < area.regions(); r++) {
            sum += area.region(r).get(JAVA_LONG, 8);
        }
        System.out.printf("guard wait: %d waiters held off %d ms used %d ms of CPU in all meanwhile; guardWaits=%d sum=%d%n",
                WAITERS, HOLD_MILLIS, heldCpuMillis, ops.stats().guardWaits() - waitsBefore, sum);
        assertEquals((long) WAITERS * OPS_PER_WAITER, sum);
        assertTrue(ops.stats().guardWaits() - waitsBefore >= WAITERS, "every waiter must have waited");
        // Spinning waiters would use the machine's CPUs for the whole hold; parked ones a few milliseconds.
        assertTrue(heldCpuMillis < HOLD_MILLIS / 5, "waiters burned " + heldCpuMillis + " ms of CPU");
    }

    /**
     * User + system CPU time of the threads whose {@code /proc/PID/task/TID/stat} files are given
     * (fields 14 and 15, in clock ticks of 10 ms), without the java.management module, which the
     * core module does not read.
     */
    private static long cpuMillis(Path[] stats) throws IOException {
        long ticks = 0;
        for (Path p : stats) {
            String stat = Files.readString(p);
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");   // f[0] is field 3 (state)
            ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
        }
        return ticks * 10;
    }
}
