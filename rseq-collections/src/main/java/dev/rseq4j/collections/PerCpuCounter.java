package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;
import dev.rseq4j.core.percpu.WordArena;

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
 *       counter's arena range (up to {@value PerCpuArena#WORDS_PER_RANGE} counters) on every CPU:
 *       call them rarely, or give counters that are reset often an arena of their own
 *       ({@link Builder#arena}).</li>
 *   <li>Memory: a 24-byte object plus an 8-byte cell per possible CPU, packed with other counters'
 *       cells in per-CPU pages of a {@link PerCpuArena}, whatever the contention. A cell returns to
 *       its arena once the counter (and the up to 7 others sharing its chunk) is unreachable.</li>
 * </ul>
 *
 * <p>Memory ordering: {@link #add} has no ordering effect on other variables (like {@code LongAdder},
 * which documents none either); {@link #sum} reads each cell with opaque reads, so repeated sums by
 * one thread of a counter that is only incremented never go down.
 *
 * <p>Thread-safety: every method may be called by any thread, platform or virtual, concurrently.
 *
 * <h2>Implementation notes</h2>
 * The counter owns one word of its arena ({@code WordArena}): the same offset in every CPU region of
 * one range. It keeps two fields: the word's chunk, which keeps the memory mapped while the counter
 * is reachable, and the word's handle (its address in region 0 plus tag bits naming the
 * operations). {@code add} is {@code WordArena.add}: the first restartable attempt straight from the
 * handle (the range's descriptor follows from the address by a mask), then the rest of the protocol
 * of {@code PerCpuOps.add} (a second attempt, then the guard). Every operation keeps the chunk
 * reachable until it returns ({@code reachabilityFence}): otherwise the arena could reclaim and zero
 * the word while an update to it is still in flight.
 */
public final class PerCpuCounter extends Number {
    private static final long serialVersionUID = 1L;

    private final transient WordArena.Chunk chunk;
    private final transient long word;

    /** A counter with initial sum 0 in the shared CPU-indexed arena. */
    public PerCpuCounter() {
        this(PerCpuArena.shared());
    }

    /**
     * @throws IllegalStateException if {@code arena} is closed
     */
    PerCpuCounter(PerCpuArena arena) {
        WordArena.Word w = Objects.requireNonNull(arena, "arena must not be null").words().allocate();
        this.chunk = w.chunk();
        this.word = w.handle();
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
         *
         * @throws UnsupportedOperationException where rseq works but the kernel has no mm_cid
         */
        public Builder concurrencyIdIndexed() {
            this.arena = PerCpuArena.sharedConcurrencyId();
            return this;
        }

        /**
         * @throws IllegalStateException if the arena is closed
         */
        public PerCpuCounter build() {
            return new PerCpuCounter(arena);
        }
    }

    /** Adds {@code x}. */
    public void add(long x) {
        WordArena.add(chunk, word, x);
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
        return WordArena.sum(chunk, word);
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
        return WordArena.sumThenReset(chunk, word);
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
        PerCpuOps ops = chunk.arena().ops();
        PerCpuStats s = ops.stats();
        return new Stats(ops.restartable(), s.aborts(), s.slowPaths(), s.guarded(), s.invalidIndex());
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
