package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.internal.codegen.AreaDescriptor;
import dev.rseq4j.core.internal.platform.Libc;
import dev.rseq4j.core.internal.platform.RseqAbi;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;

/**
 * Native memory split into one region per CPU (or concurrency id), owned by this object: the memory
 * lives exactly as long as the area, or a region segment obtained from it, is reachable.
 *
 * <pre>
 *   base                 base + stride            base + (regions-1) * stride
 *   |&lt;---- region 0 ----&gt;|&lt;---- region 1 ----&gt;| ... |&lt;-- region n-1 --&gt;|
 *   +-------+----------------------------------------------------------+
 *   | guard |  data words (offsets chosen by the owner of the area)   |   one region
 *   +-------+----------------------------------------------------------+
 *   ^ guardOffset (u32 in its own 8-byte word; 0 = free, 1 = held by a slow path)
 * </pre>
 * The stride is a multiple of 64 bytes so that two regions never share a cache line; within a
 * region, words are packed with no padding (only the owning CPU writes them on the fast path).
 *
 * <p>A descriptor {@code {address of region 0's guard, stride, count}} beside the regions
 * ({@code AreaDescriptor}) is what the native stubs receive, with word arguments as addresses in
 * region 0.
 *
 * <p>Thread-safety: immutable; the memory is written only through {@link PerCpuOps} (and by a word's
 * single owner through {@link #setLongRelease}), and read by anyone. Memory is zeroed at allocation.
 */
public final class PerCpuArea {
    /** Bytes of the guard word's slot. */
    public static final long GUARD_BYTES = 8;
    /** Regions are at most this many (far above any possible-CPU count). */
    public static final int MAX_REGIONS = 1 << 16;
    /** Total bytes are at most this (1 TiB): larger requests are mistakes. */
    public static final long MAX_BYTES = 1L << 40;
    private static final long CACHE_LINE = 64;
    /** Bytes of a header line ({@link #withHeaderLine}): guard word, descriptor (region 0), padding. */
    public static final long HEADER_BYTES = CACHE_LINE;
    /** Offset of the descriptor in region 0 of an area with a header line. */
    public static final long HEADER_DESCRIPTOR_OFFSET = 32;
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    /**
     * All memory, as one segment of the global scope, to read and write region words by address once
     * their region and offset are checked: the area's own segment adds a second bounds check and a
     * liveness check of its arena to every access (measured: about 1 ns of a lock's unlock). Memory
     * safety is the checks before and {@code reachabilityFence(this)} after each access, which keeps
     * the pages mapped. Null when this module may not call restricted methods; accesses then go through
     * the area's segment. Also {@link WordArena}'s, to read a word by address.
     */
    static final MemorySegment EVERYTHING = everything();

    private static MemorySegment everything() {
        try {
            return MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
        } catch (RuntimeException notAllowed) {   // IllegalCallerException without native access
            return null;
        }
    }

    /** The {@code struct rseq} field the stubs read as the region index of {@code indexing}. */
    static RseqAbi.Field indexField(CpuIndexing indexing) {
        return indexing == CpuIndexing.CPU ? RseqAbi.Field.CPU_ID : RseqAbi.Field.MM_CID;
    }

    /** The indexing whose region index is {@code field}. */
    static CpuIndexing indexingOf(RseqAbi.Field field) {
        return switch (field) {
            case CPU_ID -> CpuIndexing.CPU;
            case MM_CID -> CpuIndexing.CONCURRENCY_ID;
            default -> throw new IllegalArgumentException("not an index field: " + field);
        };
    }

    private final CpuIndexing indexing;
    private final MemorySegment memory;
    private final MemorySegment descriptor;
    /** {@code descriptor.address()}, read on every operation: one field load instead of two. */
    private final long descriptorAddress;
    /** Address of region 0. */
    private final long base;
    private final int regions;
    private final long stride;
    private final long guardOffset;
    /** Bytes from {@code guardOffset} that no operation may name: the guard word, or a header line. */
    private final long reservedBytes;

    /**
     * Allocates {@code regions} zeroed regions of {@code stride} bytes, each with its guard word at
     * {@code guardOffset}. Fast paths whose index is at or above {@code regions} cannot use the area
     * and take the slow path every time, so an area should have {@link Rseq#possibleCpus()} regions.
     *
     * @throws NullPointerException if {@code indexing} is null
     * @throws IllegalArgumentException if {@code regions} is not in [1, {@value #MAX_REGIONS}],
     *         {@code stride} is not a positive multiple of 64, the total exceeds {@link #MAX_BYTES},
     *         or {@code guardOffset} is not a multiple of 8 inside the region
     */
    public PerCpuArea(CpuIndexing indexing, int regions, long stride, long guardOffset) {
        this(indexing, regions, stride, guardOffset, false);
    }

    private PerCpuArea(CpuIndexing indexing, int regions, long stride, long guardOffset, boolean headerLine) {
        this.indexing = java.util.Objects.requireNonNull(indexing, "indexing must not be null");
        if (regions < 1 || regions > MAX_REGIONS) {
            throw new IllegalArgumentException("regions must be in [1, " + MAX_REGIONS + "], was " + regions);
        }
        if (stride < CACHE_LINE || stride % CACHE_LINE != 0) {
            throw new IllegalArgumentException("stride must be a positive multiple of " + CACHE_LINE + ", was " + stride);
        }
        if (stride > MAX_BYTES / regions) {
            throw new IllegalArgumentException("regions * stride must be at most " + MAX_BYTES + ", was "
                    + regions + " * " + stride);
        }
        if (guardOffset < 0 || guardOffset % GUARD_BYTES != 0 || guardOffset > stride - GUARD_BYTES) {
            throw new IllegalArgumentException("guardOffset must be a multiple of 8 in [0, " + (stride - GUARD_BYTES)
                    + "], was " + guardOffset);
        }
        // Pages of their own (mmap): no allocator overhead, and unmapped once this area is unreachable.
        this.memory = Libc.allocatePages(regions * stride);
        // NOTE: a header line's descriptor lives in region 0's first line, beside the guard: its
        // address then follows from any word address of region 0 (see headerLine), and it costs no
        // allocation of its own. Elsewhere the descriptor is a separate, 32-byte aligned block.
        this.descriptor = headerLine ? memory.asSlice(HEADER_DESCRIPTOR_OFFSET, AreaDescriptor.LAYOUT)
                : Arena.ofAuto().allocate(AreaDescriptor.LAYOUT);
        this.reservedBytes = headerLine ? HEADER_BYTES : GUARD_BYTES;
        this.descriptorAddress = descriptor.address();
        this.regions = regions;
        this.stride = stride;
        this.guardOffset = guardOffset;
        this.base = memory.address();
        AreaDescriptor.write(descriptor, base + guardOffset, stride, regions);
    }

    /**
     * An area whose regions each start with a header line: the guard word at offset 0 and, in region
     * 0, the descriptor at {@value #HEADER_DESCRIPTOR_OFFSET}; the first {@value #HEADER_BYTES} bytes of
     * every region are reserved (no operation may name them). The memory is aligned to
     * {@code stride}, so the descriptor of the area that contains a word address {@code w} of region 0
     * is at {@code (w & -stride) + HEADER_DESCRIPTOR_OFFSET}: an owner of one word needs to keep
     * nothing else to call a stub ({@link WordArena}).
     *
     * @throws IllegalArgumentException if {@code stride} is not a power of two in [{@value #HEADER_BYTES} * 2, 4096]
     *         (memory is page-aligned, so any such stride divides its alignment), or as the constructor
     */
    public static PerCpuArea withHeaderLine(CpuIndexing indexing, int regions, long stride) {
        if (Long.bitCount(stride) != 1 || stride < 2 * HEADER_BYTES || stride > 4096) {
            throw new IllegalArgumentException("stride must be a power of two in [" + 2 * HEADER_BYTES
                    + ", 4096], was " + stride);
        }
        return new PerCpuArea(indexing, regions, stride, 0, true);
    }

    /** An area with one region per possible CPU and the guard at offset 0. */
    public static PerCpuArea forPossibleCpus(CpuIndexing indexing, long stride) {
        return new PerCpuArea(indexing, Rseq.possibleCpus(), stride, 0);
    }

    public CpuIndexing indexing() {
        return indexing;
    }

    public int regions() {
        return regions;
    }

    public long stride() {
        return stride;
    }

    public long guardOffset() {
        return guardOffset;
    }

    /**
     * Region {@code index} as a segment (keeps the memory alive while reachable). Reads of words that
     * fast paths write concurrently must be opaque or stronger ({@code getOpaque}/{@code getAcquire}
     * through a VarHandle) to see whole, recent values.
     */
    public MemorySegment region(int index) {
        checkRegion(index);
        return memory.asSlice(index * stride, stride);
    }

    /** The whole memory, region 0 first. */
    public MemorySegment memory() {
        return memory;
    }

    /**
     * Address of word {@code offset} of region 0: how the stubs receive word arguments. For the
     * operations only; {@code offset} must have been checked.
     */
    public long address(long offset) {
        return base + offset;
    }

    /** Address of the native descriptor; for the operations only. Keep {@code this} reachable while it is used. */
    public long descriptorAddress() {
        return descriptorAddress;
    }

    /**
     * Region {@code index}'s word at {@code offset}, read opaque: whole and recent, with no ordering
     * of other accesses (the read a concurrent observer such as a counter's sum needs).
     */
    public long getLongOpaque(int index, long offset) {
        long at = wordAt(index, offset);
        try {
            return (long) LONG.getOpaque(words(), at);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Region {@code index}'s word at {@code offset}, read with acquire semantics: every read after it
     * in this thread sees the memory written before the store it reads from. So a consumer that sees a
     * ring's counter committed by {@link PerCpuOps#copyThenCommit} or {@link PerCpuOps#storeThenCommit}
     * (a release, {@code stlr} on arm64) sees the record or slot written before it, on arm64 too; an
     * opaque read ({@link #getLongOpaque}) does not order the reads after it.
     */
    public long getLongAcquire(int index, long offset) {
        long at = wordAt(index, offset);
        try {
            return (long) LONG.getAcquire(words(), at);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Stores {@code value} into region {@code index}'s word at {@code offset} with release semantics:
     * every access before it in this thread happens-before the accesses of a thread that reads the
     * value with {@link #getLongAcquire} (or reads it inside an operation followed by an acquire fence).
     *
     * <p>Only for words with one writer at a time by the caller's own protocol: a word that no
     * {@link PerCpuOps} operation can change while this store runs. A lock word held by the caller is
     * one: every operation that could write it first compares it with "free" and fails. Any other
     * word must be written through {@link PerCpuOps}, or a fast path on the region's CPU could
     * overwrite this store (or this store overwrite its commit).
     */
    public void setLongRelease(int index, long offset, long value) {
        long at = wordAt(index, offset);
        try {
            LONG.setRelease(words(), at, value);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The sum of the word at {@code offset} over all regions, each read opaque. Not an atomic
     * snapshot: updates that run meanwhile may be counted in one region and not yet in another.
     */
    public long sumLongOpaque(long offset) {
        checkWordBounds(offset, "offset");
        long sum = 0;
        for (long at = offset, end = regions * stride; at < end; at += stride) {
            sum += (long) LONG.getOpaque(memory, at);
        }
        return sum;
    }

    /** Tries to take region {@code index}'s guard (0 to 1); volatile CAS. */
    public boolean casGuard(int index) {
        return INT.compareAndSet(memory, index * stride + guardOffset, 0, 1);
    }

    /** Whether region {@code index}'s guard is held now (opaque read: a hint for waiters, not a lock). */
    public boolean guardHeld(int index) {
        return (int) INT.getOpaque(memory, index * stride + guardOffset) != 0;
    }

    /** Releases region {@code index}'s guard with a release store (publishes the slow path's writes). */
    public void releaseGuard(int index) {
        INT.setRelease(memory, index * stride + guardOffset, 0);
    }

    /**
     * The segment the word accessors use: {@link #EVERYTHING}, where words are addressed absolutely, or
     * (without native access) this area's. {@code EVERYTHING} is a constant, so the JIT keeps one branch.
     */
    private MemorySegment words() {
        return EVERYTHING != null ? EVERYTHING : memory;
    }

    /** Checks region {@code index} and the word {@code offset}; returns that word's position in {@link #words()}. */
    private long wordAt(int index, long offset) {
        checkRegion(index);
        checkWordBounds(offset, "offset");
        return (EVERYTHING != null ? base : 0) + index * stride + offset;
    }

    void checkRegion(int index) {
        if (index < 0 || index >= regions) {
            throw new IndexOutOfBoundsException("region index must be in [0, " + regions + "), was " + index);
        }
    }

    /** Checks that a 64-bit word at {@code offset} lies in a region and not in its reserved bytes (the guard). */
    public void checkWord(long offset, String name) {
        checkWordBounds(offset, name);
        if (offset - guardOffset >= 0 && offset - guardOffset < reservedBytes) {
            throw new IllegalArgumentException(name + " must not lie in " + reserved() + ", was " + offset);
        }
    }

    /** Checks that a 64-bit word at {@code offset} lies in a region (reads may include the guard). */
    private void checkWordBounds(long offset, String name) {
        // NOTE: one unsigned compare and one mask on the hot path; the messages are built only on failure.
        if (Long.compareUnsigned(offset, stride - 8) > 0 || (offset & 7) != 0) {
            throw new IllegalArgumentException(name + " must be a multiple of 8 in [0, " + (stride - 8) + "], was " + offset);
        }
    }

    /** Checks that {@code [offset, offset + length)} lies in a region and does not overlap the guard. */
    public void checkRange(long offset, long length, String name) {
        if (length < 0 || length > stride) {
            throw new IllegalArgumentException("length must be in [0, " + stride + "], was " + length);
        }
        if (offset < 0 || offset > stride - length) {
            throw new IllegalArgumentException(name + " must be in [0, " + (stride - length) + "] for length "
                    + length + ", was " + offset);
        }
        if (offset < guardOffset + reservedBytes && guardOffset < offset + length) {
            throw new IllegalArgumentException(name + " range [" + offset + ", " + (offset + length)
                    + ") must not overlap " + reserved());
        }
    }

    /** The reserved bytes, for messages. */
    private String reserved() {
        return (reservedBytes == GUARD_BYTES ? "the guard word [" : "the header line (guard word, descriptor) [")
                + guardOffset + ", " + (guardOffset + reservedBytes) + ")";
    }

    @Override
    public String toString() {
        return "PerCpuArea[" + indexing + ", regions=" + regions + ", stride=" + stride + ", guardOffset=" + guardOffset + "]";
    }
}
