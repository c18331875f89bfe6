package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every entry point rejects bad input with a clear exception before any native call (the checks run before the mode matters). */
class BadInputTest {
    private final PerCpuOps ops = PerCpuOps.cpuIndexed();
    private final PerCpuArea area = new PerCpuArea(CpuIndexing.CPU, 2, 128, 0);
    private final NodePool pool = new NodePool(4, 16, 8);
    private final MemorySegment src = MemorySegment.ofArray(new byte[16]);

    private static void rejects(String mustMention, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(mustMention), "message '" + e.getMessage() + "' should mention " + mustMention);
    }

    private static void rejectsNull(String parameter, Executable call) {
        NullPointerException e = assertThrows(NullPointerException.class, call);
        assertTrue(e.getMessage().startsWith(parameter + " must not be null"), e.getMessage());
    }

    @Test
    void nullArea() {
        rejectsNull("area", () -> ops.add(null, 8, 1));
        rejectsNull("area", () -> ops.addEach(null, 8, 1, 1, 0, 0));
        rejectsNull("area", () -> ops.compareAndStore(null, 0, 8, 0, 1));
        rejectsNull("area", () -> ops.compareAndStoreCurrent(null, 8, 0, 1));
        rejectsNull("area", () -> ops.reserveCurrent(null, 8, 16, 1));
        rejectsNull("area", () -> ops.push(null, 8, pool, 0));
        rejectsNull("area", () -> ops.pop(null, 8, pool));
        rejectsNull("area", () -> ops.storeThenCommit(null, 0, 8, 0, 16, 1, 1));
        rejectsNull("area", () -> ops.copyThenCommit(null, 0, 8, 0, 16, 7, src, 8, 1));
        rejectsNull("area", () -> ops.currentIndex(null));
        rejectsNull("area", () -> ops.popBatch(null, 0, 8, pool, new int[1], 1));
    }

    private static PerCpuArea cpuArea(int regions, long stride, long guardOffset) {
        return new PerCpuArea(CpuIndexing.CPU, regions, stride, guardOffset);
    }

    @Test
    void areaShape() {
        rejectsNull("indexing", () -> new PerCpuArea(null, 1, 64, 0));
        rejects("regions", () -> cpuArea(0, 64, 0));
        rejects("regions", () -> cpuArea(-1, 64, 0));
        rejects("regions", () -> cpuArea(PerCpuArea.MAX_REGIONS + 1, 64, 0));
        rejects("stride", () -> cpuArea(1, 0, 0));
        rejects("stride", () -> cpuArea(1, 100, 0));
        rejects("stride", () -> cpuArea(1, -64, 0));
        rejects("regions * stride", () -> cpuArea(1 << 16, 1L << 30, 0));
        rejects("guardOffset", () -> cpuArea(1, 64, 4));
        rejects("guardOffset", () -> cpuArea(1, 64, 64));
        rejects("guardOffset", () -> cpuArea(1, 64, -8));
        assertThrows(IndexOutOfBoundsException.class, () -> area.region(2));
        assertThrows(IndexOutOfBoundsException.class, () -> area.region(-1));
    }

    @Test
    void wordOffsets() {
        rejects("offset", () -> ops.add(area, -8, 1));
        rejects("offset", () -> ops.add(area, 12, 1));
        rejects("offset", () -> ops.add(area, 128, 1));
        rejects("offset", () -> ops.add(area, Long.MAX_VALUE - 7, 1));
        rejects("guard", () -> ops.add(area, 0, 1));
        rejects("count must be in [1, 3], was 0", () -> ops.addEach(area, 8, 0, 1, 1, 1));
        rejects("count must be in [1, 3], was 4", () -> ops.addEach(area, 8, 4, 1, 1, 1));
        rejects("count must be in [1, 3], was -1", () -> ops.addEach(area, 8, -1, 1, 1, 1));
        rejects("offset", () -> ops.addEach(area, 12, 1, 1, 1, 1));
        rejects("offset must be in [0, 104] for length 24", () -> ops.addEach(area, 112, 3, 1, 1, 1));
        rejects("guard", () -> ops.addEach(area, 0, 2, 1, 1, 1));
        PerCpuArea guardInside = cpuArea(2, 128, 16);
        rejects("must not overlap", () -> ops.addEach(guardInside, 8, 2, 1, 1, 1));
        rejects("offset", () -> ops.compareAndStore(area, 0, 121, 0, 1));
        rejects("offset", () -> ops.compareAndStoreCurrent(area, 121, 0, 1));
        rejects("offset", () -> ops.compareAndStoreCurrent(area, 128, 0, 1));
        rejects("guard", () -> ops.compareAndStoreCurrent(area, 0, 0, 1));
        rejects("offset", () -> ops.reserveCurrent(area, 12, 16, 1));
        rejects("limitOffset", () -> ops.reserveCurrent(area, 8, 128, 1));
        rejects("limitOffset", () -> ops.reserveCurrent(area, 8, 0, 1));
        rejects("limitOffset must differ from offset", () -> ops.reserveCurrent(area, 8, 8, 1));
        rejects("n must be in [1, ", () -> ops.reserveCurrent(area, 8, 16, 0));
        rejects("n must be in [1, ", () -> ops.reserveCurrent(area, 8, 16, -1));
        rejects("headOffset", () -> ops.pop(area, 200, pool));
        rejects("counterOffset", () -> ops.storeThenCommit(area, 0, 3, 0, 16, 1, 1));
        rejects("slotOffset", () -> ops.storeThenCommit(area, 0, 8, 0, 0, 1, 1));
        rejects("slotOffset", () -> ops.storeThenCommit(area, 0, 8, 0, 1 << 20, 1, 1));
        rejects("slotOffset must differ from counterOffset", () -> ops.storeThenCommit(area, 0, 8, 0, 8, 1, 1));
    }

    @Test
    void regionIndex() {
        for (int bad : new int[] {-1, area.regions(), Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            rejectsIndex(() -> ops.compareAndStore(area, bad, 8, 0, 1));
            rejectsIndex(() -> ops.storeThenCommit(area, bad, 8, 0, 16, 1, 1));
            rejectsIndex(() -> ops.copyThenCommit(area, bad, 8, 0, 16, 7, src, 8, 1));
            rejectsIndex(() -> ops.popBatch(area, bad, 8, pool, new int[4], 4));
        }
    }

    private static void rejectsIndex(Executable call) {
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, call);
        assertTrue(e.getMessage().startsWith("region index must be in [0, "), e.getMessage());
    }

    @Test
    void listNodes() {
        rejectsNull("pool", () -> ops.push(area, 8, null, 0));
        rejectsNull("pool", () -> ops.pop(area, 8, null));
        assertThrows(IndexOutOfBoundsException.class, () -> ops.push(area, 8, pool, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> ops.push(area, 8, pool, -1));
        rejects("capacity", () -> new NodePool(0, 16, 0));
        rejects("nodeSize", () -> new NodePool(1, 12, 0));
        rejects("nodeSize", () -> new NodePool(1, 0, 0));
        // multiples of 8 that are not powers of two: the pop stub's alignment check is a mask
        rejects("nodeSize must be a power of two", () -> new NodePool(1, 24, 0));
        rejects("nodeSize must be a power of two", () -> new NodePool(1, 48, 8));
        rejects("nodeSize must be a power of two", () -> new NodePool(1, NodePool.MAX_NODE_SIZE - 8, 0));
        rejects("nodeSize", () -> new NodePool(1, 2 * NodePool.MAX_NODE_SIZE, 0));
        rejects("nodeSize", () -> new NodePool(1, -16, 0));
        rejects("nextOffset", () -> new NodePool(1, 16, 16));
        rejects("nextOffset", () -> new NodePool(1, 16, 4));
    }

    @Test
    void popBatchArguments() {
        int[] into = new int[4];
        rejectsNull("pool", () -> ops.popBatch(area, 0, 8, null, into, 1));
        rejectsNull("into", () -> ops.popBatch(area, 0, 8, pool, null, 1));
        rejects("max must be in [1, into.length = 4], was 0", () -> ops.popBatch(area, 0, 8, pool, into, 0));
        rejects("max must be in [1, into.length = 4], was -1", () -> ops.popBatch(area, 0, 8, pool, into, -1));
        rejects("max must be in [1, into.length = 4], was 5", () -> ops.popBatch(area, 0, 8, pool, into, 5));
        rejects("max must be in [1, into.length = 0], was 1", () -> ops.popBatch(area, 0, 8, pool, new int[0], 1));
        rejects("headOffset", () -> ops.popBatch(area, 0, 200, pool, into, 1));
        rejects("headOffset", () -> ops.popBatch(area, 0, 12, pool, into, 1));
        rejects("guard", () -> ops.popBatch(area, 0, 0, pool, into, 1));
        rejects("indexed by CONCURRENCY_ID",
                () -> ops.popBatch(new PerCpuArea(CpuIndexing.CONCURRENCY_ID, 2, 128, 0), 0, 8, pool, into, 1));
        for (int r = 0; r < area.regions(); r++) {
            assertEquals(0, ops.popBatch(area, r, 8, pool, into, 4), "nothing was pushed: region " + r);
        }
        // a forged head: refused, nothing popped, the head left as it was
        area.region(1).set(java.lang.foreign.ValueLayout.JAVA_LONG, 40, 0x1000);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ops.popBatch(area, 1, 40, pool, into, 4));
        assertTrue(e.getMessage().contains("list corrupted") && e.getMessage().contains("region 1"), e.getMessage());
        assertEquals(0x1000, area.region(1).get(java.lang.foreign.ValueLayout.JAVA_LONG, 40));
    }

    /** A forged head (raw word write, or a node of another pool) is refused, never dereferenced. */
    @Test
    void corruptedListHeadIsRefused() {
        for (int r = 0; r < area.regions(); r++) {
            area.region(r).set(java.lang.foreign.ValueLayout.JAVA_LONG, 16, 0x1000);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ops.pop(area, 16, pool));
        assertTrue(e.getMessage().contains("list corrupted"), e.getMessage());
        NodePool other = new NodePool(4, 16, 8);
        for (int i = 0; i < 4; i++) {
            ops.push(area, 24, other, i);
        }
        assertThrows(IllegalStateException.class, () -> ops.pop(area, 24, pool));
        for (int r = 0; r < area.regions(); r++) {   // in-pool but not at a node boundary
            area.region(r).set(java.lang.foreign.ValueLayout.JAVA_LONG, 32, pool.firstAddress() + 8);
        }
        assertThrows(IllegalStateException.class, () -> ops.pop(area, 32, pool));
        for (int r = 0; r < area.regions(); r++) {   // refused before anything was committed
            assertEquals(pool.firstAddress() + 8, area.region(r).get(java.lang.foreign.ValueLayout.JAVA_LONG, 32));
        }
    }

    @Test
    void areaOfTheOtherIndexingIsRejected() {
        PerCpuArea cid = new PerCpuArea(CpuIndexing.CONCURRENCY_ID, 2, 128, 0);
        rejects("indexed by CONCURRENCY_ID", () -> ops.add(cid, 8, 1));
        rejects("indexed by CONCURRENCY_ID", () -> ops.pop(cid, 8, pool));
        rejects("indexed by CONCURRENCY_ID", () -> ops.compareAndStoreCurrent(cid, 8, 0, 1));
        rejects("indexed by CONCURRENCY_ID", () -> ops.reserveCurrent(cid, 8, 16, 1));
    }

    @Test
    void wordReads() {
        for (int bad : new int[] {-1, area.regions()}) {
            assertThrows(IndexOutOfBoundsException.class, () -> area.getLongOpaque(bad, 8));
            assertThrows(IndexOutOfBoundsException.class, () -> area.getLongAcquire(bad, 8));
            assertThrows(IndexOutOfBoundsException.class, () -> area.setLongRelease(bad, 8, 0));
        }
        for (long bad : new long[] {-8, 4, 121, 128}) {
            rejects("offset must be a multiple of 8 in [0, 120], was " + bad, () -> area.getLongOpaque(0, bad));
            rejects("offset must be a multiple of 8 in [0, 120], was " + bad, () -> area.getLongAcquire(0, bad));
            rejects("offset must be a multiple of 8 in [0, 120], was " + bad, () -> area.setLongRelease(0, bad, 0));
        }
    }

    @Test
    void copies() {
        rejectsNull("src", () -> ops.copyThenCommit(area, 0, 8, 0, 16, 7, null, 8, 1));
        rejects("length must be in [0, " + PerCpuOps.MAX_COPY_BYTES + "], was -1",
                () -> ops.copyThenCommit(area, 0, 8, 0, 16, 7, src, -1, 1));
        rejects("length must be at most src.byteSize() 16, was 17", () -> ops.copyThenCommit(area, 0, 8, 0, 16, 7, src, 17, 1));
        rejects("length must be at most the stride less the header, 120, was 4096",
                () -> ops.copyThenCommit(area, 0, 8, 0, 16, 7, MemorySegment.ofArray(new byte[4096]), 4096, 1));
        rejects("length must be in [0, " + PerCpuOps.MAX_COPY_BYTES + "], was 5000", () -> ops.copyThenCommit(
                cpuArea(1, 8192, 0), 0, 8, 0, 16, 7, MemorySegment.ofArray(new byte[5000]), 5000, 1));
        rejects("src must not overlap", () -> ops.copyThenCommit(area, 0, 8, 0, 16, 7, area.region(1).asSlice(64, 16), 16, 1));
        rejects("dstOffset", () -> ops.copyThenCommit(area, 0, 8, 0, -1, 7, src, 16, 1));
        rejects("dstOffset must be a multiple of 8", () -> ops.copyThenCommit(area, 0, 8, 0, 20, 7, src, 16, 1));
        rejects("guard", () -> ops.copyThenCommit(area, 0, 8, 0, 0, 7, src, 16, 1));
        // the header counts: [dstOffset, dstOffset + 8 + length) must fit the region
        rejects("dstOffset must be in [0, 104] for length 24", () -> ops.copyThenCommit(area, 0, 8, 0, 112, 7, src, 16, 1));
        rejects("dstOffset must be a multiple of 8 in [0, 120], was 128", () -> ops.copyThenCommit(area, 0, 8, 0, 128, 7, src, 0, 1));
        // ... and must not overlap the counter: the header word, the payload's first and last word
        rejects("counterOffset 16", () -> ops.copyThenCommit(area, 0, 16, 0, 16, 7, src, 16, 1));
        rejects("counterOffset 24", () -> ops.copyThenCommit(area, 0, 24, 0, 16, 7, src, 16, 1));
        rejects("counterOffset 32", () -> ops.copyThenCommit(area, 0, 32, 0, 16, 7, src, 9, 1));
        rejects("counterOffset", () -> ops.copyThenCommit(area, 0, 0, 0, 16, 7, src, 16, 1));
        // the boundaries themselves are accepted: a counter right after the record, a full region
        assertTrue(ops.copyThenCommit(area, 0, 40, 0, 16, 7, src, 16, 1));
        assertTrue(ops.copyThenCommit(area, 0, 8, 0, 104, -1, src, 16, 1));
        assertTrue(ops.copyThenCommit(area, 1, 8, 0, 16, Integer.MIN_VALUE, src, 0, 1));
    }

    @Test
    void closedSourceSegmentIsRejectedByTheLinkerNotCrashed() {
        Arena arena = Arena.ofConfined();
        MemorySegment closed = arena.allocate(16);
        arena.close();
        assertThrows(IllegalStateException.class, () -> ops.copyThenCommit(area, 0, 8, 0, 16, 7, closed, 16, 1));
    }
}
