package dev.rseq4j.collections.internal;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.percpu.PerCpuArea;

import java.lang.invoke.VarHandle;
import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Internal: the word allocator behind {@code PerCpuArena} (and the stress tests, which need millions
 * of words). Per-CPU memory for many small objects: each allocation is one 64-bit word in every CPU's region,
 * packed with no padding, because only the owning CPU writes its region on the fast path.
 *
 * <h2>Layout</h2>
 * The arena is a list of ranges ({@link PerCpuArea}s of {@value #RANGE_STRIDE} bytes per region),
 * added as it grows. In every range, region {@code c} belongs to CPU {@code c} (or concurrency id
 * {@code c}); a slot is the same offset in every region of its range:
 * <pre>
 *   range k, region c:  +0 guard | +8 slot 1 | +16 slot 2 | ... | +4088 slot 511
 *                       \____ one 4 KiB page, written only by CPU c's fast paths ____/
 * </pre>
 * 10,000 counters on a 2-CPU machine therefore take 20 ranges of 2 pages: 16 native bytes each.
 *
 * <h2>Reuse</h2>
 * A slot is freed when its owner becomes unreachable: the owner registers a phantom reference, and
 * every allocation first drains the reference queue, zeroes each freed slot in every region and
 * puts it on a free list. Nothing can be operating on the slot then (the owner is unreachable, and
 * operations keep their owner reachable until they return), and the zeroing happens-before the next
 * owner's operations through this arena's lock and the new owner's safe publication.
 *
 * <p>Thread-safety: allocation takes this arena's lock; the slots themselves are accessed through
 * the core's per-CPU operations without locks.
 */
public final class WordArena {
    /** Bytes per region of one range: a page. */
    public static final long RANGE_STRIDE = 4096;
    public static final int SLOTS_PER_RANGE = (int) (RANGE_STRIDE / 8) - 1;   // word 0 is the guard
    /**
     * A slot's key, as stored in the free list and the phantom references: {@code range << 16 | slot}.
     * Slots fit in the low 16 bits ({@value #SLOTS_PER_RANGE} &lt; 2^16); ranges in the 15 bits above,
     * so that a key stays a non-negative {@code int}.
     */
    private static final int SLOT_BITS = 16;
    private static final int SLOT_MASK = (1 << SLOT_BITS) - 1;
    /** Ranges are at most this many (keys stay non-negative). */
    static final int MAX_RANGES = 1 << (31 - SLOT_BITS);
    private static final VarHandle LONG = java.lang.foreign.ValueLayout.JAVA_LONG.varHandle();

    private final CpuIndexing indexing;
    private final int regions;
    private final ReferenceQueue<Object> released = new ReferenceQueue<>();
    // Guarded by this:
    private final List<Range> ranges = new ArrayList<>();
    private int[] freeList = new int[64];   // keys (range << SLOT_BITS | slot)
    private int freeCount;
    private int bumpSlot = SLOTS_PER_RANGE; // next never-used slot in the last range

    /** One range and the phantom references of its live slots (they must stay reachable to be enqueued). */
    private record Range(int index, PerCpuArea area, Releaser[] releasers) {
    }

    /** A slot, as handed to its owner: the word at {@code offset} in every region of {@code area}. */
    public record Slot(PerCpuArea area, long offset) {
    }

    /** Returns the slot of an owner that became unreachable. */
    private static final class Releaser extends PhantomReference<Object> {
        final int key;

        Releaser(Object owner, ReferenceQueue<Object> queue, int key) {
            super(owner, queue);
            this.key = key;
        }
    }

    /** A new arena indexed by {@code indexing}, with one region per possible CPU. */
    public WordArena(CpuIndexing indexing) {
        this.indexing = Objects.requireNonNull(indexing, "indexing must not be null");
        this.regions = Rseq.possibleCpus();
    }

    public CpuIndexing indexing() {
        return indexing;
    }

    /** Regions per range: one per possible CPU. */
    public int regions() {
        return regions;
    }

    /** Allocates a zeroed slot owned by {@code owner}; it is reused once {@code owner} is unreachable. */
    public synchronized Slot allocate(Object owner) {
        drainReleased();
        int key;
        if (freeCount > 0) {
            key = freeList[--freeCount];
        } else {
            if (bumpSlot == SLOTS_PER_RANGE) {
                if (ranges.size() >= MAX_RANGES) {
                    throw new IllegalStateException("arena full: " + ranges.size() + " ranges of "
                            + SLOTS_PER_RANGE + " slots");
                }
                ranges.add(new Range(ranges.size(), new PerCpuArea(indexing, regions, RANGE_STRIDE, 0),
                        new Releaser[SLOTS_PER_RANGE]));
                bumpSlot = 0;
            }
            key = (ranges.size() - 1) << SLOT_BITS | bumpSlot++;
        }
        Range range = ranges.get(key >>> SLOT_BITS);
        int slot = key & SLOT_MASK;
        range.releasers()[slot] = new Releaser(owner, released, key);
        return new Slot(range.area(), offsetOf(slot));
    }

    private static long offsetOf(int slot) {
        return 8L * (slot + 1);
    }

    /** Frees the slots of unreachable owners: zero them in every region, then make them reusable. */
    private void drainReleased() {
        for (Releaser r; (r = (Releaser) released.poll()) != null; ) {
            Range range = ranges.get(r.key >>> SLOT_BITS);
            int slot = r.key & SLOT_MASK;
            range.releasers()[slot] = null;
            for (int c = 0; c < regions; c++) {
                LONG.setOpaque(range.area().memory(), c * RANGE_STRIDE + offsetOf(slot), 0L);
            }
            if (freeCount == freeList.length) {
                freeList = java.util.Arrays.copyOf(freeList, freeCount * 2);
            }
            freeList[freeCount++] = r.key;
        }
        // NOTE: the zeroing stores are published by this monitor's release and, to other threads,
        // by the safe publication of the slot's next owner.
        VarHandle.releaseFence();
    }

    /** Slots ever handed out and not yet reclaimed (live or unreachable but not yet drained). */
    public synchronized int liveSlots() {
        drainReleased();
        return ranges.size() * SLOTS_PER_RANGE - bumpSlotsLeft() - freeCount;
    }

    private int bumpSlotsLeft() {
        return ranges.isEmpty() ? 0 : SLOTS_PER_RANGE - bumpSlot;
    }

    /** Native bytes this arena has mapped: ranges x regions x {@value #RANGE_STRIDE}. */
    public synchronized long nativeBytes() {
        return (long) ranges.size() * regions * RANGE_STRIDE;
    }

    /** Ranges added so far. */
    public synchronized int ranges() {
        return ranges.size();
    }

    @Override
    public String toString() {
        return "WordArena[" + indexing + ", regions=" + regions + ", ranges=" + ranges() + "]";
    }
}
