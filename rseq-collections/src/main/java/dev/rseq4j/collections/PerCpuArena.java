package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.collections.internal.WordArena;
import dev.rseq4j.core.percpu.PerCpuArea;

/**
 * Per-CPU memory for many small objects such as {@link PerCpuCounter}s: each allocation is one
 * 64-bit word in every CPU's region, packed with no padding, because only the owning CPU writes its
 * region on the fast path. Counters share {@link #shared()} unless a {@link PerCpuCounter.Builder}
 * gives them another arena (counters that are reset often should: a reset stalls every counter of
 * its range).
 *
 * <p>Memory: a range of {@value #RANGE_STRIDE} bytes per CPU holds {@value WordArena#SLOTS_PER_RANGE}
 * words; ranges are added as the arena grows, and a word returns to the arena once its owner is
 * unreachable (the layout and the reuse protocol are described in {@link WordArena}).
 *
 * <p>Thread-safety: safe for use by any number of threads; allocation takes the arena's lock.
 */
public final class PerCpuArena {
    /** Bytes per region of one range: a page. */
    public static final long RANGE_STRIDE = WordArena.RANGE_STRIDE;
    static final int SLOTS_PER_RANGE = WordArena.SLOTS_PER_RANGE;

    private static final class Shared {
        static final PerCpuArena CPU = new PerCpuArena(CpuIndexing.CPU);
        static final PerCpuArena CONCURRENCY_ID = new PerCpuArena(CpuIndexing.CONCURRENCY_ID);
    }

    private final WordArena words;

    /** A new arena indexed by {@code indexing}, with one region per possible CPU. */
    public PerCpuArena(CpuIndexing indexing) {
        this.words = new WordArena(indexing);
    }

    /** The arena that {@code new PerCpuCounter()} uses (CPU indexing). */
    public static PerCpuArena shared() {
        return Shared.CPU;
    }

    /** The shared arena indexed by concurrency id (mm_cid). */
    public static PerCpuArena sharedConcurrencyId() {
        return Shared.CONCURRENCY_ID;
    }

    public CpuIndexing indexing() {
        return words.indexing();
    }

    /** Allocates a zeroed word owned by {@code owner}; it is reused once {@code owner} is unreachable. */
    WordArena.Slot allocate(Object owner) {
        return words.allocate(owner);
    }

    /** Words ever handed out and not yet reclaimed (live, or unreachable but not yet drained). */
    public int liveSlots() {
        return words.liveSlots();
    }

    /** Native bytes this arena has mapped: ranges x regions x {@value #RANGE_STRIDE}. */
    public long nativeBytes() {
        return words.nativeBytes();
    }

    /** Ranges added so far. */
    public int ranges() {
        return words.ranges();
    }

    @Override
    public String toString() {
        return "PerCpuArena[" + indexing() + ", regions=" + words.regions() + ", ranges=" + ranges() + "]";
    }
}
