package dev.rseq4j.core.percpu;

import dev.rseq4j.core.internal.platform.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Library-owned native memory for a pool of fixed-size blocks: one address range reserved at once
 * for {@code maxBlocks} blocks, committed (made readable and writable) in steps as blocks are first
 * used, every block a slice of one segment of the caller's arena. Closing that arena invalidates
 * every block's segment (accessing one then throws {@link IllegalStateException}) and unmaps the
 * range.
 *
 * <pre>
 *   base (page-aligned)                                       base + maxBlocks * stride
 *   |&lt;- block 0 -&gt;|pad|&lt;- block 1 -&gt;|pad| ... |&lt;- committed -&gt;|&lt;- reserved, PROT_NONE -&gt;|
 *   |&lt;--- stride ---&gt;|                        (grows by commit)
 * </pre>
 * {@code stride} is the block size rounded up to the alignment, so block {@code i} starts at
 * {@code base + i * stride}, aligned. Where mmap is unavailable (another OS), the whole range is
 * allocated from the arena at once instead.
 *
 * <p>Thread-safety: {@link #commit} is synchronized; the rest reads final fields and the volatile
 * committed count.
 */
public final class BlockMemory {
    /** The reserved range is at most this many bytes. */
    public static final long MAX_BYTES = 1L << 40;
    /** Commit at least this many bytes at once, so that a growing pool makes few mprotect calls. */
    private static final long MIN_COMMIT_BYTES = 1 << 20;

    private final MemorySegment all;
    private final long blockSize;
    private final long alignment;
    private final long stride;
    private final long maxBlocks;
    private final boolean mapped;
    private volatile long committed;

    /**
     * Arranges for {@code arena} to be closed once the returned token is unreachable: hold the token in
     * the object that owns the arena. The close runs on the JDK's own cleaner thread (the token is an
     * automatic arena, and the close its cleanup action), so that a library loaded once per class
     * loader starts no thread of its own for it. A close that fails (closed already, or a segment of
     * the arena is in a native call at that moment) leaves the arena as it is, never throws.
     */
    public static Object closeWhenUnreachable(Arena arena) {
        Objects.requireNonNull(arena, "arena must not be null");
        Arena token = Arena.ofAuto();
        // NOTE: a zero-length segment whose cleanup closes the arena; the action holds the arena only,
        // never the token or its owner, or neither could become unreachable.
        MemorySegment.NULL.reinterpret(0, token, new CloseQuietly(arena));
        return token;
    }

    /** {@link #closeWhenUnreachable}'s cleanup action. */
    private record CloseQuietly(Arena arena) implements java.util.function.Consumer<MemorySegment> {
        @Override
        public void accept(MemorySegment ignored) {
            try {
                arena.close();
            } catch (IllegalStateException e) {
                // closed already, or a block is in a native call right now: left mapped (no crash)
            }
        }
    }

    /**
     * @param arena     owns the memory: closing it unmaps the range and invalidates every block
     * @param blockSize bytes per block, at least 1
     * @param alignment a power of two, at most the page size ({@link #maxAlignment()})
     * @param maxBlocks blocks the range holds, at least 1; {@code maxBlocks * stride} at most {@link #MAX_BYTES}
     * @throws IllegalArgumentException naming the parameter and its limit
     * @throws IllegalStateException if the address space cannot be reserved (mmap failed)
     */
    public BlockMemory(Arena arena, long blockSize, long alignment, long maxBlocks) {
        Objects.requireNonNull(arena, "arena must not be null");
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be at least 1, was " + blockSize);
        }
        if (alignment < 1 || Long.bitCount(alignment) != 1 || alignment > maxAlignment()) {
            throw new IllegalArgumentException("alignment must be a power of two in [1, " + maxAlignment() + "], was "
                    + alignment);
        }
        if (blockSize > MAX_BYTES) {
            throw new IllegalArgumentException("blockSize must be at most " + MAX_BYTES + ", was " + blockSize);
        }
        long stride = stride(blockSize, alignment);
        if (maxBlocks < 1 || maxBlocks > MAX_BYTES / stride) {
            throw new IllegalArgumentException("maxBlocks must be in [1, " + MAX_BYTES / stride + "] (at most "
                    + MAX_BYTES + " bytes of blocks of stride " + stride + "), was " + maxBlocks);
        }
        this.blockSize = blockSize;
        this.alignment = alignment;
        this.stride = stride;
        this.maxBlocks = maxBlocks;
        this.mapped = Libc.canReserve();
        this.all = mapped ? Libc.reserve(maxBlocks * stride, arena) : arena.allocate(maxBlocks * stride, alignment);
        if (!mapped) {
            committed = maxBlocks;
        }
    }

    /** The largest alignment a block can have: the page size (the range is page-aligned). */
    public static long maxAlignment() {
        return Libc.pageSize();
    }

    /** Bytes from one block's start to the next's for blocks of {@code blockSize} at {@code alignment} (a power of two). */
    public static long stride(long blockSize, long alignment) {
        return (blockSize + alignment - 1) & -alignment;
    }

    public long blockSize() {
        return blockSize;
    }

    /** The alignment every block's address has (the stride may be a multiple of a larger power of two). */
    public long alignment() {
        return alignment;
    }

    /** Bytes from one block's start to the next's: the block size rounded up to the alignment. */
    public long stride() {
        return stride;
    }

    public long maxBlocks() {
        return maxBlocks;
    }

    /** Blocks usable so far (at least the count last passed to {@link #commit}). */
    public long committed() {
        return committed;
    }

    /** Bytes made readable and writable so far (what the pool may have touched, at most). */
    public long committedBytes() {
        return mapped ? Math.min(all.byteSize(), committed * stride) : all.byteSize();
    }

    /**
     * Makes blocks {@code [0, blocks)} usable, committing at least {@value #MIN_COMMIT_BYTES} bytes or
     * as much again as is committed, whichever is more (up to the whole range), at a time.
     *
     * @throws IllegalArgumentException if {@code blocks} is not in [0, maxBlocks]
     * @throws IllegalStateException if the arena is closed or mprotect fails (out of memory)
     */
    public synchronized void commit(long blocks) {
        if (blocks < 0 || blocks > maxBlocks) {
            throw new IllegalArgumentException("blocks must be in [0, " + maxBlocks + "], was " + blocks);
        }
        if (blocks <= committed) {
            return;
        }
        long from = committed * stride;
        long want = Math.max(blocks * stride, Math.max(from + MIN_COMMIT_BYTES, 2 * from));
        long page = Libc.pageSize();
        long to = Math.min(all.byteSize(), (want + page - 1) / page * page);
        long fromPage = from / page * page;
        Libc.mprotect(all.asSlice(fromPage, to - fromPage), Libc.PROT_READ | Libc.PROT_WRITE);
        committed = Math.min(maxBlocks, to / stride);
    }

    /**
     * Block {@code index} as a segment of exactly {@code blockSize} bytes in the arena.
     *
     * @throws IndexOutOfBoundsException if {@code index} is not in [0, committed())
     */
    public MemorySegment block(long index) {
        if (index < 0 || index >= committed) {
            throw new IndexOutOfBoundsException("block index must be in [0, " + committed + "), was " + index);
        }
        return all.asSlice(index * stride, blockSize);
    }

    /**
     * The index of the block that {@code segment} is, exactly (start and size; a read-only view counts).
     *
     * @throws IllegalArgumentException naming what is wrong: a heap segment, another arena's, not at a
     *         block's start (a slice, misaligned), not {@code blockSize} bytes, or a block not yet committed
     */
    public long indexOf(MemorySegment segment) {
        Objects.requireNonNull(segment, "block must not be null");
        if (!segment.isNative()) {
            throw new IllegalArgumentException("block must be a native segment from this pool, was a heap segment");
        }
        if (!segment.scope().equals(all.scope())) {
            throw new IllegalArgumentException("block is not from this pool (another arena): " + segment);
        }
        long offset = segment.address() - all.address();
        if (offset < 0 || offset >= committed * stride || offset % stride != 0) {
            throw new IllegalArgumentException("block must start at a block of this pool (a multiple of the stride "
                    + stride + " from its base), was offset " + offset);
        }
        if (segment.byteSize() != blockSize) {
            throw new IllegalArgumentException("block must be " + blockSize + " bytes (a whole block, not a slice), was "
                    + segment.byteSize());
        }
        return offset / stride;
    }
}
