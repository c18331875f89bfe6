package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.codegen.StubStatus;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Each {@link Operation} written in Java, on one region, with the same results as the stubs. Used
 * by the slow path and lock mode (under the region's guard, so plain accesses suffice: the guard's
 * release store publishes them) and by the tests as the reference semantics.
 */
public final class PortableOperations {
    private PortableOperations() {
    }

    public static long loadAddStore(MemorySegment region, long offset, long value) {
        region.set(JAVA_LONG, offset, region.get(JAVA_LONG, offset) + value);
        return StubStatus.COMMITTED;
    }

    public static long loadCompareStore(MemorySegment region, long offset, long expected, long newValue) {
        if (region.get(JAVA_LONG, offset) != expected) {
            return StubStatus.FAILED;
        }
        region.set(JAVA_LONG, offset, newValue);
        return StubStatus.COMMITTED;
    }

    /** {@code nodeOffset} is the node's offset in {@code pool}; the list stores its address. */
    public static long listPush(MemorySegment region, long headOffset, MemorySegment pool, long nodeOffset,
                                long nextOffset) {
        long head = region.get(JAVA_LONG, headOffset);
        pool.set(JAVA_LONG, nodeOffset + nextOffset, head);
        region.set(JAVA_LONG, headOffset, pool.address() + nodeOffset);
        return StubStatus.COMMITTED;
    }

    /** {@code lastNodeOffset} is the offset of the pool's last node: heads beyond it are corrupt. */
    public static long listPop(MemorySegment region, long headOffset, long nextOffset, MemorySegment pool,
                               long lastNodeOffset) {
        long head = region.get(JAVA_LONG, headOffset);
        if (head == 0) {
            return StubStatus.FAILED;
        }
        long offset = head - pool.address();
        if (offset < 0 || offset > lastNodeOffset) {   // same unsigned range check as the stubs
            return StubStatus.CORRUPT;
        }
        // The stubs do not check alignment (an in-pool load is safe either way); neither do we.
        region.set(JAVA_LONG, headOffset, pool.get(ValueLayout.JAVA_LONG_UNALIGNED, offset + nextOffset));
        return head;
    }

    public static long loadCompareTrystoreStore(MemorySegment region, long counterOffset, long expected,
                                                long slotOffset, long value, long newCounter) {
        if (region.get(JAVA_LONG, counterOffset) != expected) {
            return StubStatus.FAILED;
        }
        region.set(JAVA_LONG, slotOffset, value);
        region.set(JAVA_LONG, counterOffset, newCounter);
        return StubStatus.COMMITTED;
    }

    public static long loadCompareMemcpyStore(MemorySegment region, long counterOffset, long expected,
                                              long dstOffset, MemorySegment src, long length, long newCounter) {
        if (region.get(JAVA_LONG, counterOffset) != expected) {
            return StubStatus.FAILED;
        }
        MemorySegment.copy(src, 0, region, dstOffset, length);
        region.set(JAVA_LONG, counterOffset, newCounter);
        return StubStatus.COMMITTED;
    }

}
