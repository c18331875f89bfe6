package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.codegen.StubStatus;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Each {@link Operation} written in Java, on one region, with the same results as the stubs. Used
 * by the slow path and lock mode (under the region's guard: no other writer; the guard's release
 * store publishes the writes) and by the tests as the reference semantics.
 *
 * <p>NOTE: word stores are opaque, not plain: readers such as {@code PerCpuCounter.sum()} read these
 * words concurrently with opaque reads, and the Java memory model lets a plain 64-bit store tear.
 * Opaque costs nothing more on x86_64 and arm64 (an ordinary aligned 64-bit store).
 */
public final class PortableOperations {
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private PortableOperations() {
    }

    /** Opaque store of a region word: single-copy atomic for concurrent opaque readers. */
    public static void storeOpaque(MemorySegment region, long offset, long value) {
        LONG.setOpaque(region, offset, value);
    }

    public static long loadAddStore(MemorySegment region, long offset, long value) {
        storeOpaque(region, offset, region.get(JAVA_LONG, offset) + value);
        return StubStatus.COMMITTED;
    }

    /**
     * The sections of a batch, on one region: {@code count} adds to consecutive words from {@code offset},
     * {@code value0} first. Values past {@code count} are ignored.
     */
    public static long batchLoadAddStore(MemorySegment region, long offset, int count, long value0, long value1,
                                         long value2) {
        loadAddStore(region, offset, value0);
        if (count > 1) {
            loadAddStore(region, offset + Operation.BATCH_WORD_STRIDE, value1);
        }
        if (count > 2) {
            loadAddStore(region, offset + 2 * Operation.BATCH_WORD_STRIDE, value2);
        }
        return StubStatus.COMMITTED;
    }

    public static long loadCompareStore(MemorySegment region, long offset, long expected, long newValue) {
        if (region.get(JAVA_LONG, offset) != expected) {
            return StubStatus.FAILED;
        }
        storeOpaque(region, offset, newValue);
        return StubStatus.COMMITTED;
    }

    /**
     * The reservation of {@code n} slots: {@link StubStatus#indexed} with index 0 (the slow path adds the
     * region's), and the low 32 bits of the old word as its value. The limit is read opaque: Java code
     * stores it without the guard.
     */
    public static long loadLimitAddStore(MemorySegment region, long offset, long limitOffset, long n) {
        long v = region.get(JAVA_LONG, offset);
        if (Long.compareUnsigned(v + n, (long) LONG.getOpaque(region, limitOffset)) > 0) {
            return StubStatus.indexed(StubStatus.FAILED, 0);
        }
        storeOpaque(region, offset, v + n);
        return StubStatus.withValue(StubStatus.indexed(StubStatus.COMMITTED, 0), v);
    }

    /** {@code nodeOffset} is the node's offset in {@code pool}; the list stores its address. */
    public static long listPush(MemorySegment region, long headOffset, MemorySegment pool, long nodeOffset,
                                long nextOffset) {
        long head = region.get(JAVA_LONG, headOffset);
        pool.set(JAVA_LONG, nodeOffset + nextOffset, head);
        // NOTE: node.next first, then the head with a release store, as the stubs publish a node
        // (stlr on arm64). Under the guard, the guard's release store already publishes both to the
        // region's next owner; the release here keeps the order for anyone who reads the head
        // without the guard (and acquires or depends on it): with an opaque or plain store, arm64
        // could make the new head visible before the node's next pointer.
        LONG.setRelease(region, headOffset, pool.address() + nodeOffset);
        return StubStatus.COMMITTED;
    }

    /**
     * {@code lastNodeOffset} is the offset of the pool's last node: heads beyond it are corrupt;
     * {@code nodeMask} is {@code nodeSize - 1} (a power of two): heads between nodes are corrupt.
     * Both checks come before the load, as in the stubs, so a corrupt head is neither dereferenced
     * nor unlinked.
     */
    public static long listPop(MemorySegment region, long headOffset, long nextOffset, MemorySegment pool,
                               long lastNodeOffset, long nodeMask) {
        long head = region.get(JAVA_LONG, headOffset);
        if (head == 0) {
            return StubStatus.FAILED;
        }
        long offset = head - pool.address();
        if (offset < 0 || offset > lastNodeOffset) {   // same unsigned range check as the stubs
            return StubStatus.CORRUPT;
        }
        if (((head ^ pool.address()) & nodeMask) != 0) { // same alignment check as the stubs
            return StubStatus.CORRUPT;
        }
        storeOpaque(region, headOffset, pool.get(JAVA_LONG, offset + nextOffset));
        return head;
    }

    public static long loadCompareTrystoreStore(MemorySegment region, long counterOffset, long expected,
                                                long slotOffset, long value, long newCounter) {
        if (region.get(JAVA_LONG, counterOffset) != expected) {
            return StubStatus.FAILED;
        }
        storeOpaque(region, slotOffset, value);
        storeOpaque(region, counterOffset, newCounter);
        return StubStatus.COMMITTED;
    }

    /** A framed record: the header word, then {@code header & 0xFFFFFFFF} payload bytes of {@code src} after it. */
    public static long loadCompareMemcpyStore(MemorySegment region, long counterOffset, long expected,
                                              long dstOffset, long header, MemorySegment src, long newCounter) {
        if (region.get(JAVA_LONG, counterOffset) != expected) {
            return StubStatus.FAILED;
        }
        storeOpaque(region, dstOffset, header);
        MemorySegment.copy(src, 0, region, dstOffset + Operation.RECORD_HEADER_BYTES, header & 0xFFFF_FFFFL);
        storeOpaque(region, counterOffset, newCounter);
        return StubStatus.COMMITTED;
    }

    /** The region offset of slot {@code n} of an array stack whose first slot is at {@code slotsOffset}. */
    private static long slot(long slotsOffset, long n) {
        return slotsOffset + n * Operation.ARRAY_SLOT_BYTES;
    }

    /**
     * The pop of an array stack: {@link StubStatus#indexed} with index 0 (the slow path adds the region's),
     * the element as its value; CORRUPT, as the stubs, for a count beyond the array (nothing read).
     */
    public static long arrayPop(MemorySegment region, long countOffset, long slotsOffset, long capacity) {
        long n = region.get(JAVA_LONG, countOffset);
        if (n == 0) {
            return StubStatus.indexed(StubStatus.FAILED, 0);
        }
        if (Long.compareUnsigned(n, capacity) > 0) {
            return StubStatus.CORRUPT;
        }
        long v = region.get(JAVA_LONG, slot(slotsOffset, n - 1));
        storeOpaque(region, countOffset, n - 1);
        return StubStatus.withValue(StubStatus.indexed(StubStatus.COMMITTED, 0), v);
    }

    public static long arrayPush(MemorySegment region, long countOffset, long slotsOffset, long capacity, long value) {
        long n = region.get(JAVA_LONG, countOffset);
        if (Long.compareUnsigned(n, capacity) >= 0) {
            return StubStatus.FAILED;
        }
        storeOpaque(region, slot(slotsOffset, n), value);
        LONG.setRelease(region, countOffset, n + 1);    // NOTE: as listPush: the slot before the count
        return StubStatus.COMMITTED;
    }

    /** The top {@code n} elements into {@code dst[0..n)}, bottom first, as the stubs copy them. */
    public static long arrayCopyOut(MemorySegment region, long countOffset, long slotsOffset, long capacity, long n,
                                    MemorySegment dst) {
        long c = region.get(JAVA_LONG, countOffset);
        if (Long.compareUnsigned(c, capacity) > 0) {
            return StubStatus.CORRUPT;
        }
        if (Long.compareUnsigned(c, n) < 0) {
            return StubStatus.FAILED;
        }
        MemorySegment.copy(region, slot(slotsOffset, c - n), dst, 0, n * Operation.ARRAY_SLOT_BYTES);
        storeOpaque(region, countOffset, c - n);
        return StubStatus.COMMITTED;
    }

    /** {@code src[0..n)} onto the array stack, {@code src[n - 1]} on top, as the stubs copy them. */
    public static long arrayCopyIn(MemorySegment region, long countOffset, long slotsOffset, long capacity, long n,
                                   MemorySegment src) {
        long c = region.get(JAVA_LONG, countOffset);
        if (Long.compareUnsigned(c, capacity) > 0) {
            return StubStatus.CORRUPT;
        }
        if (c + n > capacity) {
            return StubStatus.FAILED;
        }
        MemorySegment.copy(src, 0, region, slot(slotsOffset, c), n * Operation.ARRAY_SLOT_BYTES);
        LONG.setRelease(region, countOffset, c + n);    // NOTE: as arrayPush
        return StubStatus.COMMITTED;
    }
}
