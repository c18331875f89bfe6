package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    // ---- the array stacks ---------------------------------------------------------------------------

    /** Count word at 8, slots [16, 48): the stack the argument checks use. */
    private final ArrayStack stack = new ArrayStack(area, 8, 16, 4);

    /** Every region's count and slots, to show that a refused call stored nothing. */
    private static long[] words(ArrayStack stack) {
        PerCpuArea a = stack.area();
        long[] words = new long[a.regions() * (1 + stack.capacity())];
        int i = 0;
        for (int r = 0; r < a.regions(); r++) {
            words[i++] = a.getLongOpaque(r, stack.countOffset());
            for (int k = 0; k < stack.capacity(); k++) {
                words[i++] = a.getLongOpaque(r, stack.slotsOffset() + (long) k * ArrayStack.SLOT_BYTES);
            }
        }
        return words;
    }

    @Test
    void arrayStackLayout() {
        rejectsNull("area", () -> new ArrayStack(null, 8, 16, 4));
        rejects("capacity must be in [1, 4096], was 0", () -> new ArrayStack(area, 8, 16, 0));
        rejects("capacity must be in [1, 4096], was -1", () -> new ArrayStack(area, 8, 16, -1));
        PerCpuArea wide = cpuArea(1, 64 * 1024, 0);
        rejects("capacity must be in [1, 4096], was 4097", () -> new ArrayStack(wide, 8, 64, ArrayStack.MAX_CAPACITY + 1));
        rejects("capacity must be in [1, 4096], was " + Integer.MIN_VALUE, () -> new ArrayStack(wide, 8, 64, Integer.MIN_VALUE));
        assertEquals(ArrayStack.MAX_CAPACITY, new ArrayStack(wide, 8, 64, ArrayStack.MAX_CAPACITY).capacity());
        // the count: a word of a region, outside the guard
        rejects("countOffset must not lie in the guard word [0, 8), was 0", () -> new ArrayStack(area, 0, 16, 4));
        rejects("countOffset must be a multiple of 8 in [0, 120], was 12", () -> new ArrayStack(area, 12, 16, 4));
        rejects("countOffset must be a multiple of 8 in [0, 120], was 128", () -> new ArrayStack(area, 128, 16, 4));
        rejects("countOffset must be a multiple of 8 in [0, 120], was -8", () -> new ArrayStack(area, -8, 16, 4));
        PerCpuArea guardAt64 = cpuArea(2, 128, 64);
        rejects("countOffset must not lie in the guard word [64, 72), was 64", () -> new ArrayStack(guardAt64, 64, 8, 4));
        // the slots: in a region, off the guard
        rejects("slotsOffset must not lie in the guard word [0, 8), was 0", () -> new ArrayStack(area, 120, 0, 4));
        rejects("slotsOffset must be a multiple of 8 in [0, 120], was 20", () -> new ArrayStack(area, 8, 20, 4));
        rejects("slotsOffset must be a multiple of 8 in [0, 120], was -16", () -> new ArrayStack(area, 8, -16, 4));
        rejects("slotsOffset must be in [0, 96] for length 32, was 104", () -> new ArrayStack(area, 8, 104, 4));
        rejects("slotsOffset must be in [0, 8] for length 120, was 16", () -> new ArrayStack(area, 8, 16, 15));
        rejects("length must be in [0, 128], was 136", () -> new ArrayStack(area, 8, 16, 17));
        rejects("slotsOffset range [8, 72) must not overlap the guard word [64, 72)",
                () -> new ArrayStack(guardAt64, 72, 8, 8));
        // the count among the slots: its first, its last, one inside
        rejects("countOffset 16 must not lie among the slots [16, 48)", () -> new ArrayStack(area, 16, 16, 4));
        rejects("countOffset 40 must not lie among the slots [16, 48)", () -> new ArrayStack(area, 40, 16, 4));
        rejects("countOffset 24 must not lie among the slots [16, 48)", () -> new ArrayStack(area, 24, 16, 4));
        // the boundaries themselves are accepted: the count right before or right after the slots, a full region
        assertEquals(4, new ArrayStack(area, 8, 16, 4).capacity());
        assertEquals(4, new ArrayStack(area, 48, 16, 4).capacity());
        assertEquals(14, new ArrayStack(area, 120, 8, 14).capacity());
        assertEquals(14, new ArrayStack(area, 8, 16, 14).capacity());
    }

    @Test
    void arrayOperationArguments() {
        long[] before = words(stack);
        assertThrows(NullPointerException.class, () -> ops.arrayPop(null));
        assertThrows(NullPointerException.class, () -> ops.arrayPush(null, 1));
        assertThrows(NullPointerException.class, () -> ops.arrayCopyOut(null, new long[4], 1));
        assertThrows(NullPointerException.class, () -> ops.arrayCopyIn(null, new long[4], 1));
        assertThrows(NullPointerException.class, () -> ops.arrayCopyOutFrom(null, 0, new long[4], 1));
        rejects("element must be in [0, 2147483647], was -1", () -> ops.arrayPush(stack, -1));
        rejects("element must be in [0, 2147483647], was " + Integer.MIN_VALUE, () -> ops.arrayPush(stack, Integer.MIN_VALUE));
        long[] eight = new long[8];
        for (String name : new String[] {"into", "from"}) {
            boolean out = name.equals("into");
            java.util.function.BiFunction<long[], Integer, Boolean> call = out
                    ? (batch, n) -> ops.arrayCopyOut(stack, batch, n) : (batch, n) -> ops.arrayCopyIn(stack, batch, n);
            rejectsNull(name, () -> call.apply(null, 1));
            rejects("n must be in [1, min(capacity 4, " + name + ".length 8)], was 0", () -> call.apply(eight, 0));
            rejects("n must be in [1, min(capacity 4, " + name + ".length 8)], was -1", () -> call.apply(eight, -1));
            rejects("n must be in [1, min(capacity 4, " + name + ".length 8)], was 5", () -> call.apply(eight, 5));
            rejects("n must be in [1, min(capacity 4, " + name + ".length 8)], was " + Integer.MIN_VALUE,
                    () -> call.apply(eight, Integer.MIN_VALUE));
            rejects("n must be in [1, min(capacity 4, " + name + ".length 2)], was 3", () -> call.apply(new long[2], 3));
            rejects("n must be in [1, min(capacity 4, " + name + ".length 0)], was 1", () -> call.apply(new long[0], 1));
        }
        // an element of the batch outside [0, 2^31): refused before anything is stored
        for (long bad : new long[] {-1, Integer.MAX_VALUE + 1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 32}) {
            rejects("from[1] must be in [0, 2147483647], was " + bad, () -> ops.arrayCopyIn(stack, new long[] {5, bad, 6}, 3));
            rejects("from[0] must be in [0, 2147483647], was " + bad, () -> ops.arrayCopyIn(stack, new long[] {bad}, 1));
        }
        // arrayCopyOutFrom: the region, the batch, max
        int[] badIndexes = {-1, area.regions(), Integer.MAX_VALUE, Integer.MIN_VALUE};
        for (int bad : badIndexes) {
            rejectsIndex(() -> ops.arrayCopyOutFrom(stack, bad, new long[4], 1));
        }
        rejectsNull("into", () -> ops.arrayCopyOutFrom(stack, 0, null, 1));
        rejects("max must be in [1, into.length = 4], was 0", () -> ops.arrayCopyOutFrom(stack, 0, new long[4], 0));
        rejects("max must be in [1, into.length = 4], was -1", () -> ops.arrayCopyOutFrom(stack, 0, new long[4], -1));
        rejects("max must be in [1, into.length = 4], was 5", () -> ops.arrayCopyOutFrom(stack, 0, new long[4], 5));
        rejects("max must be in [1, into.length = 0], was 1", () -> ops.arrayCopyOutFrom(stack, 0, new long[0], 1));
        // a stack over an area of the other indexing
        ArrayStack cid = new ArrayStack(new PerCpuArea(CpuIndexing.CONCURRENCY_ID, 2, 128, 0), 8, 16, 4);
        rejects("indexed by CONCURRENCY_ID", () -> ops.arrayPop(cid));
        rejects("indexed by CONCURRENCY_ID", () -> ops.arrayPush(cid, 1));
        rejects("indexed by CONCURRENCY_ID", () -> ops.arrayCopyOut(cid, new long[4], 1));
        rejects("indexed by CONCURRENCY_ID", () -> ops.arrayCopyIn(cid, new long[4], 1));
        rejects("indexed by CONCURRENCY_ID", () -> ops.arrayCopyOutFrom(cid, 0, new long[4], 1));
        assertArrayEquals(before, words(stack), "nothing was stored by a refused call");

        // the boundaries are accepted: n = capacity < length, elements 0 and 2^31 - 1, an element past n not
        // checked (taken back from whichever region the thread ran on)
        assertTrue(ops.arrayCopyIn(stack, new long[] {0, Integer.MAX_VALUE, 7, 8, -1}, 4));
        long[] out = {-3, -3, -3, -3, -3};
        assertEquals(4, drain(stack, out));
        assertArrayEquals(new long[] {0, Integer.MAX_VALUE, 7, 8, -3}, out);
        for (int element : new int[] {Integer.MAX_VALUE, 0}) {
            int popped = -1;
            for (int attempt = 0; attempt < 100 && popped != element; attempt++) {
                assertTrue(ops.arrayPush(stack, element));
                popped = ops.arrayPop(stack);           // -1 if the thread moved to another CPU in between
                drain(stack, new long[4]);
            }
            assertEquals(element, popped);
        }
        assertEquals(0, drain(stack, new long[4]), "every region empty again");
    }

    /** Takes every element of every region's stack into {@code into} with arrayCopyOutFrom; returns how many. */
    private int drain(ArrayStack s, long[] into) {
        int n = 0;
        for (int r = 0; r < s.area().regions(); r++) {
            long[] part = new long[s.capacity()];
            int k = ops.arrayCopyOutFrom(s, r, part, part.length);
            System.arraycopy(part, 0, into, n, k);
            n += k;
        }
        return n;
    }

    /**
     * A count word overwritten with a value beyond the capacity (through {@link PerCpuArea#setLongRelease}) is
     * reported by every operation that would read or write slots past it, never followed: arrayPop, arrayCopyOut,
     * arrayCopyIn and arrayCopyOutFrom throw {@link IllegalStateException}, arrayPush says "full"; nothing is
     * stored or copied out, and the JVM lives on. Another region's sound stack still works. In every mode
     * this process has (lock mode, the stubs, the slow path alone): {@code PopCorruptHeadTest.modes}.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.rseq4j.core.percpu.PopCorruptHeadTest#modes")
    void corruptedArrayCountIsReportedNeverFollowed(String mode, Supplier<PerCpuOps> variant) {
        PerCpuOps o = variant.get();
        for (long bad : new long[] {5, 6, 1L << 32, 1L << 32 | 2, -1, -4, Long.MIN_VALUE, Long.MAX_VALUE}) {
            String what = mode + ", count " + bad;
            PerCpuArea a = PerCpuArea.forPossibleCpus(o.indexing(), 128);
            ArrayStack s = new ArrayStack(a, 8, 16, 4);
            for (int r = 0; r < a.regions(); r++) {
                a.setLongRelease(r, 8, bad);
                for (int k = 0; k < 4; k++) {
                    a.setLongRelease(r, 16 + 8L * k, 40 + k);
                }
                a.setLongRelease(r, 48, 77);        // the word past the slots
            }
            long[] before = a.memory().toArray(JAVA_LONG);
            long[] into = {-7, -7, -7, -7};
            assertCorrupt(what + ": arrayPop", () -> o.arrayPop(s));
            assertCorrupt(what + ": arrayCopyOut", () -> o.arrayCopyOut(s, into, 1));
            assertCorrupt(what + ": arrayCopyOut of the capacity", () -> o.arrayCopyOut(s, into, 4));
            long n = bad < 0 && bad >= -4 ? -bad : 1;     // so that count + n wraps to 0
            assertCorrupt(what + ": arrayCopyIn", () -> o.arrayCopyIn(s, new long[] {1, 2, 3, 4}, (int) n));
            for (int r = 0; r < a.regions(); r++) {
                int region = r;
                assertCorrupt(what + ": arrayCopyOutFrom region " + r, () -> o.arrayCopyOutFrom(s, region, into, 4));
            }
            assertFalse(o.arrayPush(s, 9), what + ": arrayPush finds no room");
            assertArrayEquals(new long[] {-7, -7, -7, -7}, into, what + ": nothing copied out");
            assertArrayEquals(before, a.memory().toArray(JAVA_LONG), what + ": nothing stored");
            if (a.regions() > 1) {       // a sound region beside corrupt ones
                a.setLongRelease(1, 8, 2);
                assertEquals(2, o.arrayCopyOutFrom(s, 1, into, 4), what);
                assertArrayEquals(new long[] {40, 41, -7, -7}, into, what);
                assertEquals(0, a.getLongOpaque(1, 8), what);
            }
            java.lang.ref.Reference.reachabilityFence(a);
        }
    }

    private static void assertCorrupt(String what, Executable call) {
        IllegalStateException e = assertThrows(IllegalStateException.class, call, what);
        assertTrue(e.getMessage().contains("array stack corrupted"), what + ": " + e.getMessage());
    }

    @Test
    void closedSourceSegmentIsRejectedByTheLinkerNotCrashed() {
        Arena arena = Arena.ofConfined();
        MemorySegment closed = arena.allocate(16);
        arena.close();
        assertThrows(IllegalStateException.class, () -> ops.copyThenCommit(area, 0, 8, 0, 16, 7, closed, 16, 1));
    }
}
