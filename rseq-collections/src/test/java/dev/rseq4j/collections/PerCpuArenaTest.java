package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.percpu.PerCpuArea;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PerCpuArenaTest {

    @Test
    void growsByRangesAndPacksSlots() {
        PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU);
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

    /**
     * Counters are created, updated and dropped by four threads while another forces collections:
     * every new counter starts at zero and ends exact (a reclaimed slot is never shared by two live
     * counters), and the arena reuses slots instead of growing.
     */
    @Test
    void reclamationUnderChurnNeverMixesCounters() throws InterruptedException {
        PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU);
        java.util.concurrent.atomic.AtomicInteger errors = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        Thread collector = Thread.ofPlatform().start(() -> {
            while (!done.get()) {
                System.gc();
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        int threads = 4, rounds = 300, perRound = 50;
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(Thread.ofPlatform().start(() -> {
                for (int round = 0; round < rounds; round++) {
                    if (round % 50 == 49) {
                        System.gc();                    // enqueue the dropped counters' references
                    }
                    List<PerCpuCounter> counters = new ArrayList<>();
                    for (int i = 0; i < perRound; i++) {
                        PerCpuCounter c = new PerCpuCounter(arena, null);
                        if (c.sum() != 0) {
                            errors.incrementAndGet();
                        }
                        counters.add(c);
                    }
                    for (int i = 0; i < perRound; i++) {
                        for (int k = 0; k <= i; k++) {
                            counters.get(i).increment();
                        }
                    }
                    for (int i = 0; i < perRound; i++) {
                        if (counters.get(i).sum() != i + 1) {
                            errors.incrementAndGet();
                        }
                    }
                }
            }));
        }
        for (Thread w : workers) {
            w.join();
        }
        done.set(true);
        collector.join();
        assertEquals(0, errors.get(), "counters that did not start at zero or did not end exact");
        int allocated = threads * rounds * perRound;
        int withoutReuse = (allocated + PerCpuArena.SLOTS_PER_RANGE - 1) / PerCpuArena.SLOTS_PER_RANGE;   // 118
        System.out.println("churn: " + allocated + " counters in " + arena.ranges() + " ranges (" + withoutReuse
                + " without reuse)");
        assertTrue(arena.ranges() < withoutReuse * 3 / 4,
                "slots must be reused: " + arena.ranges() + " ranges for " + allocated + " counters");
    }

    /** Dropped counters give their slots back, zeroed: the arena does not grow for their successors. */
    @Test
    void unreachableCountersAreReusedZeroed() throws InterruptedException {
        PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU);
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
