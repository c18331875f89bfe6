package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;

import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.function.ObjLongConsumer;

/**
 * One ordinary object per CPU (per region), each guarded by its region's {@link PerCpuSpinLock}: many
 * threads update "their" CPU's object ({@link #withCurrent}), and a reader visits all of them
 * ({@link #forEach}, {@link #reduce}). Replaces {@code synchronized} on one object, one
 * {@code ReentrantLock}, or locks striped by thread hash, where the update is something bigger than
 * one counter: a {@code HashMap} of counts, a histogram, a buffer, a statistics record.
 *
 * <pre>{@code
 * PerCpu<long[]> histogram = PerCpu.of(region -> new long[64]);
 * histogram.withCurrent(latencyNanos, (h, v) -> h[63 - Long.numberOfLeadingZeros(v)]++);   // hot path
 * long[] total = histogram.reduce(new long[64], (sum, h) -> {                    // a report
 *     for (int i = 0; i < 64; i++) sum[i] += h[i];
 *     return sum;
 * });
 * }</pre>
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Each object is touched only under its region's lock, by one thread at a time: the objects
 *       need no thread-safety of their own. Everything an action did to an object happens-before
 *       the next action on that object (the lock's unlock-to-lock ordering).</li>
 *   <li>An action that throws releases the lock; the exception propagates unchanged.</li>
 *   <li>{@link #forEach} and {@link #reduce} take one region's lock at a time, in index order: each
 *       object is seen consistently, but the whole is not an atomic snapshot (updates on other
 *       regions go on meanwhile). They cost a system call per region whose CPU is not the caller's:
 *       for reports, not for hot paths.</li>
 *   <li>Actions must not call this {@code PerCpu} again (not reentrant): a nested call that lands on
 *       a region the thread holds throws {@link IllegalMonitorStateException}; one that lands on
 *       another region runs. Keep actions short; an action that blocks (I/O, sleep, a lock) makes
 *       the other threads of that region wait, parked (virtual threads unmount), and no one else.</li>
 *   <li>{@code T} must not be mutated through references kept outside actions.</li>
 *   <li>The objects are the factory's: small objects made one after the other may share a cache
 *       line, and then threads of different CPUs updating them slow each other down (false
 *       sharing). Make hot objects at least 64 bytes (the histogram above is 512), or pad them.</li>
 * </ul>
 *
 * <p>Thread-safety: every method may be called by any thread, platform or virtual. Memory: one
 * {@code T} and one 64-byte lock line per possible CPU (or concurrency id), however many threads.
 */
public final class PerCpu<T> {
    private final PerCpuSpinLock lock;
    private final Object[] objects;

    private PerCpu(PerCpuSpinLock lock, IntFunction<? extends T> factory) {
        Objects.requireNonNull(factory, "factory must not be null");
        this.lock = lock;
        this.objects = new Object[lock.regions()];
        for (int r = 0; r < objects.length; r++) {
            objects[r] = Objects.requireNonNull(factory.apply(r), "factory returned null for region " + r);
        }
    }

    /**
     * One object per possible CPU, made by {@code factory} (called once per region index, now, on this
     * thread), indexed by CPU number.
     *
     * @throws NullPointerException if {@code factory} is null or returns null
     */
    public static <T> PerCpu<T> of(IntFunction<? extends T> factory) {
        return new PerCpu<>(new PerCpuSpinLock(), factory);
    }

    /**
     * As {@link #of(IntFunction)}, with regions indexed by {@code indexing}: concurrency ids
     * ({@link CpuIndexing#CONCURRENCY_ID}, Linux 6.3+) keep a process with few running threads on the
     * first few objects.
     *
     * @throws UnsupportedOperationException for concurrency-id indexing where rseq works but the
     *         kernel has no mm_cid
     */
    public static <T> PerCpu<T> of(CpuIndexing indexing, IntFunction<? extends T> factory) {
        return new PerCpu<>(PerCpuSpinLock.builder().indexing(indexing).build(), factory);
    }

    /** For tests: objects guarded by {@code lock}. */
    static <T> PerCpu<T> over(PerCpuSpinLock lock, IntFunction<? extends T> factory) {
        return new PerCpu<>(Objects.requireNonNull(lock, "lock must not be null"), factory);
    }

    /**
     * Runs {@code action} on the current CPU's object under that region's lock, and returns its result.
     *
     * @throws NullPointerException if {@code action} is null (nothing is locked)
     */
    public <R> R withCurrent(Function<? super T, ? extends R> action) {
        Objects.requireNonNull(action, "action must not be null");
        int region = lock.lock();
        try {
            return action.apply(object(region));
        } finally {
            lock.unlock(region);
        }
    }

    /**
     * Runs {@code update} on the current CPU's object and {@code value} under that region's lock: the
     * same as {@link #withCurrent(Function)}, for the common "add this value" update, without
     * capturing it in a lambda (a capturing lambda is a new object per call unless the JIT removes
     * it): {@code histogram.withCurrent(nanos, (h, v) -> h[bucket(v)]++)}.
     *
     * @throws NullPointerException if {@code update} is null (nothing is locked)
     */
    public void withCurrent(long value, ObjLongConsumer<? super T> update) {
        Objects.requireNonNull(update, "update must not be null");
        int region = lock.lock();
        try {
            update.accept(object(region), value);
        } finally {
            lock.unlock(region);
        }
    }

    /** Runs {@code action} on every region's object, in index order, each under its lock. */
    public void forEach(Consumer<? super T> action) {
        Objects.requireNonNull(action, "action must not be null");
        for (int r = 0; r < objects.length; r++) {
            lock.lock(r);
            try {
                action.accept(object(r));
            } finally {
                lock.unlock(r);
            }
        }
    }

    /**
     * Folds every region's object into {@code identity}, in index order, each under its lock:
     * {@code result = accumulator(result, object)}. Not an atomic snapshot (see the class comment).
     * The accumulator must not keep a reference to the object.
     */
    public <R> R reduce(R identity, BiFunction<? super R, ? super T, ? extends R> accumulator) {
        Objects.requireNonNull(accumulator, "accumulator must not be null");
        R result = identity;
        for (int r = 0; r < objects.length; r++) {
            lock.lock(r);
            try {
                result = accumulator.apply(result, object(r));
            } finally {
                lock.unlock(r);
            }
        }
        return result;
    }

    /** The number of objects: one per possible CPU (or concurrency id). */
    public int regions() {
        return objects.length;
    }

    /** The counts of the locks' rare events (contended takes, parks, time-slice grants). */
    public PerCpuSpinLock.LockStats lockStats() {
        return lock.lockStats();
    }

    /** Counts of the core's rare events (aborts, slow paths) of the locks. */
    public OperationStats stats() {
        return lock.stats();
    }

    @SuppressWarnings("unchecked")
    private T object(int region) {
        return (T) objects[region];
    }

    @Override
    public String toString() {
        return "PerCpu[regions=" + objects.length + ", " + lock.lockStats() + "]";
    }
}
