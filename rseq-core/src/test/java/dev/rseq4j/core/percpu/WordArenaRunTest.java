package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs of consecutive words ({@link WordArena#allocate(int)}) and their batched update
 * ({@link WordArena#addEach}): the run stays in one chunk, a bad count is refused before any native
 * call, and concurrent batches are exact in RSEQ and lock mode.
 */
class WordArenaRunTest {

    private static void rejects(String mustMention, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(mustMention), "message '" + e.getMessage() + "' should mention " + mustMention);
    }

    @Test
    void runsAreConsecutiveWordsOfOneChunk() {
        WordArena arena = new WordArena(CpuIndexing.CPU);
        WordArena.Word a = arena.allocate(3);
        WordArena.Word b = arena.allocate(3);
        assertSame(a.chunk(), b.chunk());
        assertEquals(24, b.address() - a.address(), "b follows a");
        WordArena.Word c = arena.allocate(3);   // 6 + 3 > 8: a fresh chunk, the last two words left unclaimed
        assertNotSame(a.chunk(), c.chunk());
        assertEquals(0, c.offset() % 64, "a run that did not fit starts a chunk");
        rejects("words must be in [1, 8], was 0", () -> arena.allocate(0));
        rejects("words must be in [1, 8], was 9", () -> arena.allocate(9));
    }

    @Test
    void countsOutsideTheRunAreRefused() {
        WordArena arena = new WordArena(CpuIndexing.CPU);
        WordArena.Word w = arena.allocate(3);
        rejects("count must be in [1, 3]", () -> WordArena.addEach(w.chunk(), w.handle(), 0, 1, 1, 1));
        rejects("count must be in [1, 3]", () -> WordArena.addEach(w.chunk(), w.handle(), 4, 1, 1, 1));
        WordArena.Word second = arena.allocate(3);
        WordArena.Word last = arena.allocate(2);    // words 6 and 7: one line's end
        assertSame(w.chunk(), last.chunk());
        rejects("count must be in [1, 2]", () -> WordArena.addEach(last.chunk(), last.handle(), 3, 1, 1, 1));
        assertEquals(0, WordArena.sum(second.chunk(), second.handle()), "nothing written by a refused call");
    }

    @Test
    void concurrentBatchesAreExact() throws InterruptedException {
        for (WordArena arena : List.of(new WordArena(CpuIndexing.CPU), new WordArena(OpsVariant.lockMode()))) {
            WordArena.Word w = arena.allocate(3);
            int threads = 2 * Math.max(2, Runtime.getRuntime().availableProcessors());
            int perThread = 100_000;
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                workers.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < perThread; i++) {
                        WordArena.addEach(w.chunk(), w.handle(), 3, 1, 2, 3);
                    }
                }));
            }
            for (Thread t : workers) {
                t.join();
            }
            long n = (long) threads * perThread;
            assertEquals(n, WordArena.sum(w.chunk(), w.handle()), arena.toString());
            assertEquals(2 * n, WordArena.sum(w.chunk(), w.handle() + 8), arena.toString());
            assertEquals(3 * n, WordArena.sum(w.chunk(), w.handle() + 16), arena.toString());
        }
    }
}
