package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.BlockMemory;
import dev.rseq4j.core.percpu.PoolTotals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * A pool of fixed-size off-heap blocks with a magazine per CPU, for buffers and slabs: allocate
 * and free are a restartable pop and push on the current CPU's magazine in the common case, with no
 * atomic instruction and no call into {@code malloc}. Blocks freed on another CPU than they were
 * allocated on flow back through a depot of batches shared by all CPUs; only a pool whose every
 * block is carved takes a batch from another CPU's magazine (see {@link PerCpuFreeList}).
 *
 * <pre>
 *   try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(4096).maxBlocks(10_000).build()) {
 *       MemorySegment buffer = pool.allocate();
 *       ...
 *       pool.free(buffer);
 *   }
 * </pre>
 *
 * <p>Memory: the pool reserves address space for {@code maxBlocks} blocks once and commits it in
 * steps (at least 1 MiB, or as much again as it has) as blocks are first handed out; it never
 * returns committed memory before {@link #close()}. Where the core cannot call mmap (another OS, or
 * native access denied: see {@code Rseq.status()}), the whole range is allocated, zeroed, at build
 * time instead: size {@code maxBlocks} for that case. Blocks are {@code blockSize} bytes at a stride of
 * the block size rounded up to the alignment. A block is zeroed the first time it is handed out and
 * <em>not</em> zeroed on reuse: it holds what its previous holder wrote. The free-list costs a state
 * word per block (see {@link PerCpuFreeList}: 64 bytes up to 16,384 blocks, 16 beyond) and a slot word
 * per magazine entry, native memory beside the blocks, never inside them: a write to a freed block
 * cannot corrupt the pool.
 *
 * <p>Errors, never crashes: {@link #allocate()} when all {@code maxBlocks} blocks are out throws
 * {@link OutOfMemoryError} naming the limit. {@link #free} of a segment that is not a block of this
 * pool (another pool's, a slice, a heap segment, misaligned) throws {@link IllegalArgumentException};
 * of a block that is free already, {@link IllegalStateException} where the free-list's check sees it
 * (see {@link PerCpuFreeList}; {@link Builder#checked()} sees every one). After {@link #close()},
 * every block's segment is invalid: accessing one throws {@link IllegalStateException}, as with any
 * closed {@link Arena}, and {@code allocate} and {@code free} throw {@link IllegalStateException}.
 * A pool that becomes unreachable without {@code close()} is closed by a cleaner: keep the pool
 * reachable while you use its blocks.
 *
 * <p>Memory ordering: everything a thread did before {@code free(block)} happens-before everything
 * a thread does after the {@code allocate()} that returns that block again.
 *
 * <p>Thread-safety: every method may be called by any thread, platform or virtual, concurrently;
 * {@code close()} while other threads allocate or free makes those calls throw
 * {@link IllegalStateException} (or succeed, if they ran first), never corrupt memory. The segments
 * are shared-arena segments: any thread may access them.
 */
public final class PerCpuMemoryPool implements AutoCloseable {
    /** Pools are at most this many blocks. */
    public static final long MAX_BLOCKS = PerCpuFreeList.MAX_CAPACITY;

    private final Arena arena;
    private final BlockMemory blocks;
    private final PerCpuFreeList free;
    private final int batch;
    /**
     * While this pool is reachable, so is this token; once it is not, the arena is closed (see
     * {@link BlockMemory#closeWhenUnreachable}): a pool dropped without {@code close()} frees its memory.
     */
    @SuppressWarnings("unused")
    private final Object closesArena;
    /** Blocks handed out at least once, {@code [0, carved)}; guarded by {@code this}, read racily by {@link #carved()}. */
    private volatile long carved;
    private volatile boolean closed;

    private PerCpuMemoryPool(Builder b, PerCpuFreeList free) {
        this.arena = Arena.ofShared();
        try {
            this.blocks = new BlockMemory(arena, b.blockSize, b.alignment(), free.capacity());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        this.free = free;
        this.batch = b.capacityPerCpu;
        this.closesArena = BlockMemory.closeWhenUnreachable(arena);
    }

    /**
     * A builder of a pool of blocks of {@code blockSize} bytes.
     *
     * @throws IllegalArgumentException if {@code blockSize} is not in [1, {@value BlockMemory#MAX_BYTES}]
     */
    public static Builder builder(long blockSize) {
        if (blockSize < 1 || blockSize > BlockMemory.MAX_BYTES) {
            throw new IllegalArgumentException("blockSize must be in [1, " + BlockMemory.MAX_BYTES + "], was "
                    + blockSize);
        }
        return new Builder(blockSize);
    }

    /** Builder of memory pools; not thread-safe, reusable. */
    public static final class Builder {
        private final long blockSize;
        private long maxBlocks = -1;
        private int capacityPerCpu = 16;
        private long alignment = -1;
        private boolean checked;
        private CpuIndexing indexing = CpuIndexing.CPU;

        private Builder(long blockSize) {
            this.blockSize = blockSize;
        }

        /**
         * The most blocks the pool hands out at once (default: 65,536, or fewer so that they fit in
         * {@value BlockMemory#MAX_BYTES} bytes of address space). Address space for all of them is
         * reserved at once; memory is committed as they are first used.
         *
         * @throws IllegalArgumentException if not in [1, {@value PerCpuMemoryPool#MAX_BLOCKS}]
         *         ({@link #build()} also checks {@code maxBlocks * stride <= } {@value BlockMemory#MAX_BYTES})
         */
        public Builder maxBlocks(long maxBlocks) {
            if (maxBlocks < 1 || maxBlocks > MAX_BLOCKS) {
                throw new IllegalArgumentException("maxBlocks must be in [1, " + MAX_BLOCKS + "], was " + maxBlocks);
            }
            this.maxBlocks = maxBlocks;
            return this;
        }

        /**
         * The blocks one CPU's magazine holds (default 16): the pool carves new blocks this many at a
         * time, and half as many move between a magazine and the depot at once.
         *
         * @throws IllegalArgumentException if not in [1, {@value PerCpuFreeList.Builder#MAX_BATCH_SIZE}]
         */
        public Builder capacityPerCpu(int capacityPerCpu) {
            this.capacityPerCpu = PerCpuFreeList.checkCapacityPerCpu(capacityPerCpu);
            return this;
        }

        /**
         * The alignment of every block's address (default: the block size rounded up to a power of
         * two, at most 4096).
         *
         * @throws IllegalArgumentException if not a power of two in [1, page size]
         */
        public Builder alignment(long alignment) {
            if (alignment < 1 || Long.bitCount(alignment) != 1 || alignment > BlockMemory.maxAlignment()) {
                throw new IllegalArgumentException("alignment must be a power of two in [1, "
                        + BlockMemory.maxAlignment() + "], was " + alignment);
            }
            this.alignment = alignment;
            return this;
        }

        /** Catch every double free, racing ones too, with one atomic instruction per allocate and free. */
        public Builder checked() {
            this.checked = true;
            return this;
        }

        /** Index the lists by CPU number (default) or by concurrency id (mm_cid, Linux 6.3+). */
        public Builder indexing(CpuIndexing indexing) {
            this.indexing = Objects.requireNonNull(indexing, "indexing must not be null");
            return this;
        }

        long alignment() {
            if (alignment > 0) {
                return alignment;
            }
            long pow2 = blockSize == 1 ? 1 : Long.highestOneBit(blockSize - 1) << 1;   // blockSize rounded up
            return Math.min(Math.min(4096, BlockMemory.maxAlignment()), pow2);
        }

        long blocks() {
            if (maxBlocks > 0) {
                return maxBlocks;
            }
            return Math.max(1, Math.min(65_536, BlockMemory.MAX_BYTES / BlockMemory.stride(blockSize, alignment())));
        }

        /**
         * @throws IllegalArgumentException if {@code maxBlocks} blocks of this size and alignment
         *         exceed {@value BlockMemory#MAX_BYTES} bytes
         * @throws IllegalStateException if the address space cannot be reserved
         * @throws UnsupportedOperationException for concurrency-id indexing where rseq works but the
         *         kernel has no mm_cid
         */
        public PerCpuMemoryPool build() {
            PerCpuFreeList.Builder lists = PerCpuFreeList.builder((int) blocks()).indexing(indexing)
                    .batchSize(Math.max(1, capacityPerCpu / 2));
            return build((checked ? lists.checked() : lists).build());
        }

        /** For tests: the pool over a free-list made elsewhere (instrumented operations); maxBlocks is its capacity. */
        PerCpuMemoryPool build(PerCpuFreeList free) {
            return new PerCpuMemoryPool(this, free);
        }
    }

    public long blockSize() {
        return blocks.blockSize();
    }

    /** The alignment of every block's address: a power of two, at most the page size. */
    public long alignment() {
        return blocks.alignment();     // as configured: the range is only page-aligned, so the stride may promise more
    }

    public long maxBlocks() {
        return blocks.maxBlocks();
    }

    /** Blocks carved so far: at most {@link #maxBlocks()}; each is either allocated or free. */
    public long carved() {
        return carved;
    }

    /** Bytes of address space made usable so far (committed; touched pages count as resident memory). */
    public long committedBytes() {
        return blocks.committedBytes();
    }

    /** Blocks free in the pool now: a walk of every CPU's list, not an atomic snapshot under concurrent use. */
    public long freeBlocks() {
        return free.freeCount();
    }

    /** Whether {@link #close()} was called (or the cleaner ran). */
    public boolean isClosed() {
        return closed || !arena.scope().isAlive();
    }

    /**
     * A block of exactly {@link #blockSize()} bytes, aligned to {@link #alignment()}: a free one from
     * the current CPU's magazine or the depot, else a newly carved one (zeroed), else one taken from
     * another CPU's magazine. Never blocks for long: carving takes a lock shared by all CPUs, but only
     * while the pool grows.
     *
     * @throws OutOfMemoryError if all {@code maxBlocks} blocks are allocated (or the system has no
     *         memory left to commit); {@link #tryAllocate()} returns null for the first instead
     * @throws IllegalStateException if the pool is closed
     */
    public MemorySegment allocate() {
        MemorySegment block = tryAllocate();
        if (block == null) {
            throw new OutOfMemoryError("PerCpuMemoryPool: all maxBlocks = " + blocks.maxBlocks() + " blocks of "
                    + blocks.blockSize() + " bytes are allocated");
        }
        return block;
    }

    /**
     * {@link #allocate()}, but {@code null} when all {@code maxBlocks} blocks are allocated: for callers
     * that treat a full pool as an ordinary outcome (shed load, fall back to the heap), as {@code poll}
     * returns null on an empty queue.
     *
     * @throws OutOfMemoryError if the system has no memory left to commit for new blocks
     * @throws IllegalStateException if the pool is closed
     */
    public MemorySegment tryAllocate() {
        checkOpen();
        int handle = free.popWithoutSteal();
        if (handle < 0) {
            handle = carve();
        }
        if (handle < 0) {
            // NOTE: every block is carved: only now take from another CPU's magazine (a guard and a membarrier).
            handle = free.pop();
            if (handle < 0) {
                return null;
            }
        }
        return blocks.block(handle);
    }

    /** What this pool did and where its free blocks rest (see {@link PoolStats}): {@code created} counts blocks carved. */
    public PoolStats stats() {
        return PoolStats.of(free, carved, 0);
    }

    /**
     * Returns {@code block} to the pool, on the current CPU's list. The block must not be used
     * afterwards (writes to it are not detected; they cannot corrupt the pool, only the next holder's data).
     *
     * @throws IllegalArgumentException if {@code block} is not a block of this pool (another pool's,
     *         a heap segment, a slice, misaligned, not of blockSize bytes, never allocated)
     * @throws IllegalStateException if {@code block} is free already (see the class notes), or the pool is closed
     */
    public void free(MemorySegment block) {
        checkOpen();
        long index = blocks.indexOf(block);
        if (index >= carved) {
            // NOTE: committed memory runs ahead of carved blocks; a segment of this arena there (a
            // restricted reinterpret of a block) was never handed out, and pushing it would make the
            // next carve hand that block out a second time.
            throw new IllegalArgumentException("block " + index + " (offset " + index * blocks.stride()
                    + ") was never allocated: not a block of this pool yet");
        }
        // NOTE: checks that the block is not free already (atomically in checked mode); a push that
        // throws (no fence to be had) leaves the block allocated, so the caller may free it again.
        if (!free.tryPush((int) index)) {
            throw freedTwice(index);
        }
    }

    /**
     * Closes the pool: invalidates every block's segment, allocated or free (accessing one throws
     * {@link IllegalStateException}), and unmaps the memory. Idempotent.
     *
     * <p>Closing makes progress by itself: {@link #allocate()} and {@link #free} fail fast with
     * "pool is closed" from the moment it starts. A block passed to a native call that is still
     * running keeps the memory mapped (as {@link Arena#close()} refuses then); close waits up to
     * {@value #CLOSE_WAIT_MILLIS} ms for such calls to return, then throws. The pool then stays
     * closed to new calls with its memory mapped until a later {@code close()} (or the cleaner, once
     * the pool is unreachable) succeeds.
     *
     * @throws IllegalStateException if blocks were still in use by native calls after that wait
     */
    @Override
    public void close() {
        closed = true;          // new calls fail fast from now on
        synchronized (this) {   // not while carve() commits memory of the arena
            long deadline = System.nanoTime() + CLOSE_WAIT_MILLIS * 1_000_000L;
            for (long pause = 1_000; arena.scope().isAlive(); pause = Math.min(pause * 2, 1_000_000)) {
                try {
                    arena.close();
                } catch (IllegalStateException inUse) {
                    if (System.nanoTime() - deadline > 0) {
                        throw new IllegalStateException("a block of this pool was still in use by a native call after "
                                + CLOSE_WAIT_MILLIS + " ms: the pool is closed to new calls, its memory still mapped;"
                                + " close() again later", inUse);
                    }
                    LockSupport.parkNanos(pause);
                }
            }
        }
    }

    /** How long {@link #close()} waits for native calls that use a block to return. */
    static final long CLOSE_WAIT_MILLIS = 1_000;

    /** The index of {@code block} in this pool (see {@link BlockMemory#indexOf}): for tests and the self-test. */
    long indexOf(MemorySegment block) {
        return blocks.indexOf(block);
    }

    /**
     * Takes a handle from the carved-but-never-used blocks, carving a batch; the rest go to the current
     * magazine. Returns -1 when every block is carved.
     */
    private int carve() {
        long first;
        int n;
        synchronized (this) {
            // NOTE: another thread may have freed or carved since our pop: look again under the lock,
            // so that a burst of pops on empty magazines carves one batch, not one each.
            int handle = free.popWithoutSteal();
            if (handle >= 0) {
                return handle;
            }
            long max = blocks.maxBlocks();
            if (carved >= max) {
                return -1;
            }
            first = carved;
            n = (int) Math.min(batch, max - first);
            try {
                blocks.commit(first + n);
            } catch (IllegalStateException e) {
                checkOpen();
                OutOfMemoryError oom = new OutOfMemoryError("PerCpuMemoryPool: cannot commit memory for "
                        + (first + n) + " blocks: " + e.getMessage());
                oom.initCause(e);
                throw oom;
            }
            carved = first + n;
            PoolTotals.recordCreated(n);
        }
        for (int k = 1; k < n; k++) {
            free.give((int) (first + k));   // never throws: a block it cannot push waits in the depot
        }
        return (int) first;
    }

    private IllegalStateException freedTwice(long index) {
        return new IllegalStateException("block " + index + " (offset " + index * blocks.stride()
                + ") freed twice: it is free already");
    }

    private void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private static IllegalStateException closedException() {
        return new IllegalStateException("pool is closed");
    }

    @Override
    public String toString() {
        return "PerCpuMemoryPool[blockSize=" + blockSize() + ", alignment=" + alignment() + ", maxBlocks=" + maxBlocks()
                + ", carved=" + carved + (closed ? ", closed" : "") + "]";
    }
}
