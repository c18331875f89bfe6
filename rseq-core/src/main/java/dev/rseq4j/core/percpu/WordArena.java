package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.internal.platform.Libc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;

import static dev.rseq4j.core.internal.codegen.StubStatus.COMMITTED;

/**
 * Per-CPU 64-bit words for many small objects (counters): each word is 8 bytes in every CPU's
 * region, packed with other owners' words, because only the owning CPU writes its region on the
 * fast path. An owner keeps two fields: the {@link Chunk} its word belongs to (which keeps the
 * memory alive) and the word's {@linkplain Word#handle() handle}, from which {@link #add} finds
 * everything a fast path needs without reading any object.
 *
 * <h2>Layout</h2>
 * Memory comes in ranges: one {@link PerCpuArea} with a header line ({@link PerCpuArea#withHeaderLine}),
 * one region of {@value #STRIDE} bytes (a page) per possible CPU. Every region has the same layout:
 * <pre>
 *   offset 0      line 0: header    guard u32 | (region 0 only: area descriptor at +32)
 *   offset 64     line 1: chunk 0   word 0 | word 1 | ... | word 7
 *   offset 128    line 2: chunk 1   word 0 | ...
 *   ...
 *   offset 4032   line 63: chunk 62
 * </pre>
 * A word is the same offset in every region of its range; an owner addresses it by its address in
 * region 0. Ranges are page-aligned, so the descriptor of a word's range is at
 * {@code (word & -STRIDE) + 32}: the fast path of {@link #add} is one field read, one mask and one
 * downcall.
 *
 * <h2>Reclamation: by chunk, through the garbage collector</h2>
 * A chunk is one line (8 words) in every region. Its {@link Chunk} object is shared by the owners of
 * its words, and this arena refers to it only weakly ({@code ChunkRef}): the chunk becomes unreachable
 * exactly when its last owner does. Its reference is then enqueued, and the next allocation that
 * needs a new chunk drains the queue: it zeroes the chunk's line in every region and marks the chunk
 * free in its range. Nothing can be operating on those words then (every owner is unreachable, and
 * operations keep their chunk reachable until they return); the zeroing happens-before the next
 * owners' operations through this arena's lock and the next owners' safe publication.
 *
 * <p>Ranges are also held only weakly (the arena keeps a {@code RangeRef} per range for its
 * bookkeeping; each chunk holds its range strongly). A range whose chunks are all unreachable is
 * therefore unreachable itself: the collection that finds it also unmaps its pages (the JDK's cleaner
 * of its {@link PerCpuArea}), without waiting for any call into this arena. A range with free and
 * used chunks stays and its free chunks are reused first. So, at any time, mapped memory is bounded
 * by the live chunks (at most {@value #WORDS_PER_CHUNK} words each, however few of them are live)
 * plus what the last collection has not yet found.
 *
 * <p>That last part is bounded too. Words are small and their owners smaller, so a program that creates
 * and drops owners fast can map many ranges of garbage between two collections (a young generation
 * of gigabytes holds tens of millions of dead owners). So, like the JDK for direct buffers, an arena
 * that has {@link #gcThreshold} ranges mapped asks for a collection ({@code System.gc()}) before it
 * maps another, outside its lock (other threads map beyond the threshold meanwhile rather than
 * wait, up to twice the threshold), takes the references that collection cleared as they arrive, and sets the next threshold to
 * twice the ranges still live (at least {@link #MIN_GC_THRESHOLD_BYTES} of native memory). References
 * that arrive later lower it again, so that it follows the live ranges and never ratchets up on a
 * partial count. With {@code -XX:+DisableExplicitGC} the request does nothing: ranges then grow until
 * the next natural collection.
 *
 * <p>Why not reclaim word by word: that needs one reference object per owner (32 bytes of heap
 * each, four times a word on a 2-CPU machine); a chunk amortises one over 8 owners, at the price of
 * keeping up to 7 dead owners' words mapped beside a live one.
 *
 * <p>Thread-safety: {@link #allocate} claims a word of the current chunk with one atomic add and
 * takes this arena's lock only to open a new chunk (one allocation in {@value #WORDS_PER_CHUNK});
 * the words themselves are accessed through the per-CPU operations without locks.
 */
public final class WordArena {
    /** Bytes per region of one range: a page. */
    public static final long STRIDE = 4096;
    /** Words of one chunk: one cache line per region. */
    public static final int WORDS_PER_CHUNK = 8;
    private static final long CHUNK_BYTES = 8L * WORDS_PER_CHUNK;
    /** Chunks of one range (every line of a region but the header). */
    public static final int CHUNKS_PER_RANGE = (int) ((STRIDE - PerCpuArea.HEADER_BYTES) / CHUNK_BYTES);
    /** Words of one range. */
    public static final int WORDS_PER_RANGE = CHUNKS_PER_RANGE * WORDS_PER_CHUNK;
    /** The smallest {@link #gcThreshold}, as native bytes: 64 MiB. */
    static final long MIN_GC_THRESHOLD_BYTES = 64L << 20;

    /** Low bits of a handle (word addresses are 8-byte aligned): which operations run the fast path. */
    private static final long TAG_MASK = 7;
    private static final long TAG_CPU = 0;              // the production CPU-indexed operations
    private static final long TAG_CONCURRENCY_ID = 1;   // the production mm_cid-indexed operations
    private static final long TAG_OTHER = 2;            // an arena with other operations (tests)

    /** Regions of every range: the possible CPUs (a constant, so that sum loops unroll). */
    private static final int REGIONS = Rseq.possibleCpus();
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle CLAIMED;

    static {
        try {
            CLAIMED = MethodHandles.lookup().findVarHandle(Chunk.class, "claimed", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * The production stubs' LOAD_ADD_STORE handles, or null (lock mode, no mm_cid). Static finals:
     * the JIT folds them into direct calls. NOTE: a holder's initialiser must never throw (the class
     * would be unusable for ever), hence the null checks instead of the throwing accessors.
     */
    private static final class FastPath {
        static final MethodHandle CPU_ADD = addHandle(GuardedPerCpuOps.productionOrNull(CpuIndexing.CPU));
        static final MethodHandle CONCURRENCY_ID_ADD =
                addHandle(GuardedPerCpuOps.productionOrNull(CpuIndexing.CONCURRENCY_ID));
        /** The BATCH_LOAD_ADD_STORE handles, likewise. */
        static final MethodHandle CPU_ADD_EACH = addEachHandle(GuardedPerCpuOps.productionOrNull(CpuIndexing.CPU));
        static final MethodHandle CONCURRENCY_ID_ADD_EACH =
                addEachHandle(GuardedPerCpuOps.productionOrNull(CpuIndexing.CONCURRENCY_ID));

        private static MethodHandle addHandle(GuardedPerCpuOps ops) {
            return ops == null || ops.stubs() == null ? null : ops.stubs().loadAddStore();
        }

        private static MethodHandle addEachHandle(GuardedPerCpuOps ops) {
            return ops == null || ops.stubs() == null ? null : ops.stubs().batchLoadAddStore();
        }
    }

    private final GuardedPerCpuOps ops;
    private final long tag;
    private final ReferenceQueue<Object> dead = new ReferenceQueue<>();
    /** Where {@link #allocate} claims words; replaced (under the lock) when full; null once closed. */
    private volatile Chunk current;
    // Guarded by this:
    /** One reference per range not yet known to be dead: keeps them reachable, so that they are enqueued. */
    private final Set<RangeRef> ranges = new HashSet<>();
    /** Ranges that had free chunks when last seen (some may have died since, or filled up). */
    private final ArrayDeque<RangeRef> withFreeChunks = new ArrayDeque<>();
    private int gcThreshold;
    /** True while a thread runs {@link #collectGarbageRanges} (outside the lock). */
    private boolean collecting;
    /** Ranges other threads mapped meanwhile (at most the threshold: then they wait). */
    private int rangesMappedWhileCollecting;
    private long chunksInUse;
    private boolean closed;

    /**
     * A chunk: one line of every region of a range, shared by the owners of its words. Owners keep
     * it reachable (it keeps the range's memory mapped) and pass it to every operation.
     */
    public static final class Chunk {
        // NOTE: 24 bytes with compressed references; one per 8 owners, so every field counts.
        private final Range range;
        private final int index;        // the chunk's line in every region of the range
        @SuppressWarnings("unused")     // accessed through CLAIMED
        private volatile int claimed;   // words handed out; > WORDS_PER_CHUNK once full

        Chunk(Range range, int index) {
            this.range = range;
            this.index = index;
        }

        /**
         * Claims the next {@code words} consecutive words of this chunk (the first is returned), or returns
         * null when fewer are left: a claim that does not fit leaves the rest of the chunk unclaimed for
         * good (zeroed with the chunk, wasted until then).
         */
        Word claim(int words) {
            int i = (int) CLAIMED.getAndAdd(this, words);
            return i + words <= WORDS_PER_CHUNK
                    ? new Word(this, range.area.address(Range.chunkOffset(index) + 8L * i) | range.arena.tag) : null;
        }

        /** The offset in every region of the word whose handle is {@code handle}. */
        long offsetOf(long handle) {
            return (handle & ~TAG_MASK) - range.area.address(0);
        }

        /** The area the chunk's words are in. */
        public PerCpuArea area() {
            return range.area;
        }

        /** The arena the chunk belongs to. */
        public WordArena arena() {
            return range.arena;
        }
    }

    /**
     * A word as handed to its owner, who keeps {@code chunk} reachable while it uses the word (by
     * holding it in a field and passing it to every operation).
     *
     * @param chunk  the word's chunk
     * @param handle the word's address in region 0, with tag bits in its 3 low bits
     */
    public record Word(Chunk chunk, long handle) {
        /** The word's address in region 0. */
        public long address() {
            return handle & ~TAG_MASK;
        }

        /** The word's area: {@code chunk().area()}. */
        public PerCpuArea area() {
            return chunk.area();
        }

        /** The word's offset in every region of {@link #area()}. */
        public long offset() {
            return chunk.offsetOf(handle);
        }
    }

    /** One range: its memory, and the references of its chunks in use (held here to be enqueued). */
    private static final class Range {
        final WordArena arena;
        final PerCpuArea area;
        final RangeRef ref;
        final ChunkRef[] chunks = new ChunkRef[CHUNKS_PER_RANGE];

        Range(WordArena arena, CpuIndexing indexing) {
            this.arena = arena;
            this.area = PerCpuArea.withHeaderLine(indexing, REGIONS, STRIDE);
            this.ref = new RangeRef(this, arena.dead);
        }

        static long chunkOffset(int chunk) {
            return PerCpuArea.HEADER_BYTES + chunk * CHUNK_BYTES;
        }
    }

    /**
     * The arena's weak reference to a range, and the range's bookkeeping, which must outlive it
     * (to be read when the range dies) and must not keep it alive.
     */
    private static final class RangeRef extends WeakReference<Range> {
        long freeChunks;   // bit i: chunk i is free and zeroed
        int chunksInUse;

        RangeRef(Range range, ReferenceQueue<Object> queue) {
            super(range, queue);
        }
    }

    /** The arena's weak reference to a chunk in use; refers to its range weakly too. */
    private static final class ChunkRef extends WeakReference<Chunk> {
        final RangeRef range;
        final int index;

        ChunkRef(Chunk chunk, RangeRef range, int index, ReferenceQueue<Object> queue) {
            super(chunk, queue);
            this.range = range;
            this.index = index;
        }
    }

    /**
     * An arena with the production operations of {@code indexing}.
     *
     * @throws NullPointerException if {@code indexing} is null
     * @throws UnsupportedOperationException for {@link CpuIndexing#CONCURRENCY_ID} where rseq works but the
     *         kernel has no mm_cid
     */
    public WordArena(CpuIndexing indexing) {
        this(production(Objects.requireNonNull(indexing, "indexing must not be null")), true);
    }

    /** An arena whose words are updated with {@code ops} (tests: {@link OpsVariant}). */
    public WordArena(PerCpuOps ops) {
        this((GuardedPerCpuOps) Objects.requireNonNull(ops, "ops must not be null"), false);
    }

    private WordArena(GuardedPerCpuOps ops, boolean production) {
        this.ops = ops;
        this.tag = !production ? TAG_OTHER : ops.indexing() == CpuIndexing.CPU ? TAG_CPU : TAG_CONCURRENCY_ID;
        this.gcThreshold = minGcThreshold();
    }

    private static GuardedPerCpuOps production(CpuIndexing indexing) {
        // the counters' own kind, so that the JFR statistics tell them apart; same stubs as every kind
        return GuardedPerCpuOps.production(indexing, PerCpuStats.Kind.COUNTER);   // throws the reason where unavailable
    }

    private static int minGcThreshold() {
        return (int) Math.max(1, MIN_GC_THRESHOLD_BYTES / (STRIDE * REGIONS));
    }

    public CpuIndexing indexing() {
        return ops.indexing();
    }

    /** The operations this arena's words are updated with. */
    public PerCpuOps ops() {
        return ops;
    }

    /** Regions per range: one per possible CPU. */
    public int regions() {
        return REGIONS;
    }

    /**
     * A zeroed word. It stays the owner's while {@link Word#chunk()} is reachable from the owner.
     *
     * @throws IllegalStateException if this arena is closed
     */
    public Word allocate() {
        return allocate(1);
    }

    /**
     * {@code words} zeroed consecutive words of one chunk (cells side by side in every region's line, for
     * owners updated together: {@link #addEach}); returns the first, and word {@code i}'s handle is the
     * first's plus {@code 8 * i}. They stay the owner's while {@link Word#chunk()} is reachable.
     *
     * @throws IllegalArgumentException if {@code words} is not in [1, {@value #WORDS_PER_CHUNK}]
     * @throws IllegalStateException if this arena is closed
     */
    public Word allocate(int words) {
        if (words < 1 || words > WORDS_PER_CHUNK) {
            throw new IllegalArgumentException("words must be in [1, " + WORDS_PER_CHUNK + "], was " + words);
        }
        Chunk c = current;
        Word w = c != null ? c.claim(words) : null;
        return w != null ? w : allocateSlow(words);
    }

    private Word allocateSlow(int words) {
        boolean interrupted = false;
        try {
            for (;;) {
                synchronized (this) {
                    if (closed) {
                        throw new IllegalStateException("arena closed: " + this);
                    }
                    Chunk c = current;   // another thread may have opened a chunk meanwhile
                    Word w = c != null ? c.claim(words) : null;
                    if (w != null) {
                        return w;
                    }
                    drain();
                    Chunk fresh = reuseFreeChunk();
                    if (fresh == null && ranges.size() >= gcThreshold) {
                        if (!collecting) {
                            collecting = true;
                            rangesMappedWhileCollecting = 0;
                        } else if (ranges.size() >= 2 * gcThreshold) {
                            // NOTE: another thread collects; past twice the threshold, wait for it
                            // (bounds what a long concurrent collection lets the others map).
                            try {
                                wait(10);
                            } catch (InterruptedException e) {
                                interrupted = true;
                            }
                            continue;
                        } else {
                            rangesMappedWhileCollecting++;
                            current = chunkOfNewRange();
                            continue;
                        }
                    } else {
                        current = fresh != null ? fresh : chunkOfNewRange();
                        continue;
                    }
                }
                collectGarbageRanges();
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Maps a new range and takes its first chunk. */
    private Chunk chunkOfNewRange() {
        Range r = new Range(this, indexing());
        ranges.add(r.ref);
        r.ref.freeChunks = (1L << CHUNKS_PER_RANGE) - 1;   // CHUNKS_PER_RANGE is 63: every bit but the top one
        withFreeChunks.addFirst(r.ref);
        return takeChunk(r, 0);
    }

    private Chunk reuseFreeChunk() {
        for (RangeRef ref; (ref = withFreeChunks.peekFirst()) != null; ) {
            Range r = ref.get();
            if (r != null && ref.freeChunks != 0) {
                return takeChunk(r, Long.numberOfTrailingZeros(ref.freeChunks));
            }
            withFreeChunks.pollFirst();
        }
        return null;
    }

    private Chunk takeChunk(Range r, int index) {
        RangeRef ref = r.ref;
        ref.freeChunks &= ~(1L << index);
        if (ref.freeChunks == 0) {
            withFreeChunks.remove(ref);
        }
        ref.chunksInUse++;
        chunksInUse++;
        Chunk c = new Chunk(r, index);
        r.chunks[index] = new ChunkRef(c, ref, index, dead);
        return c;
    }

    /**
     * Asks for a collection (see "Reclamation" above), outside this arena's lock (a collection can
     * take half a second; other threads meanwhile map beyond the threshold instead of waiting),
     * then takes the references it cleared as they arrive and sets the next threshold.
     */
    private void collectGarbageRanges() {
        try {
            System.gc();
            // NOTE: cleared references reach the queue through the JDK's reference handler thread,
            // after the collection: take them until none has come for a few milliseconds (bounded).
            long deadline = System.nanoTime() + 200_000_000L;
            for (Reference<?> r; System.nanoTime() < deadline && (r = dead.remove(5)) != null; ) {
                synchronized (this) {
                    release(r);
                    drain();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            synchronized (this) {
                drain();
                // NOTE: ranges mapped during the collection were not judged by it; counting them as
                // live would ratchet the threshold up collection after collection.
                gcThreshold = Math.max(minGcThreshold(), 2 * Math.max(0, ranges.size() - rangesMappedWhileCollecting));
                collecting = false;
                notifyAll();
            }
        }
    }

    /** Processes what the collector found: dead chunks and dead ranges. */
    private void drain() {
        for (Reference<?> r; (r = dead.poll()) != null; ) {
            release(r);
        }
        // NOTE: references that arrive late (after a collection this arena asked for) lower the
        // threshold too, so that it follows the ranges that are really live.
        if (2 * ranges.size() < gcThreshold) {
            gcThreshold = Math.max(minGcThreshold(), 2 * ranges.size());
        }
        // Dead ranges leave their entries in withFreeChunks until they reach its head: drop them in
        // one pass when they could outnumber the live ranges (amortised O(1) per range).
        if (withFreeChunks.size() > 2 * ranges.size() + 16) {
            withFreeChunks.removeIf(ref -> ref.refersTo(null));
        }
        // NOTE: the zeroing stores are published by this monitor's release and, to other threads,
        // by the safe publication of the chunk's next owners.
        VarHandle.releaseFence();
    }

    /**
     * Processes one cleared reference: a dead chunk of a live range is zeroed in every region and
     * freed in its range; a dead range is forgotten (the JDK unmaps its pages).
     */
    private void release(Reference<?> r) {
        if (r instanceof ChunkRef cr) {
            RangeRef ref = cr.range;
            Range range = ref.get();
            ref.chunksInUse--;
            chunksInUse--;
            if (range != null) {
                range.chunks[cr.index] = null;
                long offset = Range.chunkOffset(cr.index);
                MemorySegment memory = range.area.memory();
                for (int c = 0; c < REGIONS; c++) {
                    for (int w = 0; w < WORDS_PER_CHUNK; w++) {
                        LONG.setOpaque(memory, c * STRIDE + offset + 8L * w, 0L);
                    }
                }
                if (ref.freeChunks == 0) {
                    withFreeChunks.addLast(ref);
                }
                ref.freeChunks |= 1L << cr.index;
            }
        } else {
            RangeRef ref = (RangeRef) r;
            if (ranges.remove(ref)) {
                chunksInUse -= ref.chunksInUse;
                ref.chunksInUse = 0;
            }
        }
    }

    /**
     * Stops allocation: later {@link #allocate} calls throw {@link IllegalStateException}. Words
     * already handed out keep working; their memory returns as their owners become unreachable.
     * Idempotent.
     */
    public synchronized void close() {
        closed = true;
        current = null;
        withFreeChunks.clear();
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /** Ranges mapped and not yet known to be unreachable (after processing what the collector found). */
    public synchronized int ranges() {
        drain();
        return ranges.size();
    }

    /** Native bytes of {@link #ranges()}: ranges x regions x {@value #STRIDE}. */
    public synchronized long nativeBytes() {
        return (long) ranges() * REGIONS * STRIDE;
    }

    /** Chunks handed out whose owners are not yet known to be unreachable. */
    public synchronized long chunksInUse() {
        drain();
        return chunksInUse;
    }

    /** The range count at which the next range asks for a collection first. */
    public synchronized int gcThreshold() {
        return gcThreshold;
    }

    // ---- operations on a word -------------------------------------------------------------------

    /**
     * {@code word += value} on the current CPU's region, atomic with respect to every operation on the
     * word; as {@link PerCpuOps#add}, with the first fast-path attempt made from the handle alone.
     */
    public static void add(Chunk chunk, long handle, long value) {
        long word = handle & ~TAG_MASK;
        long tag = handle & TAG_MASK;
        try {
            long status;
            if (tag == TAG_CPU && FastPath.CPU_ADD != null) {
                status = (long) FastPath.CPU_ADD.invokeExact(descriptorOf(word), word, value);
            } else if (tag == TAG_CONCURRENCY_ID && FastPath.CONCURRENCY_ID_ADD != null) {
                status = (long) FastPath.CONCURRENCY_ID_ADD.invokeExact(descriptorOf(word), word, value);
            } else {
                chunk.range.arena.ops.add(chunk.range.area, chunk.offsetOf(handle), value);
                return;
            }
            if (status != COMMITTED) {
                chunk.range.arena.ops.addAfterFirstAttempt(chunk.range.area, chunk.offsetOf(handle), value, status);
            }
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(chunk);
        }
    }

    /**
     * {@code word_i += value_i} for the {@code count} consecutive words from the one whose handle is
     * {@code handle} (words of one {@link #allocate(int)}), as {@link PerCpuOps#addEach}: each add atomic
     * on its own, all in one downcall, the first attempt made from the handle alone.
     *
     * @param count in [1, {@link PerCpuOps#MAX_ADD_EACH}], and the words must be the owner's (one
     *              {@link #allocate(int)} of at least that many words from this handle's)
     * @throws IllegalArgumentException if {@code count} is out of range or would pass the word's chunk
     */
    public static void addEach(Chunk chunk, long handle, int count, long value0, long value1, long value2) {
        long word = handle & ~TAG_MASK;
        long tag = handle & TAG_MASK;
        // NOTE: the count is the one argument the stub trusts that the handle does not fix (it bounds the
        // words written): checked before the downcall, and so that the adds stay in the word's chunk.
        long left = (CHUNK_BYTES - (word & CHUNK_BYTES - 1)) / 8;
        if (count < 1 || count > PerCpuOps.MAX_ADD_EACH || count > left) {
            throw new IllegalArgumentException("count must be in [1, " + Math.min(PerCpuOps.MAX_ADD_EACH, left)
                    + "] (at most " + PerCpuOps.MAX_ADD_EACH + ", within the word's chunk), was " + count);
        }
        try {
            // NOTE: one invokeExact per constant handle, as in add: a handle chosen first (a phi of the two)
            // would not fold into a direct call.
            long status;
            if (tag == TAG_CPU && FastPath.CPU_ADD_EACH != null) {
                status = (long) FastPath.CPU_ADD_EACH.invokeExact(descriptorOf(word), word, (long) count,
                        value0, value1, value2);
            } else if (tag == TAG_CONCURRENCY_ID && FastPath.CONCURRENCY_ID_ADD_EACH != null) {
                status = (long) FastPath.CONCURRENCY_ID_ADD_EACH.invokeExact(descriptorOf(word), word, (long) count,
                        value0, value1, value2);
            } else {
                chunk.range.arena.ops.addEach(chunk.range.area, chunk.offsetOf(handle), count, value0, value1, value2);
                return;
            }
            if (status != COMMITTED) {
                chunk.range.arena.ops.addEachAfterFirstAttempt(chunk.range.area, chunk.offsetOf(handle), count,
                        value0, value1, value2, status);
            }
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(chunk);
        }
    }

    /** The descriptor of the range that contains {@code word} (see the layout). */
    private static long descriptorOf(long word) {
        return (word & -STRIDE) + PerCpuArea.HEADER_DESCRIPTOR_OFFSET;
    }

    /**
     * The sum of the word over all regions, each read opaque: not an atomic snapshot (as
     * {@link PerCpuArea#sumLongOpaque}).
     */
    public static long sum(Chunk chunk, long handle) {
        long word = handle & ~TAG_MASK;
        try {
            MemorySegment all = PerCpuArea.EVERYTHING;
            if (all == null) {
                return chunk.range.area.sumLongOpaque(chunk.offsetOf(handle));
            }
            long sum = 0;
            for (int c = 0; c < REGIONS; c++) {
                sum += (long) LONG.getOpaque(all, word + c * STRIDE);
            }
            return sum;
        } finally {
            Reference.reachabilityFence(chunk);
        }
    }

    /** Takes the word's value in every region and zeroes it, as {@link PerCpuOps#sumThenReset}. */
    public static long sumThenReset(Chunk chunk, long handle) {
        return chunk.range.arena.ops.sumThenReset(chunk.range.area, chunk.offsetOf(handle));
    }

    @Override
    public String toString() {
        return "WordArena[" + indexing() + ", regions=" + REGIONS + ", ranges=" + ranges() + "]";
    }
}
