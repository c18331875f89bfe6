package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PerCpuArea;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PerCpuArenaTest {

    @Test
    void growsByRangesAndPacksSlots() {
        PerCpuArena arena = new PerCpuArena(PerCpuArea.Indexing.CPU);
        List<PerCpuCounter> keep = new ArrayList<>();
        for (int i = 0; i < PerCpuArena.SLOTS_PER_RANGE; i++) {
            keep.add(new PerCpuCounter(arena, null));
        }
        assertEquals(1, arena.ranges());
        keep.add(new PerCpuCounter(arena, null));
        assertEquals(2, arena.ranges());
        assertEquals(keep.size(), arena.liveSlots());
        assertEquals(2L * dev.rseq4j.core.Rseq.possibleCpus() * PerCpuArena.RANGE_STRIDE, arena.nativeBytes());
    }

    /** Dropped counters give their slots back, zeroed: the arena does not grow for their successors. */
    @Test
    void unreachableCountersAreReusedZeroed() throws InterruptedException {
        PerCpuArena arena = new PerCpuArena(PerCpuArea.Indexing.CPU);
        List<PerCpuCounter> first = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            PerCpuCounter c = new PerCpuCounter(arena, null);
            c.add(i + 1);
            first.add(c);
        }
        int ranges = arena.ranges();
        first = null;
        for (int i = 0; i < 100 && arena.liveSlots() > 0; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertEquals(0, arena.liveSlots(), "phantom references must have released every slot");
        List<PerCpuCounter> second = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            second.add(new PerCpuCounter(arena, null));
        }
        assertEquals(ranges, arena.ranges(), "reused, not grown");
        for (PerCpuCounter c : second) {
            assertEquals(0, c.sum(), "a reused slot starts at zero");
        }
        assertTrue(second.size() == 10_000);
    }
}
