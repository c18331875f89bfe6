package dev.rseq4j.core.percpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every entry point rejects bad input with a clear exception before any native call (the checks run before the mode matters). */
class BadInputTest {
    private final PerCpuOps ops = PerCpuOps.cpuIndexed();
    private final PerCpuArea area = new PerCpuArea(2, 128, 0);
    private final MemorySegment node = Arena.ofAuto().allocate(16, 8);
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
        rejectsNull("area", () -> ops.compareAndStore(null, 8, 0, 1));
        rejectsNull("area", () -> ops.push(null, 8, node, 0));
        rejectsNull("area", () -> ops.pop(null, 8, 0));
        rejectsNull("area", () -> ops.storeThenCommit(null, 8, 0, 16, 1, 1));
        rejectsNull("area", () -> ops.copyThenCommit(null, 8, 0, 16, src, 8, 1));
        rejectsNull("area", () -> ops.currentIndex(null));
    }

    @Test
    void areaShape() {
        rejects("regions", () -> new PerCpuArea(0, 64, 0));
        rejects("regions", () -> new PerCpuArea(-1, 64, 0));
        rejects("regions", () -> new PerCpuArea(PerCpuArea.MAX_REGIONS + 1, 64, 0));
        rejects("stride", () -> new PerCpuArea(1, 0, 0));
        rejects("stride", () -> new PerCpuArea(1, 100, 0));
        rejects("stride", () -> new PerCpuArea(1, -64, 0));
        rejects("regions * stride", () -> new PerCpuArea(1 << 16, 1L << 30, 0));
        rejects("guardOffset", () -> new PerCpuArea(1, 64, 4));
        rejects("guardOffset", () -> new PerCpuArea(1, 64, 64));
        rejects("guardOffset", () -> new PerCpuArea(1, 64, -8));
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
        rejects("offset", () -> ops.compareAndStore(area, 121, 0, 1));
        rejects("headOffset", () -> ops.pop(area, 200, 0));
        rejects("counterOffset", () -> ops.storeThenCommit(area, 3, 0, 16, 1, 1));
        rejects("slotOffset", () -> ops.storeThenCommit(area, 8, 0, 0, 1, 1));
        rejects("slotOffset", () -> ops.storeThenCommit(area, 8, 0, 1 << 20, 1, 1));
    }

    @Test
    void listNodes() {
        rejectsNull("node", () -> ops.push(area, 8, null, 0));
        rejects("native", () -> ops.push(area, 8, MemorySegment.ofArray(new long[2]), 0));
        rejects("aligned", () -> ops.push(area, 8, node.asSlice(4, 8), 0));
        rejects("next word", () -> ops.push(area, 8, node, 16));
        rejects("nextOffset", () -> ops.push(area, 8, node, -8));
        rejects("nextOffset", () -> ops.push(area, 8, node, 3));
        rejects("nextOffset", () -> ops.pop(area, 8, 5));
        rejects("nextOffset", () -> ops.pop(area, 8, 1L << 40));
    }

    @Test
    void copies() {
        rejectsNull("src", () -> ops.copyThenCommit(area, 8, 0, 16, null, 8, 1));
        rejects("length", () -> ops.copyThenCommit(area, 8, 0, 16, src, -1, 1));
        rejects("length", () -> ops.copyThenCommit(area, 8, 0, 16, src, 17, 1));
        rejects("length", () -> ops.copyThenCommit(area, 8, 0, 16, MemorySegment.ofArray(new byte[4096]), 4096, 1));
        rejects("dstOffset", () -> ops.copyThenCommit(area, 8, 0, 120, src, 16, 1));
        rejects("dstOffset", () -> ops.copyThenCommit(area, 8, 0, -1, src, 16, 1));
        rejects("guard", () -> ops.copyThenCommit(area, 8, 0, 0, src, 16, 1));
        rejects("counterOffset", () -> ops.copyThenCommit(area, 24, 0, 16, src, 16, 1));
        rejects("counterOffset", () -> ops.copyThenCommit(area, 0, 0, 16, src, 16, 1));
    }

    @Test
    void closedSourceSegmentIsRejectedByTheLinkerNotCrashed() {
        Arena arena = Arena.ofConfined();
        MemorySegment closed = arena.allocate(16);
        arena.close();
        assertThrows(IllegalStateException.class, () -> ops.copyThenCommit(area, 8, 0, 16, closed, 16, 1));
    }
}
