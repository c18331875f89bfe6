package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.percpu.WordArena;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PerCpuArenaTest {

    @Test
    void growsByRangesAndPacksWordsInChunks() {
        try (PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU)) {
            List<PerCpuCounter> keep = new ArrayList<>();
            for (int i = 0; i < PerCpuArena.WORDS_PER_RANGE; i++) {
                keep.add(new PerCpuCounter(arena));
            }
            assertEquals(1, arena.ranges());
            assertEquals(WordArena.CHUNKS_PER_RANGE, arena.chunksInUse());
            keep.add(new PerCpuCounter(arena));
            assertEquals(2, arena.ranges());
            assertEquals(WordArena.CHUNKS_PER_RANGE + 1, arena.chunksInUse());
            assertEquals(2L * Rseq.possibleCpus() * PerCpuArena.RANGE_STRIDE, arena.nativeBytes());
            for (PerCpuCounter c : keep) {
                assertEquals(0, c.sum());
            }
        }
    }

    @Test
    void closeStopsAllocationButNotCounters() {
        PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU);
        PerCpuCounter c = PerCpuCounter.builder().arena(arena).build();
        arena.close();
        arena.close();   // idempotent
        assertTrue(arena.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> PerCpuCounter.builder().arena(arena).build());
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        c.add(5);
        assertEquals(5, c.sum());
        assertEquals(5, c.sumThenReset());
        assertThrows(UnsupportedOperationException.class, () -> PerCpuArena.shared().close());
    }

    /**
     * Counters are created, updated and dropped by four threads while another forces collections:
     * every new counter starts at zero and ends exact (a reclaimed word is never shared by two live
     * counters), and the arena reuses chunks instead of growing.
     */
    @Test
    void reclamationUnderChurnNeverMixesCounters() throws InterruptedException {
        PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU);
        AtomicInteger errors = new AtomicInteger();
        AtomicBoolean done = new AtomicBoolean();
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
        // NOTE: the collector above races the allocations (reclamation while counters are being
        // taken); the barrier below bounds the garbage between two collections (every 5 rounds), so
        // the reuse bound holds however slowly the collector thread is scheduled on a loaded machine.
        // Without it, CI once saw 51 ranges where the bound is 30.
        CyclicBarrier everyFiveRounds = new CyclicBarrier(threads, System::gc);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(Thread.ofPlatform().start(() -> {
                for (int round = 0; round < rounds; round++) {
                    if (round % 5 == 0) {
                        try {
                            everyFiveRounds.await();
                        } catch (InterruptedException | BrokenBarrierException e) {
                            errors.incrementAndGet();
                            return;
                        }
                    }
                    List<PerCpuCounter> counters = new ArrayList<>();
                    for (int i = 0; i < perRound; i++) {
                        PerCpuCounter c = new PerCpuCounter(arena);
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
        int withoutReuse = (allocated + PerCpuArena.WORDS_PER_RANGE - 1) / PerCpuArena.WORDS_PER_RANGE;   // 120
        System.out.println("churn: " + allocated + " counters in " + arena.ranges() + " ranges (" + withoutReuse
                + " without reuse)");
        assertTrue(arena.ranges() < withoutReuse / 4,
                "chunks must be reused: " + arena.ranges() + " ranges for " + allocated + " counters");
    }

    /**
     * Dropped counters give their memory back without any further allocation: the collector finds
     * their ranges unreachable and unmaps them; the next counters start at zero.
     */
    @Test
    void droppedCountersReturnTheirRanges() throws InterruptedException {
        PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU);
        List<PerCpuCounter> first = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            PerCpuCounter c = new PerCpuCounter(arena);
            c.add(i + 1);
            first.add(c);
        }
        int ranges = arena.ranges();
        assertEquals((10_000 + PerCpuArena.WORDS_PER_RANGE - 1) / PerCpuArena.WORDS_PER_RANGE, ranges);
        first = null;
        // Only the chunk the arena allocates from stays, with its range.
        assertTrue(collectUntil(() -> arena.ranges() <= 1), "ranges after the counters were dropped: " + arena.ranges());
        List<PerCpuCounter> second = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            second.add(new PerCpuCounter(arena));
        }
        assertTrue(arena.ranges() <= ranges, "not grown: " + arena.ranges());
        for (PerCpuCounter c : second) {
            assertEquals(0, c.sum(), "a reused word starts at zero");
        }
    }

    /** Chunks freed inside ranges that stay mapped are zeroed and reused before any new range. */
    @Test
    void freeChunksOfLiveRangesAreReusedZeroed() throws InterruptedException {
        PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU);
        int perChunk = WordArena.WORDS_PER_CHUNK;
        List<PerCpuCounter> kept = new ArrayList<>();
        List<PerCpuCounter> dropped = new ArrayList<>();
        for (int i = 0; i < 4 * PerCpuArena.WORDS_PER_RANGE; i++) {
            PerCpuCounter c = new PerCpuCounter(arena);
            c.add(7);
            // every other chunk is dropped whole; the kept ones pin every range
            ((i / perChunk) % 2 == 1 ? kept : dropped).add(c);   // the last chunk (the current one) is kept
        }
        int ranges = arena.ranges();
        long inUse = arena.chunksInUse();
        int droppedChunks = dropped.size() / perChunk;
        dropped = null;
        assertTrue(collectUntil(() -> arena.chunksInUse() <= inUse - droppedChunks), "chunks in use: " + arena.chunksInUse());
        assertEquals(ranges, arena.ranges(), "ranges with live chunks stay");
        for (int i = 0; i < droppedChunks * perChunk; i++) {
            assertEquals(0, new PerCpuCounter(arena).sum(), "a reused word starts at zero");
        }
        assertEquals(ranges, arena.ranges(), "free chunks reused before a new range is mapped");
        for (PerCpuCounter c : kept) {
            assertEquals(7, c.sum());
        }
    }

    static boolean collectUntil(BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            if (condition.getAsBoolean()) {
                return true;
            }
            System.gc();
            Thread.sleep(10);
        }
        return condition.getAsBoolean();
    }
}
