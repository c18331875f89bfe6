package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

import static dev.rseq4j.collections.RecordDescriptor.HEADER_BYTES;
import static dev.rseq4j.collections.RecordDescriptor.PADDING_TYPE_ID;
import static dev.rseq4j.collections.RecordDescriptor.recordBytes;

/**
 * Per-CPU rings of byte records (a type id and a payload) for telemetry and logs: many producer
 * threads write records, one consumer reads them, in the style of Agrona's
 * {@code ManyToOneRingBuffer}, but with one ring per CPU and no atomic instruction on the producer
 * side: a producer copies its record into the ring of the CPU it runs on and commits the ring's
 * tail inside one restartable sequence (the core's copy-then-commit), so the record appears whole
 * or not at all.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Any number of producer threads may {@link #write} concurrently; only one consumer thread at
 *       a time may {@link #read} (two concurrent readers would hand records out twice).</li>
 *   <li>{@link #write} returns {@code false} if and only if the record does not fit in the current
 *       CPU's ring now. Records are at most {@link #maxRecordLength()} bytes: at most 4096 (the copy
 *       runs inside a critical native call, during which the thread cannot reach a JVM safepoint)
 *       and at most an eighth of a ring.</li>
 *   <li>Order: records written on one CPU are read in the order they were committed; records of
 *       different CPUs have no defined order (a thread that migrates between two writes may see them
 *       read in the other order: see {@link PerCpuRingBuffer} for where that matters).</li>
 *   <li>Memory ordering: a write happens-before the read call that hands its record to the handler.</li>
 *   <li>The handler sees each record's payload as a read-only segment valid only during its call
 *       ({@link RecordHandler}); the ring reuses that memory afterwards.</li>
 *   <li>Unlike {@link PerCpuRingBuffer}'s object slots, a record is never half-written from the
 *       consumer's point of view: a producer descheduled in the middle of its copy is restarted by
 *       the kernel, so it never holds up the consumer.</li>
 * </ul>
 * Every argument is checked before any native call: {@code typeId < 1}, a null source, negative
 * offsets or lengths, or a length above {@link #maxRecordLength()} throw an exception naming the
 * parameter and its limit.
 *
 * <h2>Implementation notes</h2>
 * <pre>
 *   one native region per CPU (PerCpuArea, stride 64 + bytesPerRegion)
 *   0       8       16          64                                          64 + bytesPerRegion
 *   +-------+-------+-----------+--------------------------------------------+
 *   | guard | tail  |  padding  | ring: records (RecordDescriptor), wrapping  |
 *   +-------+-------+-----------+--------------------------------------------+
 *   heads and the producers' cached limits: {@link RingIndices}
 * </pre>
 * {@code tail} and {@code head} are byte positions that only grow; a record at position {@code p}
 * starts at ring offset {@code p & (bytesPerRegion - 1)}. A writer on region {@code r} reads the
 * tail (opaque) and its cached limit ({@code head + bytesPerRegion}, refreshed from the consumer's
 * head, acquire, when the record does not fit below it; a stale head only makes the check stricter).
 * If the record would cross the ring's end it first commits a padding record up to the end
 * ({@code storeThenCommit}), then writes the record at the start ({@code copyThenCommit}: header
 * word, payload, tail). Both commits are store-releases (plain stores on x86_64), and name region
 * {@code r}: if another writer moved the tail first, or the thread migrated, the writer starts over
 * on the region it runs on then. The consumer reads a region's tail with an acquire load, hands out
 * the records below it, then publishes the new head with a release store after the handler returned
 * (so a writer reuses the bytes only after the handler is done with them).
 */
public final class PerCpuRecordRingBuffer {
    /** Rings hold at least this many bytes each. */
    public static final int MIN_BYTES_PER_REGION = 256;
    /** Rings hold at most this many bytes each (after rounding up to a power of two). */
    public static final int MAX_BYTES_PER_REGION = 1 << 30;

    /** Region words: the guard at 0, the tail at 8; the ring starts on the next cache line. */
    private static final long TAIL = 8;
    private static final long DATA = 64;
    /** The kind this structure's operations count under (JFR {@code dev.rseq4j.PerCpuStatistics}). */
    private static final PerCpuStats.Kind KIND = PerCpuStats.Kind.RECORD_RING;

    private final PerCpuOps ops;
    private final PerCpuArea area;
    private final int regions;
    private final int bytesPerRegion;
    private final long mask;
    private final int maxRecordLength;
    /** Per region: the head (consumer only) and the producers' cached limit. */
    private final RingIndices indices;
    /** Per region: its ring, read-only, for the handler's views. */
    private final MemorySegment[] rings;

    // Consumer state (one consumer thread at a time).
    private int cursor;
    /** Whether a read is running: plain, as the consumer is one thread; catches a handler that reads again. */
    private boolean reading;

    /**
     * Empty rings of {@code bytesPerRegion} bytes (rounded up to a power of two) per possible CPU,
     * indexed by CPU number.
     *
     * @throws IllegalArgumentException if {@code bytesPerRegion} is not in
     *         [{@value #MIN_BYTES_PER_REGION}, {@value #MAX_BYTES_PER_REGION}]
     */
    public PerCpuRecordRingBuffer(int bytesPerRegion) {
        this(PerCpuOps.cpuIndexed(KIND), bytesPerRegion);
    }

    /** For tests and the builder: rings over the given operations (instrumented, lock mode, mm_cid). */
    PerCpuRecordRingBuffer(PerCpuOps ops, int bytesPerRegion) {
        this.ops = Objects.requireNonNull(ops, "ops must not be null");
        this.bytesPerRegion = roundBytes(bytesPerRegion);
        this.mask = this.bytesPerRegion - 1;
        this.maxRecordLength = (int) Math.min(PerCpuOps.MAX_COPY_BYTES, this.bytesPerRegion / 8 - HEADER_BYTES);
        this.area = PerCpuArea.forPossibleCpus(ops.indexing(), DATA + this.bytesPerRegion);
        this.regions = area.regions();
        this.indices = new RingIndices(regions, this.bytesPerRegion);
        this.rings = new MemorySegment[regions];
        for (int r = 0; r < regions; r++) {
            rings[r] = area.region(r).asSlice(DATA, this.bytesPerRegion).asReadOnly();
        }
    }

    static int roundBytes(int bytesPerRegion) {
        if (bytesPerRegion < MIN_BYTES_PER_REGION || bytesPerRegion > MAX_BYTES_PER_REGION) {
            throw new IllegalArgumentException("bytesPerRegion must be in [" + MIN_BYTES_PER_REGION + ", "
                    + MAX_BYTES_PER_REGION + "], was " + bytesPerRegion);
        }
        return Integer.highestOneBit(bytesPerRegion - 1) << 1;
    }

    /**
     * A builder of rings of {@code bytesPerRegion} bytes (rounded up to a power of two).
     *
     * @throws IllegalArgumentException if {@code bytesPerRegion} is not in
     *         [{@value #MIN_BYTES_PER_REGION}, {@value #MAX_BYTES_PER_REGION}]
     */
    public static Builder builder(int bytesPerRegion) {
        roundBytes(bytesPerRegion);
        return new Builder(bytesPerRegion);
    }

    /** Builder of record rings; not thread-safe, reusable. */
    public static final class Builder {
        private final int bytesPerRegion;
        private CpuIndexing indexing = CpuIndexing.CPU;

        private Builder(int bytesPerRegion) {
            this.bytesPerRegion = bytesPerRegion;
        }

        /** Index rings by CPU number (default) or by concurrency id (mm_cid, Linux 6.3+). */
        public Builder indexing(CpuIndexing indexing) {
            this.indexing = Objects.requireNonNull(indexing, "indexing must not be null");
            return this;
        }

        /**
         * @throws UnsupportedOperationException for concurrency-id indexing where rseq works but the
         *         kernel has no mm_cid
         */
        public PerCpuRecordRingBuffer build() {
            return new PerCpuRecordRingBuffer(indexing == CpuIndexing.CPU ? PerCpuOps.cpuIndexed(KIND)
                    : PerCpuOps.concurrencyIdIndexed(KIND), bytesPerRegion);
        }
    }

    // ---------------------------------------------------------------- producers

    /**
     * Copies {@code src[offset, offset + length)} as one record of type {@code typeId} into the
     * current CPU's ring.
     *
     * <p><b>Not FIFO per producer:</b> a thread that runs on another CPU than at its previous write
     * may see this record read before that one; only records written on one CPU keep their order.
     *
     * @return {@code false} if and only if the record does not fit in that ring now
     * @throws IllegalArgumentException if {@code typeId < 1} or {@code length} is above {@link #maxRecordLength()}
     * @throws NullPointerException if {@code src} is null
     * @throws IndexOutOfBoundsException if {@code offset} or {@code length} is negative, or
     *         {@code offset + length > src.length}
     */
    public boolean write(int typeId, byte[] src, int offset, int length) {
        Objects.requireNonNull(src, "src must not be null");
        if (offset < 0 || length < 0 || offset > src.length - length) {
            throw new IndexOutOfBoundsException("offset " + offset + " and length " + length
                    + " must be non-negative with offset + length <= src.length " + src.length);
        }
        checkRecord(typeId, length);
        // NOTE: a heap segment per call (56 bytes; the JIT cannot elide it because the operation's
        // slow path takes it too), and a slice only when the record is part of the array.
        MemorySegment heap = MemorySegment.ofArray(src);
        return commit(typeId, offset == 0 ? heap : heap.asSlice(offset, length), length);
    }

    /**
     * Copies all of {@code src} (heap or native; not this ring's memory) as one record of type
     * {@code typeId} into the current CPU's ring.
     *
     * <p>A native {@code src} is first copied by Java into a reused heap staging buffer:
     * native code reads only the ring's own memory and the Java heap, never the caller's, because the
     * caller's can fault (a mapped file truncated under it raises SIGBUS, which kills the JVM inside
     * native code). Such a fault throws here, as it does in {@link MemorySegment#copy}, before anything
     * is committed; the ring is unchanged. {@link #write(int, byte[], int, int)} copies straight from
     * the array.
     *
     * @return {@code false} if and only if the record does not fit in that ring now
     * @throws IllegalArgumentException if {@code typeId < 1} or {@code src.byteSize()} is above {@link #maxRecordLength()}
     * @throws NullPointerException if {@code src} is null
     * @throws IllegalStateException if {@code src}'s arena is closed
     * @throws InternalError if reading {@code src} faults (a mapped file truncated under it); nothing is written
     */
    public boolean write(int typeId, MemorySegment src) {
        Objects.requireNonNull(src, "src must not be null");
        long length = src.byteSize();
        checkRecord(typeId, length);
        return commit(typeId, src, (int) length);
    }

    private void checkRecord(int typeId, long length) {
        if (typeId < 1) {
            throw new IllegalArgumentException("typeId must be at least 1, was " + typeId);
        }
        if (length > maxRecordLength) {
            throw new IllegalArgumentException("length must be at most maxRecordLength() " + maxRecordLength
                    + ", was " + length);
        }
    }

    private boolean commit(int typeId, MemorySegment src, int length) {
        PerCpuOps ops = this.ops;
        long bytes = recordBytes(length);
        int region = ops.currentIndex(area);
        for (;;) {
            long tail = area.getLongOpaque(region, TAIL);
            long offset = tail & mask;
            long toEnd = bytesPerRegion - offset;
            long needed = bytes <= toEnd ? bytes : toEnd + bytes;
            if (tail + needed > indices.lpLimit(region) && tail + needed > indices.refreshLimit(region)) {
                return false;
            }
            if (bytes <= toEnd) {
                if (ops.copyThenCommit(area, region, TAIL, tail, DATA + offset, typeId, src, length, tail + bytes)) {
                    return true;
                }
            } else if (ops.storeThenCommit(area, region, TAIL, tail, DATA + offset, RecordDescriptor.padding(toEnd),
                    tail + toEnd)) {
                continue;   // padded up to the end (the check above counted it): the record goes at offset 0
            }
            // NOTE: another writer moved the tail first, or this thread migrated: start over where it runs now.
            region = ops.currentIndex(area);
        }
    }

    // ---------------------------------------------------------------- consumer

    /**
     * Hands every record available now to {@code handler}, ring after ring (the first ring visited
     * rotates from call to call).
     *
     * @return the number of records handed out
     */
    public int read(RecordHandler handler) {
        return read(handler, Integer.MAX_VALUE);
    }

    /**
     * Hands up to {@code limit} available records to {@code handler}, ring after ring; the next call
     * starts with the ring after the last one this call visited, so no ring starves another. A record
     * is consumed once its handler call starts: if the handler throws, that record is not redelivered
     * (the records before it are consumed too, the ones after it are not).
     *
     * @return the number of records handed out
     * @throws NullPointerException if {@code handler} is null
     * @throws IllegalArgumentException if {@code limit} is not positive
     * @throws IllegalStateException if called from inside a handler of this ring (the outer call has not
     *         published its progress, so the inner one would deliver the same records again); or if a
     *         record header is corrupt (its length reaches past the ring's end or tail): only a write into the ring's memory that bypassed this class can do that;
     *         the records before it are consumed, the ring stays stuck at it
     */
    public int read(RecordHandler handler, int limit) {
        Objects.requireNonNull(handler, "handler must not be null");
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive, was " + limit);
        }
        if (reading) {
            throw new IllegalStateException("read called from inside a RecordHandler: the outer read has not "
                    + "published its head yet, so the records would be delivered twice");
        }
        reading = true;
        try {
            int read = 0;
            int region = cursor;
            for (int visited = 0; visited < regions && read < limit; visited++) {
                read += readRegion(region, handler, limit - read);
                region = region + 1 == regions ? 0 : region + 1;
            }
            cursor = region;
            return read;
        } finally {
            reading = false;
        }
    }

    private int readRegion(int region, RecordHandler handler, int limit) {
        long start = indices.lpHead(region);
        // NOTE: acquire: pairs with the writers' release commits, so every record below the tail is whole.
        long tail = area.getLongAcquire(region, TAIL);
        if (start >= tail) {
            return 0;
        }
        MemorySegment ring = rings[region];
        long head = start;
        int read = 0;
        try {
            while (head < tail && read < limit) {
                long at = head & mask;
                long header = ring.get(ValueLayout.JAVA_LONG, at);
                int length = RecordDescriptor.length(header);
                int typeId = RecordDescriptor.typeId(header);
                if (length < 0 || length > bytesPerRegion - at - HEADER_BYTES || head + HEADER_BYTES + length > tail) {
                    // NOTE: cannot happen while every write goes through the operations (the header is
                    // committed with its record); a wild write into the ring's memory must not send the
                    // consumer off into other records or past the tail.
                    throw new IllegalStateException("corrupt record header " + Long.toHexString(header) + " in region "
                            + region + " at position " + head + " (tail " + tail + ")");
                }
                if (typeId == PADDING_TYPE_ID) {
                    head += HEADER_BYTES + length;
                    continue;
                }
                head += recordBytes(length);
                read++;
                handler.onRecord(typeId, ring.asSlice(at + HEADER_BYTES, length));
            }
        } finally {
            // NOTE: release, after the handler returned: a writer that sees this head (acquire) may
            // overwrite the bytes, and the handler is done with them.
            indices.soHead(region, head);
        }
        return read;
    }

    // ---------------------------------------------------------------- any thread

    /** The largest payload one record may have: min(4096, bytesPerRegion / 8 - 8). */
    public int maxRecordLength() {
        return maxRecordLength;
    }

    /** The bytes of each ring (the constructor's argument rounded up to a power of two). */
    public int bytesPerRegion() {
        return bytesPerRegion;
    }

    /** The number of rings: one per possible CPU (or concurrency id). */
    public int regions() {
        return regions;
    }

    /**
     * Bytes in all rings not yet read (headers and padding included): exact when writers and the
     * reader are quiescent, always in [0, {@code regions() * bytesPerRegion()}], and while they run at
     * most what the rings held at once at some moment of the call (as {@link PerCpuRingBuffer#size()}).
     */
    public long size() {
        return indices.occupancy(area, TAIL);
    }

    /** Whether writers commit with restartable sequences ({@code false} in lock mode). */
    public boolean restartable() {
        return ops.restartable();
    }

    /**
     * Counts of rare events (aborts, slow paths) of this ring's operations, for diagnostics: shared by every
     * record ring buffer of the same indexing (not per ring), and by no other kind of structure.
     */
    public OperationStats stats() {
        return OperationStats.of(ops);
    }

    @Override
    public String toString() {
        return "PerCpuRecordRingBuffer[regions=" + regions + ", bytesPerRegion=" + bytesPerRegion + ", size=" + size()
                + ", restartable=" + restartable() + "]";
    }
}
