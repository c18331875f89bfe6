package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpu;
import dev.rseq4j.collections.PerCpuSpinLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Per-CPU locks side by side with the usual ways to guard a small shared object, at 1, 2, 4 and 8
 * threads ({@code CounterReport --locks} runs them all and prints ns/op with ours / peer ratios).
 *
 * <p><b>update</b> ({@code update*}): every thread adds a value to a {@link Stats} (count, sum, max),
 * the value derived from a per-thread sequence ({@link Values}), through
 * <ul>
 *   <li>{@code PerCpu.withCurrent(value, (stats, v) -> ...)}: one {@code Stats} per CPU, each under
 *       its region's {@link PerCpuSpinLock} (ours; the overload that passes the value, so no lambda
 *       is allocated per call);</li>
 *   <li>{@code synchronized} on one shared {@code Stats};</li>
 *   <li>one {@link ReentrantLock} guarding one {@code Stats};</li>
 *   <li>{@code 2 x availableProcessors} {@code ReentrantLock}s, each guarding its own {@code Stats},
 *       striped by {@code Thread.threadId()} (the hand-written sharded design);</li>
 * </ul>
 * and, as a reference row, {@code updateSpinLockDirect}: what {@code withCurrent} does, written out
 * ({@code lock()}, {@code Stats[region].add}, {@code unlock(region)}), so the difference of the two
 * rows is the API's cost; and, as reference rows for an update that is only a count ({@code count*}), {@link LongAdder#increment}
 * and {@link AtomicLong#incrementAndGet}: the floor a lock-based update cannot reach, not a peer.
 *
 * <p><b>lockUnlock</b> ({@code lockUnlock*}): {@link PerCpuSpinLock#lock()} then {@code unlock(region)}
 * with nothing in between, beside {@code ReentrantLock.lock()/unlock()} of one shared lock.
 *
 * <p>{@code Stats} is padded to 128 bytes in every design, so that shards made one after the other
 * (ours by {@code PerCpu.of}'s factory, the striped ones in a loop) never share a cache line: the
 * figures compare the locks, not the heap layout. Unpadded, neighbouring shards on different CPUs
 * false-share in both sharded designs.
 *
 * <p>With more threads than CPUs, threads of one CPU take turns on its lock: a holder preempted
 * inside makes the others of that CPU park ({@link PerCpuSpinLock#lockStats()}), so the rows above
 * the CPU count measure the scheduler as much as the lock.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class LockBenchmarks {
    /** The shard every design updates: three longs, padded to 128 bytes (see the class comment). */
    public static final class Stats {
        long count, sum, max;
        long p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12;

        /** One sample; returns this, so that the benchmarks return something without boxing. */
        Stats add(long v) {
            count++;
            sum += v;
            if (v > max) {
                max = v;
            }
            return this;
        }
    }

    /** Each thread's sequence, from which the added values derive. */
    @State(Scope.Thread)
    public static class Values {
        long next;

        /** A value in [0, 65536), not monotonic (so {@code max} is not always written). */
        long next() {
            return (next++ * 0x9E3779B97F4A7C15L) >>> 48;
        }
    }

    /** One instance of each design, shared by all threads. */
    @State(Scope.Benchmark)
    public static class Guarded {
        PerCpu<Stats> perCpu;
        Stats monitor;
        ReentrantLock oneLock;
        Stats oneLocked;
        ReentrantLock[] stripeLocks;
        Stats[] stripes;
        LongAdder adder;
        AtomicLong atomic;
        PerCpuSpinLock spinLock;
        ReentrantLock reentrant;
        PerCpuSpinLock directLock;
        Stats[] direct;

        @Setup
        public void setUp() {
            perCpu = PerCpu.of(region -> new Stats());
            monitor = new Stats();
            oneLock = new ReentrantLock();
            oneLocked = new Stats();
            int n = 2 * Runtime.getRuntime().availableProcessors();
            stripeLocks = new ReentrantLock[n];
            stripes = new Stats[n];
            for (int i = 0; i < n; i++) {
                stripeLocks[i] = new ReentrantLock();
                stripes[i] = new Stats();
            }
            adder = new LongAdder();
            atomic = new AtomicLong();
            spinLock = new PerCpuSpinLock();
            reentrant = new ReentrantLock();
            directLock = new PerCpuSpinLock();
            direct = new Stats[directLock.regions()];
            for (int r = 0; r < direct.length; r++) {
                direct[r] = new Stats();
            }
        }
    }

    // ---------------------------------------------------------------- update

    /** The allocation-free form a user should write: the value passed, not captured. */
    @Benchmark
    public void updatePerCpu(Guarded g, Values v) {
        g.perCpu.withCurrent(v.next(), Stats::add);
    }

    /** Reference: {@link #updatePerCpu} written out over the lock, without a lambda. */
    @Benchmark
    public Stats updateSpinLockDirect(Guarded g, Values v) {
        long x = v.next();
        PerCpuSpinLock l = g.directLock;
        int region = l.lock();
        try {
            return g.direct[region].add(x);
        } finally {
            l.unlock(region);
        }
    }

    @Benchmark
    public Stats updateSynchronized(Guarded g, Values v) {
        long x = v.next();
        Stats s = g.monitor;
        synchronized (s) {
            return s.add(x);
        }
    }

    @Benchmark
    public Stats updateReentrantLock(Guarded g, Values v) {
        long x = v.next();
        ReentrantLock l = g.oneLock;
        l.lock();
        try {
            return g.oneLocked.add(x);
        } finally {
            l.unlock();
        }
    }

    @Benchmark
    public Stats updateStriped(Guarded g, Values v) {
        long x = v.next();
        int i = (int) (Thread.currentThread().threadId() % g.stripes.length);
        ReentrantLock l = g.stripeLocks[i];
        l.lock();
        try {
            return g.stripes[i].add(x);
        } finally {
            l.unlock();
        }
    }

    /** Reference: an update that is only a count. */
    @Benchmark
    public void countLongAdder(Guarded g) {
        g.adder.increment();
    }

    /** Reference: an update that is only a count. */
    @Benchmark
    public long countAtomicLong(Guarded g) {
        return g.atomic.incrementAndGet();
    }

    // ---------------------------------------------------------------- lockUnlock

    @Benchmark
    public void lockUnlockPerCpuSpinLock(Guarded g) {
        PerCpuSpinLock l = g.spinLock;
        int region = l.lock();
        l.unlock(region);
    }

    @Benchmark
    public void lockUnlockReentrantLock(Guarded g) {
        ReentrantLock l = g.reentrant;
        l.lock();
        l.unlock();
    }
}
