package dev.rseq4j.core.percpu;

import dev.rseq4j.core.internal.codegen.Operation;

import java.util.Objects;

/**
 * Where a per-CPU array stack (a magazine) lives in every region of a {@link PerCpuArea}: a count
 * word and {@code capacity} slots of one 64-bit word each, for the array operations of
 * {@link PerCpuOps} ({@link PerCpuOps#arrayPop}, {@link PerCpuOps#arrayPush},
 * {@link PerCpuOps#arrayCopyOut}, {@link PerCpuOps#arrayCopyIn}).
 *
 * <pre>
 *   region r:  ... | count | ... | slot 0 | slot 1 | ... | slot capacity-1 | ...
 *                    ^ countOffset  ^ slotsOffset                            (8 bytes each)
 *   the stack holds slots [0, count); slot count-1 is its top
 * </pre>
 * Elements are {@code int}s in [0, 2^31), stored one per slot word. The layout is checked once,
 * here, so that the operations check only that the area is the one described. A region's count and
 * slots must be written only through those operations: the stubs check the count against the
 * capacity before they use it, so an overwritten count is reported ({@link IllegalStateException}),
 * never followed outside the array.
 *
 * <p>Thread-safety: immutable.
 */
public final class ArrayStack {
    /** A region's stack holds at most this many elements: a batch moved in one section is copied inside a critical downcall. */
    public static final int MAX_CAPACITY = 4096;
    /** Bytes of one slot. */
    public static final int SLOT_BYTES = Operation.ARRAY_SLOT_BYTES;

    private final PerCpuArea area;
    private final long countOffset;
    private final long slotsOffset;
    private final int capacity;

    /**
     * @throws NullPointerException if {@code area} is null
     * @throws IllegalArgumentException if {@code capacity} is not in [1, {@value #MAX_CAPACITY}], the count
     *         is not a word of a region outside its reserved bytes, the slots do not lie in a region outside
     *         its reserved bytes, or the count lies among the slots
     */
    public ArrayStack(PerCpuArea area, long countOffset, long slotsOffset, int capacity) {
        this.area = Objects.requireNonNull(area, "area must not be null");
        if (capacity < 1 || capacity > MAX_CAPACITY) {
            throw new IllegalArgumentException("capacity must be in [1, " + MAX_CAPACITY + "], was " + capacity);
        }
        area.checkWord(countOffset, "countOffset");
        area.checkWord(slotsOffset, "slotsOffset");
        long bytes = (long) capacity * SLOT_BYTES;
        area.checkRange(slotsOffset, bytes, "slotsOffset");
        if (countOffset >= slotsOffset && countOffset < slotsOffset + bytes) {
            throw new IllegalArgumentException("countOffset " + countOffset + " must not lie among the slots ["
                    + slotsOffset + ", " + (slotsOffset + bytes) + ")");
        }
        this.countOffset = countOffset;
        this.slotsOffset = slotsOffset;
        this.capacity = capacity;
    }

    /** The area whose regions hold the stacks. */
    public PerCpuArea area() {
        return area;
    }

    /** The offset of a region's count word. */
    public long countOffset() {
        return countOffset;
    }

    /** The offset of a region's first slot. */
    public long slotsOffset() {
        return slotsOffset;
    }

    /** The slots of one region's stack. */
    public int capacity() {
        return capacity;
    }

    /** The elements region {@code index}'s stack holds now (an opaque read: not a snapshot while it changes). */
    public int size(int index) {
        return (int) area.getLongOpaque(index, countOffset);
    }

    @Override
    public String toString() {
        return "ArrayStack[countOffset=" + countOffset + ", slotsOffset=" + slotsOffset + ", capacity=" + capacity
                + ", " + area + "]";
    }
}
