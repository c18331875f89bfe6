package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;
import dev.rseq4j.core.percpu.TimeSliceExtension;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * The locks' part of {@code ./rseq4j diagnose}, run by {@link PoolSelfTest} after the rings with the
 * same options and the same operations (a busy loop inside every critical section, slow paths forced
 * on random calls): threads (the {@code --threads} count) increment a plain {@code long} per region
 * under the lock, with a short busy loop while they hold it; one call in eight locks a random region by
 * index (from another CPU: the slow path), the others the current region. One line per structure:
 * <pre>
 *   op=PerCpuSpinLock               ops=N aborts=N slowPaths=N lost=0 overlaps=0 parks=N
 *   op=PerCpu.withCurrent           ops=N aborts=N slowPaths=N lost=0 overlaps=0 parks=N
 * </pre>
 * {@code ops} counts increments made; {@code lost} counts increments missing from the regions' totals
 * (two holders at once read the same value); {@code overlaps} counts takes that found another holder
 * inside (a plain per-region occupancy count), and unlocks that found the lock already freed by another
 * holder; {@code parks} counts waiters that parked.
 */
final class LockSelfTest {
    /** Busy-loop iterations while holding the lock: widens the window two holders would share. */
    static final int HOLD_LOOPS = 200;

    private LockSelfTest() {
    }

    /**
     * One hammer's figures; {@code sliceGrants} and {@code sliceYields} are the lock's time-slice
     * extension counts (see {@link PerCpuSpinLock.LockStats}): 0 on a kernel without the extension.
     */
    record Result(String structure, long ops, long aborts, long slowPaths, long lost, long overlaps, long parks,
                  long sliceGrants, long sliceYields) {
        @Override
        public String toString() {
            return String.format("op=%-28s ops=%d aborts=%d slowPaths=%d lost=%d overlaps=%d parks=%d sliceGrants=%d"
                    + " sliceYields=%d", structure, ops, aborts, slowPaths, lost, overlaps, parks, sliceGrants, sliceYields);
        }

        boolean ok() {
            return ops > 0 && lost == 0 && overlaps == 0;
        }
    }

    static List<Result> run(CpuIndexing index, int delay, int threads, long millis) {
        return List.of(hammer(PoolSelfTest.ops(index, delay, PerCpuStats.Kind.SPIN_LOCK), false, threads, millis, false),
                hammer(PoolSelfTest.ops(index, delay, PerCpuStats.Kind.SPIN_LOCK), true, threads, millis, false));
    }

    /** What the holders share, per region: the protected count and the occupancy check, 64 bytes apart. */
    static final class Shard {
        long count;
        int inside;
        long overlaps;
        @SuppressWarnings("unused")
        long p1, p2, p3, p4, p5;
    }

    /**
     * {@code threads} threads (virtual ones if {@code virtual}) increment their region's shard under
     * {@code ops}' lock for {@code millis} ms: through {@link PerCpuSpinLock#lock()} and
     * {@link PerCpuSpinLock#unlock} (and one call in eight {@code lock(random region)}), or through
     * {@link PerCpu#withCurrent} if {@code shards}.
     */
    static Result hammer(PerCpuOps ops, boolean shards, int threads, long millis, boolean virtual) {
        PerCpuSpinLock lock = new PerCpuSpinLock(ops, TimeSliceExtension.forThisProcess());
        PerCpu<Shard> perCpu = PerCpu.over(lock, r -> new Shard());
        Shard[] all = shards(perCpu);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> error = new AtomicReference<>();
        LongAdder released = new LongAdder();
        long[] made = new long[threads];
        SelfTestWorkers started = new SelfTestWorkers(threads, "rseq4j-lock-selftest", virtual, me -> {
            try {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                long n = 0;
                while (!stop.get()) {
                    if (shards) {
                        perCpu.withCurrent(LockSelfTest::increment);
                    } else {
                        int region;
                        if ((n & 7) == 7) {
                            region = random.nextInt(all.length);
                            lock.lock(region);
                        } else {
                            region = lock.lock();
                        }
                        increment(all[region]);
                        try {
                            lock.unlock(region);
                        } catch (IllegalMonitorStateException e) {
                            released.increment();     // another holder freed "our" lock: two held it
                        }
                    }
                    n++;
                }
                made[me] = n;
            } catch (Throwable e) {
                error.compareAndSet(null, e);
            }
        });
        started.go();
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stop.set(true);
        started.join();
        if (error.get() != null) {
            throw new IllegalStateException("a locking thread failed", error.get());
        }
        long total = 0;
        for (long n : made) {
            total += n;
        }
        long counted = perCpu.reduce(0L, (sum, s) -> sum + s.count);
        long overlaps = perCpu.reduce(0L, (sum, s) -> sum + s.overlaps) + released.sum();
        PerCpuSpinLock.LockStats held = lock.lockStats();
        return new Result(shards ? "PerCpu.withCurrent" : "PerCpuSpinLock", total, ops.stats().aborts(),
                ops.stats().slowPaths(), total - counted, overlaps, held.parks(), held.sliceGrants(), held.sliceYields());
    }

    /** Every region's shard, in region order: for threads that lock by index and then touch a shard. */
    static Shard[] shards(PerCpu<Shard> perCpu) {
        return perCpu.reduce(new ArrayList<Shard>(), (list, s) -> {
            list.add(s);
            return list;
        }).toArray(Shard[]::new);
    }

    /** The critical section: a plain read-modify-write, with a busy loop between the read and the write. */
    static Void increment(Shard s) {
        if (s.inside++ != 0) {
            s.overlaps++;
        }
        long v = s.count;
        for (int i = 0; i < HOLD_LOOPS; i++) {
            Thread.onSpinWait();
        }
        s.count = v + 1;
        s.inside--;
        return null;
    }
}
