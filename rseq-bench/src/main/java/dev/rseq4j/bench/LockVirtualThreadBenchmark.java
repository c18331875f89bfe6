package dev.rseq4j.bench;

import dev.rseq4j.bench.LockBenchmarks.Stats;
import dev.rseq4j.collections.PerCpu;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code PerCpu.withCurrent} beside the striped design from {@value #THREADS} virtual threads per
 * invocation, each making {@value #UPDATES} updates of a {@link Stats}: the shape where striping by
 * thread breaks down. Striped by {@code threadId() % stripes} (2 x available processors, as in
 * {@link LockBenchmarks}), two running virtual threads collide on a stripe whenever their ids do modulo
 * the stripe count, whatever the CPUs they run on; ours picks the lock of the CPU a thread runs on, so
 * threads on different carriers never share one.
 *
 * <p>ns per update ({@link OperationsPerInvocation}), thread start and join included in both rows (the
 * same cost: the same executor, the same number of threads). The tear-down checks that every update
 * was counted, so a lost update voids the run.
 *
 * <pre>{@code
 * java -cp rseq-bench/target/benchmarks.jar org.openjdk.jmh.Main LockVirtualThreadBenchmark
 * }</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(LockVirtualThreadBenchmark.THREADS * LockVirtualThreadBenchmark.UPDATES)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class LockVirtualThreadBenchmark {
    /** Virtual threads per invocation. */
    static final int THREADS = 10_000;
    /** Updates per virtual thread. */
    static final int UPDATES = 50;

    @Param({"perCpu", "striped"})
    String design;

    PerCpu<Stats> perCpu;
    ReentrantLock[] stripeLocks;
    Stats[] stripes;
    long invocations;

    @Setup(Level.Trial)
    public void setUp() {
        perCpu = PerCpu.of(region -> new Stats());
        int n = 2 * Runtime.getRuntime().availableProcessors();
        stripeLocks = new ReentrantLock[n];
        stripes = new Stats[n];
        for (int i = 0; i < n; i++) {
            stripeLocks[i] = new ReentrantLock();
            stripes[i] = new Stats();
        }
    }

    @Benchmark
    public void updates() {
        boolean ours = design.equals("perCpu");
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < THREADS; t++) {
                long seed = t;
                ex.execute(ours ? () -> updatePerCpu(seed) : () -> updateStriped(seed));
            }
        }   // close() waits for every thread
        invocations++;
    }

    private void updatePerCpu(long seed) {
        for (int i = 0; i < UPDATES; i++) {
            perCpu.withCurrent(value(seed, i), Stats::add);
        }
    }

    private void updateStriped(long seed) {
        int s = (int) (Thread.currentThread().threadId() % stripes.length);
        for (int i = 0; i < UPDATES; i++) {
            ReentrantLock l = stripeLocks[s];
            l.lock();
            try {
                stripes[s].add(value(seed, i));
            } finally {
                l.unlock();
            }
        }
    }

    private static long value(long seed, int i) {
        return ((seed * UPDATES + i) * 0x9E3779B97F4A7C15L) >>> 48;
    }

    /** Every update counted exactly once: else the figure is void. */
    @TearDown(Level.Iteration)
    public void check() {
        long counted = 0;
        if (design.equals("perCpu")) {
            counted = perCpu.reduce(0L, (sum, s) -> sum + s.count);
        } else {
            for (int i = 0; i < stripes.length; i++) {
                stripeLocks[i].lock();
                try {
                    counted += stripes[i].count;
                } finally {
                    stripeLocks[i].unlock();
                }
            }
        }
        long want = invocations * THREADS * UPDATES;
        if (counted != want) {
            throw new IllegalStateException(design + ": " + counted + " updates counted, expected " + want);
        }
    }
}
