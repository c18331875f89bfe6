package dev.rseq4j.core.internal.codegen;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The area descriptor: the one memory layout that both Java ({@code PerCpuArea} writes it) and
 * every stub (reads it as its first argument) know. Offsets are computed once, from the layout;
 * the generators, the Java side and the tests (the arm64 harness gets them as C constants) read
 * them from here.
 *
 * <pre>
 *   0               8               16      20      24              32
 *   +---------------+---------------+-------+-------+---------------+
 *   | guard0        | stride        | count | (pad) | (reserved)    |
 *   +---------------+---------------+-------+-------+---------------+
 *   guard0  u64  address of region 0's u32 guard word; region r's is guard0 + r * stride
 *   stride  u64  bytes between regions (a multiple of 64)
 *   count   u32  number of regions; a stub returns INDEX_INVALID for an index &gt;= count
 * </pre>
 * 32 bytes, 32-byte aligned (one cache line never splits it), immutable once written: a stub reads
 * it without ordering because it is published with the area before any operation can see it.
 */
public final class AreaDescriptor {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("guard0"),
            JAVA_LONG.withName("stride"),
            JAVA_INT.withName("count"),
            MemoryLayout.paddingLayout(12)).withName("area_descriptor").withByteAlignment(32);

    public static final int GUARD0 = (int) LAYOUT.byteOffset(groupElement("guard0"));
    public static final int STRIDE = (int) LAYOUT.byteOffset(groupElement("stride"));
    public static final int COUNT = (int) LAYOUT.byteOffset(groupElement("count"));
    public static final int SIZE = (int) LAYOUT.byteSize();

    private AreaDescriptor() {
    }

    /** Writes a descriptor into {@code descriptor} (at least {@link #SIZE} bytes, 32-byte aligned). */
    public static void write(MemorySegment descriptor, long guard0, long stride, int count) {
        descriptor.set(JAVA_LONG, GUARD0, guard0);
        descriptor.set(JAVA_LONG, STRIDE, stride);
        descriptor.set(JAVA_INT, COUNT, count);
    }
}
