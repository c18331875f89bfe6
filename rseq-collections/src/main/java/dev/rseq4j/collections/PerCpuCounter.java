package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.collections.internal.WordArena;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;

import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.util.Objects;

/**
 * A sum of {@code long} values that many threads update, like {@link java.util.concurrent.atomic.LongAdder},
 * with one cell per CPU instead of per contended thread.
 *
 * <p>Same contract as {@code LongAdder}: {@link #add} and friends are atomic and never lose an update;
 * {@link #sum} is <em>not</em> an atomic snapshot (updates that run concurrently with it may or may not
 * be counted), but without concurrent updates it is exact. What differs:
 * <ul>
 *   <li>An update is one plain add and one plain store in a restartable sequence on the CPU the
 *       thread runs on: no CAS, no cache line shared between CPUs, no rehashing. Where rseq is
 *       unavailable (see {@code Rseq.status()}) updates take a per-CPU lock instead, with the same results.</li>
 *   <li>{@link #reset} and {@link #sumThenReset} are atomic per CPU cell: a concurrent update is either
 *       counted by {@code sumThenReset} or left for the next call, never lost, and {@code reset} never
 *       loses a concurrent update either (with {@code LongAdder}, {@code reset} can). Both cost a
 *       system call (membarrier) and briefly stop the fast path of every counter that shares this
 *       counter's arena range (up to 510 others) on every CPU: call them rarely, or give counters that
 *       are reset often an arena of their own ({@link Builder#arena}).</li>
 *   <li>Cells are 8 bytes packed with other counters' cells in per-CPU pages of a {@link PerCpuArena}:
 *       a counter costs 8 bytes per possible CPU plus a small object, whatever the contention. The
 *       cell is reused once the counter is unreachable.</li>
 * </ul>
 *
 * <p>Memory ordering: {@link #add} has no ordering effect on other variables (like {@code LongAdder},
 * which documents none either); {@link #sum} reads each cell with opaque reads, so repeated sums by
 * one thread of a counter that is only incremented never go down.
 *
 * <p>Thread-safety: every method may be called by any thread, platform or virtual, concurrently.
 *
 * <h2>Implementation notes</h2>
 * The counter owns one slot of its arena: offset {@code offset} in every CPU region of one range.
 * {@code add} is {@code PerCpuOps.add} (stub {@code LOAD_ADD_STORE}, two attempts, then the guard).
 * The production operations are held in static finals, so the JIT folds the downcall into a direct
 * call. Every method keeps {@code this} reachable until it returns ({@code reachabilityFence}):
 * otherwise the arena could reclaim and zero the slot while an update to it is still in flight.
 */
public final class PerCpuCounter extends Number {
    private static final long serialVersionUID = 1L;
    private static final PerCpuOps CPU_OPS = PerCpuOps.cpuIndexed();

    /**
     * The production mm_cid operations, created on first use; null where rseq works but the kernel
     * has no mm_cid. NOTE: a holder's initialiser must never throw: the class would be unusable for
     * ever ({@code NoClassDefFoundError} on every later use) instead of failing with the reason.
     */
    private static final class ConcurrencyIdOps {
        static final PerCpuOps OPS = orNull();

        private static PerCpuOps orNull() {
            try {
                return PerCpuOps.concurrencyIdIndexed();
            } catch (UnsupportedOperationException unavailable) {
                return null;
            }
        }
    }

    private final transient PerCpuArea area;
    private final int offset;
    /**
     * Null for the production CPU-indexed operations (the common case, tested first on the hot path),
     * {@link #CONCURRENCY_ID} for the production mm_cid-indexed ones, or operations tests inject.
     */
    private final transient Object ops;
    /** Marker for the production mm_cid operations, which are created lazily. */
    private static final Object CONCURRENCY_ID = new Object();

    /** A counter with initial sum 0 in the shared CPU-indexed arena. */
    public PerCpuCounter() {
        this(PerCpuArena.shared(), null);
    }

    PerCpuCounter(PerCpuArena arena, PerCpuOps ops) {
        Objects.requireNonNull(arena, "arena must not be null");
        if (ops == null && arena.indexing() == CpuIndexing.CONCURRENCY_ID && ConcurrencyIdOps.OPS == null) {
            PerCpuOps.concurrencyIdIndexed();   // throws UnsupportedOperationException with the reason, every time
        }
        if (ops != null && ops.indexing() != arena.indexing()) {
            throw new IllegalArgumentException("ops index by " + ops.indexing() + ", arena by " + arena.indexing());
        }
        WordArena.Slot slot = arena.allocate(this);
        this.area = slot.area();
        this.offset = (int) slot.offset();
        this.ops = ops != null ? ops : arena.indexing() == CpuIndexing.CPU ? null : CONCURRENCY_ID;
    }

    /** Chooses the arena (and with it the indexing) of a new counter. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder of counters; not thread-safe, reusable. */
    public static final class Builder {
        private PerCpuArena arena = PerCpuArena.shared();

        private Builder() {
        }

        /** Allocate in {@code arena} (default: {@link PerCpuArena#shared()}). */
        public Builder arena(PerCpuArena arena) {
            this.arena = Objects.requireNonNull(arena, "arena must not be null");
            return this;
        }

        /**
         * Index cells by concurrency id (mm_cid, Linux 6.3+) instead of CPU number: uses
         * {@link PerCpuArena#sharedConcurrencyId()}. Ids are dense from 0, so a process with few
         * running threads touches few cells on a many-CPU machine.
         */
        public Builder concurrencyIdIndexed() {
            this.arena = PerCpuArena.sharedConcurrencyId();
            return this;
        }

        /**
         * @throws UnsupportedOperationException if the arena is indexed by concurrency id and rseq
         *         works but the kernel has no mm_cid
         */
        public PerCpuCounter build() {
            return new PerCpuCounter(arena, null);
        }
    }

    private PerCpuOps ops() {
        Object o = ops;
        return o == null ? CPU_OPS : o == CONCURRENCY_ID ? ConcurrencyIdOps.OPS : (PerCpuOps) o;
    }

    /** Adds {@code x}. */
    public void add(long x) {
        try {
            Object o = ops;
            // NOTE: static final operations, so that the JIT folds their stub handle into a direct call.
            if (o == null) {
                CPU_OPS.add(area, offset, x);
            } else if (o == CONCURRENCY_ID) {
                ConcurrencyIdOps.OPS.add(area, offset, x);
            } else {
                ((PerCpuOps) o).add(area, offset, x);
            }
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Equivalent to {@code add(1)}. */
    public void increment() {
        add(1L);
    }

    /** Equivalent to {@code add(-1)}. */
    public void decrement() {
        add(-1L);
    }

    /**
     * The current sum: the cells read one after the other, not an atomic snapshot. Concurrent updates
     * may or may not be included; without them the result is exact.
     */
    public long sum() {
        try {
            return area.sumLongOpaque(offset);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Sets every cell to zero, each atomically with respect to updates of that cell. */
    public void reset() {
        sumThenReset();
    }

    /**
     * Equivalent to {@link #sum} followed by {@link #reset}, but each cell is read and zeroed
     * atomically with respect to its updates: every update is counted by exactly one call.
     */
    public long sumThenReset() {
        try {
            return ops().sumThenReset(area, offset);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Equivalent to {@link #sum}. */
    @Override
    public long longValue() {
        return sum();
    }

    /** The {@link #sum} as an {@code int} after a narrowing primitive conversion. */
    @Override
    public int intValue() {
        return (int) sum();
    }

    /** The {@link #sum} as a {@code float} after a widening primitive conversion. */
    @Override
    public float floatValue() {
        return (float) sum();
    }

    /** The {@link #sum} as a {@code double} after a widening primitive conversion. */
    @Override
    public double doubleValue() {
        return (double) sum();
    }

    /** The String representation of the {@link #sum}. */
    @Override
    public String toString() {
        return Long.toString(sum());
    }

    /**
     * Counts of the rare events of this counter's operations, shared by every counter that uses the
     * same operations (process-wide for the default ones). Fast-path commits are not counted: that
     * would double the cost of an increment; they are the operations minus {@link Stats#slowPaths}.
     */
    public Stats stats() {
        PerCpuStats s = ops().stats();
        return new Stats(ops().restartable(), s.aborts(), s.slowPaths(), s.guarded(), s.invalidIndex());
    }

    /**
     * A snapshot of operation counts (not atomic across fields).
     *
     * @param restartable  true in rseq mode, false in lock mode (where every operation is a slow path)
     * @param aborts       restartable sequences the kernel aborted
     * @param slowPaths    operations completed under a CPU cell's guard
     * @param guarded      fast paths that found the guard held
     * @param invalidIndex fast paths whose thread was not yet registered, or whose index was out of range
     */
    public record Stats(boolean restartable, long aborts, long slowPaths, long guarded, long invalidIndex) {
    }

    /** Serialized as its sum, like {@code LongAdder}; deserializes as a new counter in the shared arena. */
    private Object writeReplace() {
        return new SerializedForm(sum());
    }

    private void readObject(java.io.ObjectInputStream in) throws java.io.InvalidObjectException {
        throw new java.io.InvalidObjectException("use SerializedForm");
    }

    private record SerializedForm(long value) implements java.io.Serializable {
        private Object readResolve() {
            PerCpuCounter c = new PerCpuCounter();
            c.add(value);
            return c;
        }
    }
}
