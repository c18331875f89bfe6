package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.WordArena;

import java.util.Objects;

/**
 * Per-CPU memory for many small objects such as {@link PerCpuCounter}s: each allocation is one
 * 64-bit word in every CPU's region, packed with other objects' words, because only the owning CPU
 * writes its region on the fast path.
 *
 * <p>Counters share {@link #shared()} unless a {@link PerCpuCounter.Builder} gives them another
 * arena. Give counters an arena of their own when they are reset often (a reset briefly stops the
 * fast path of every counter in the same range, up to {@value #WORDS_PER_RANGE} words) or to see
 * their memory apart:
 * <pre>{@code
 * try (PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU)) {
 *     PerCpuCounter requests = PerCpuCounter.builder().arena(arena).build();
 *     ...
 * }   // no more counters from this arena; the existing ones keep working
 * }</pre>
 *
 * <h2>Memory</h2>
 * Memory is mapped in ranges of {@value #RANGE_STRIDE} bytes per possible CPU (one page each), and
 * handed out in chunks of {@value WordArena#WORDS_PER_CHUNK} words (one cache line per CPU). A chunk
 * returns to its range, zeroed, once all the objects using its words are unreachable; a range is
 * unmapped by the garbage collector once all its chunks are (no call into the arena needed). A
 * program that creates and drops counters without limit therefore keeps a bounded footprint: live
 * counters, plus what the next collection will free. When that part grows beyond
 * {@link #gcThreshold()} ranges (at least 64 MiB, then twice what stayed live), the arena requests a
 * collection before mapping more, as the JDK does for direct buffers (a no-op under
 * {@code -XX:+DisableExplicitGC}). The layout and the protocol are described in {@link WordArena}.
 *
 * <p>Thread-safety: safe for use by any number of threads. Allocation takes one atomic add, and the
 * arena's lock once per {@value WordArena#WORDS_PER_CHUNK} allocations.
 */
public final class PerCpuArena implements AutoCloseable {
    /** Bytes per CPU of one range: a page. */
    public static final long RANGE_STRIDE = WordArena.STRIDE;
    /** Words of one range. */
    public static final int WORDS_PER_RANGE = WordArena.WORDS_PER_RANGE;

    /** The shared arenas; a holder's initialiser must never throw, hence null where mm_cid is missing. */
    private static final class Shared {
        static final PerCpuArena CPU = new PerCpuArena(CpuIndexing.CPU, true);
        static final PerCpuArena CONCURRENCY_ID = orNull();

        private static PerCpuArena orNull() {
            try {
                return new PerCpuArena(CpuIndexing.CONCURRENCY_ID, true);
            } catch (UnsupportedOperationException unavailable) {
                return null;
            }
        }
    }

    private final WordArena words;
    private final boolean shared;

    /**
     * A new arena whose counters choose their per-CPU cell by {@code indexing}.
     *
     * @throws NullPointerException if {@code indexing} is null
     * @throws UnsupportedOperationException for {@link CpuIndexing#CONCURRENCY_ID} where rseq works but
     *         the kernel has no mm_cid (the message says so)
     */
    public PerCpuArena(CpuIndexing indexing) {
        this(indexing, false);
    }

    private PerCpuArena(CpuIndexing indexing, boolean shared) {
        this.words = new WordArena(Objects.requireNonNull(indexing, "indexing must not be null"));
        this.shared = shared;
    }

    /** An arena over instrumented operations (tests). */
    PerCpuArena(PerCpuOps ops) {
        this.words = new WordArena(ops);
        this.shared = false;
    }

    /** The arena that {@code new PerCpuCounter()} uses (CPU indexing). Cannot be closed. */
    public static PerCpuArena shared() {
        return Shared.CPU;
    }

    /**
     * The shared arena indexed by concurrency id (mm_cid). Cannot be closed.
     *
     * @throws UnsupportedOperationException where rseq works but the kernel has no mm_cid
     */
    public static PerCpuArena sharedConcurrencyId() {
        PerCpuArena arena = Shared.CONCURRENCY_ID;
        return arena != null ? arena : new PerCpuArena(CpuIndexing.CONCURRENCY_ID);   // throws the reason
    }

    public CpuIndexing indexing() {
        return words.indexing();
    }

    WordArena words() {
        return words;
    }

    /**
     * Stops allocation from this arena: building a counter in it afterwards throws
     * {@link IllegalStateException}. Counters already built keep working, and their memory returns
     * as they become unreachable, as it would without closing. Idempotent.
     *
     * @throws UnsupportedOperationException for {@link #shared()} and {@link #sharedConcurrencyId()}
     */
    @Override
    public void close() {
        if (shared) {
            throw new UnsupportedOperationException("the shared arenas cannot be closed");
        }
        words.close();
    }

    public boolean isClosed() {
        return words.isClosed();
    }

    /** Ranges mapped now: those with live counters, and those the garbage collector has not yet found empty. */
    public int ranges() {
        return words.ranges();
    }

    /** Native bytes mapped now: {@link #ranges()} x possible CPUs x {@value #RANGE_STRIDE}. */
    public long nativeBytes() {
        return words.nativeBytes();
    }

    /** Chunks of {@value WordArena#WORDS_PER_CHUNK} words in use (a chunk is in use while any counter of it is reachable). */
    public long chunksInUse() {
        return words.chunksInUse();
    }

    /** The range count at which this arena next requests a collection before mapping another range. */
    public int gcThreshold() {
        return words.gcThreshold();
    }

    @Override
    public String toString() {
        return "PerCpuArena[" + indexing() + ", regions=" + words.regions() + ", ranges=" + ranges()
                + (isClosed() ? ", closed" : "") + "]";
    }
}
