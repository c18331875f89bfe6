package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PerCpuOps;
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

    /** A member of a {@link Group}: the word with handle {@code word} of {@code chunk}. */
    private PerCpuCounter(WordArena.Chunk chunk, long word) {
        this.chunk = chunk;
        this.word = word;
    }

    /**
     * A group of {@code size} counters, in the shared CPU-indexed arena, updated together in one
     * operation: see {@link Group}.
     *
     * @param size counters in the group, in [1, {@value Group#MAX_SIZE}]
     * @throws IllegalArgumentException if {@code size} is out of range
     */
    public static Group group(int size) {
        return new Group(PerCpuArena.shared(), size);
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

        /**
         * A {@link Group} of {@code size} counters in this builder's arena.
         *
         * @param size counters in the group, in [1, {@value Group#MAX_SIZE}]
         * @throws IllegalArgumentException if {@code size} is out of range
         * @throws IllegalStateException if the arena is closed
         */
        public Group buildGroup(int size) {
            return new Group(arena, size);
        }
    }

    /**
     * Counters created together and updated together: "requests, bytes, errors" in one operation
     * instead of three. Their cells lie side by side in each CPU's cache line, and
     * {@link #add(long, long, long)} updates three of them with one downcall (one restartable
     * sequence per counter, run back to back by the same native call), where three
     * {@link PerCpuCounter#add} calls cost three.
     *
     * <p>Each member is a full {@link PerCpuCounter} ({@link #counter}): its own sum, reset and
     * {@code LongAdder}-shaped reads. What a group update promises: each counter's add is atomic and
     * never lost or counted twice, as {@link PerCpuCounter#add}; the adds are <em>not</em> atomic
     * together: a concurrent {@link PerCpuCounter#sum} of another member may see one add and not yet
     * the other (as with separate counters). No method allocates.
     *
     * <p>Memory ordering: as {@link PerCpuCounter}: none for updates; sums read opaque.
     *
     * <p>Thread-safety: every method may be called by any thread, platform or virtual, concurrently.
     *
     * <h2>Implementation notes</h2>
     * The group owns a run of {@code size} consecutive words of one chunk of its arena
     * ({@code WordArena.allocate(size)}, one cache line per CPU, hence {@link #MAX_SIZE}), and keeps the
     * chunk and the first word's handle; member {@code i}'s handle is the first plus {@code 8 * i}. The
     * fixed-arity adds are {@code WordArena.addEach}: core's {@code BATCH_LOAD_ADD_STORE}, up to three
     * adds whose values travel in registers, each its own section; an abort stops the call with the
     * adds before it committed, and the rest resume from there. {@link #addTo} is one
     * counter's {@code add}.
     */
    public static final class Group {
        /** The most counters in a group: one cache line of 8-byte cells per CPU. */
        public static final int MAX_SIZE = WordArena.WORDS_PER_CHUNK;

        private final WordArena.Chunk chunk;
        private final long first;
        private final int size;                 // members.length, without the array load on the hot path
        private final PerCpuCounter[] members;

        private Group(PerCpuArena arena, int size) {
            Objects.requireNonNull(arena, "arena must not be null");
            if (size < 1 || size > MAX_SIZE) {
                throw new IllegalArgumentException("size must be in [1, " + MAX_SIZE + "], was " + size);
            }
            WordArena.Word w = arena.words().allocate(size);
            this.chunk = w.chunk();
            this.first = w.handle();
            this.size = size;
            this.members = new PerCpuCounter[size];
            for (int i = 0; i < size; i++) {
                members[i] = new PerCpuCounter(chunk, first + 8L * i);
            }
        }

        /** The number of counters. */
        public int size() {
            return size;
        }

        /**
         * Counter {@code i}, the same object on every call.
         *
         * @throws IndexOutOfBoundsException if {@code i} is not in [0, size())
         */
        public PerCpuCounter counter(int i) {
            return members[Objects.checkIndex(i, size)];
        }

        /**
         * Adds {@code x} to counter {@code counter}: {@code counter(counter).add(x)}. Not an overload of
         * {@code add}: {@code add(1, 1)} would then pick {@code add(int, long)} over {@code add(long, long)}
         * and update one counter where two were meant.
         *
         * @throws IndexOutOfBoundsException if {@code counter} is not in [0, size())
         */
        public void addTo(int counter, long x) {
            WordArena.add(chunk, first + 8L * Objects.checkIndex(counter, size), x);
        }

        /**
         * Adds {@code d0} to counter 0 and {@code d1} to counter 1, in one operation.
         *
         * @throws IndexOutOfBoundsException if the group has fewer than 2 counters
         */
        public void add(long d0, long d1) {
            WordArena.addEach(chunk, first, checkArity(2), d0, d1, 0);
        }

        /**
         * Adds {@code d0}, {@code d1} and {@code d2} to counters 0, 1 and 2, in one operation.
         *
         * @throws IndexOutOfBoundsException if the group has fewer than 3 counters
         */
        public void add(long d0, long d1, long d2) {
            WordArena.addEach(chunk, first, checkArity(3), d0, d1, d2);
        }

        /** {@code arity}, once the group has that many counters. */
        private int checkArity(int arity) {
            if (size < arity) {
                throw new IndexOutOfBoundsException("add of " + arity + " values: counter " + (arity - 1)
                        + " out of bounds for a group of " + size);
            }
            return arity;
        }

        /** The sums of the counters, in order: {@code "[3, 1024, 0]"}. */
        @Override
        public String toString() {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < members.length; i++) {
                b.append(i == 0 ? "" : ", ").append(members[i].sum());
            }
            return b.append(']').toString();
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
     * would double the cost of an increment; they are the operations minus {@link OperationStats#slowPaths}.
     */
    public OperationStats stats() {
        return OperationStats.of(chunk.arena().ops());
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
