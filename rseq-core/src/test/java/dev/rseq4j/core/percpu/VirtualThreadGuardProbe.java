package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.runtime.RseqRuntime;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Run by {@link GuardWaitTest} in a JVM with two carrier threads: 64 virtual threads, a quarter of
 * them CPU-bound (they never block, so they hold carriers), the others adding through the slow path
 * on random regions or taking every guard with sumThenReset. Everything must finish well within the
 * timeout, and the sums taken plus what remains must equal the adds. Prints {@code ok=true} and
 * exits 0, or exits 1.
 */
public final class VirtualThreadGuardProbe {
    private static final int THREADS = 64;
    private static final int ADDS = 2_000;
    private static final int RESETS = 100;

    public static void main(String[] args) throws Exception {
        RseqRuntime rt = RseqRuntime.get();
        boolean ok = true;
        for (String mode : new String[] {"lock", "slowpath"}) {
            if (mode.equals("slowpath") && !rt.rseqMode()) {
                continue;
            }
            PerCpuOps ops = mode.equals("lock") ? OpsVariant.lockMode()
                    : OpsVariant.of(CpuIndexing.CPU).forcingSlowPathEvery(1).create();
            ok &= run(mode, ops);
        }
        System.out.println("ok=" + ok);
        System.exit(ok ? 0 : 1);
    }

    private static boolean run(String mode, PerCpuOps ops) throws InterruptedException {
        PerCpuArea area = PerCpuArea.forPossibleCpus(ops.indexing(), 64);
        LongAdder taken = new LongAdder();
        LongAdder adders = new LongAdder();
        long start = System.nanoTime();
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        for (int t = 0; t < THREADS; t++) {
            int kind = t % 4;
            executor.submit(() -> {
                if (kind == 0) {                       // CPU-bound: holds a carrier for ~100 ms, never blocks
                    long end = System.nanoTime() + 100_000_000L;
                    long x = 0;
                    while (System.nanoTime() < end) {
                        x += x * 31 + 1;
                    }
                    return x;
                }
                if (kind == 1) {                       // takes every guard, again and again
                    for (int i = 0; i < RESETS; i++) {
                        taken.add(ops.sumThenReset(area, 8));
                    }
                    return 0L;
                }
                adders.increment();
                for (int i = 0; i < ADDS; i++) {
                    ops.add(area, 8, 1);
                }
                return 0L;
            });
        }
        executor.shutdown();
        boolean finished = executor.awaitTermination(60, TimeUnit.SECONDS);
        long millis = (System.nanoTime() - start) / 1_000_000;
        long remaining = 0;
        for (int r = 0; r < area.regions(); r++) {
            remaining += area.region(r).get(JAVA_LONG, 8);
        }
        long expected = adders.sum() * ADDS;
        boolean exact = finished && taken.sum() + remaining == expected;
        System.out.printf("%s: %d virtual threads on 2 carriers finished=%s in %d ms; taken=%d remaining=%d expected=%d "
                        + "exact=%s guardWaits=%d%n", mode, THREADS, finished, millis, taken.sum(), remaining, expected,
                exact, ops.stats().guardWaits());
        return exact;
    }
}
