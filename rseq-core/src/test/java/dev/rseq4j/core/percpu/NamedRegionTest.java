package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.Rseq;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The compare operations act on the region the caller names, wherever the thread runs: from
 * another region the stub reports MOVED (counted), and after two attempts the slow path does the
 * operation on the named region, leaving every other region alone.
 */
class NamedRegionTest {
    private static final long WORD = 8;
    private static final long SLOT = 16;

    @Test
    void compareOperationsOnAnotherRegionCommitThereThroughTheSlowPath() {
        assumeTrue(Rseq.possibleCpus() >= 2, "needs two regions");
        PerCpuOps ops = OpsVariant.of(CpuIndexing.CPU).create();
        PerCpuArea area = PerCpuArea.forPossibleCpus(CpuIndexing.CPU, 4096);
        long[] record = {7, 8};
        for (int i = 0; i < 100; i++) {
            int here = ops.currentIndex(area);
            int other = (here + 1) % area.regions();
            long v = area.getLongOpaque(other, WORD);
            assertFalse(ops.compareAndStore(area, other, WORD, v + 1, 0), "mismatch on the named region");
            assertTrue(ops.compareAndStore(area, other, WORD, v, v + 1));
            assertTrue(ops.storeThenCommit(area, other, WORD, v + 1, SLOT, 42, v + 2));
            assertTrue(ops.copyThenCommit(area, other, WORD, v + 2, SLOT + 8, 5, MemorySegment.ofArray(record), 16, v + 3));
            assertEquals(v + 3, area.getLongAcquire(other, WORD));
            assertEquals(42, area.getLongOpaque(other, SLOT));
            assertEquals(5L << 32 | 16, area.getLongOpaque(other, SLOT + 8), "header: typeId 5, length 16");
            assertEquals(7, area.getLongOpaque(other, SLOT + 16));
            assertEquals(8, area.getLongOpaque(other, SLOT + 24));
        }
        assertEquals(300, area.sumLongOpaque(WORD), "every commit landed on a named region, once");
        System.out.println("named region: " + ops.stats());
        if (ops.restartable()) {
            assertTrue(ops.stats().moved() > 0 && ops.stats().slowPaths() > 0,
                    "the fast path must have seen MOVED and the slow path run: " + ops.stats());
        }
    }

    /**
     * popBatch takes from the region it names, whichever CPU the caller runs on: nodes come off that
     * region's list in list order (last pushed first), at most {@code max} per call, and every other
     * region's list is left alone.
     */
    @Test
    void popBatchTakesFromTheNamedRegionOnly() {
        PerCpuOps ops = OpsVariant.of(CpuIndexing.CPU).create();
        PerCpuArea area = PerCpuArea.forPossibleCpus(CpuIndexing.CPU, 64);
        int n = 40;
        NodePool pool = new NodePool(n, 16, 8);
        for (int node = 0; node < n; node++) {
            ops.push(area, WORD, pool, node);       // on the current region (the thread may move)
        }
        java.util.BitSet seen = new java.util.BitSet(n);
        int[] into = new int[3];
        for (int r = 0; r < area.regions(); r++) {
            long[] heads = new long[area.regions()];
            for (int q = 0; q < heads.length; q++) {
                heads[q] = area.getLongOpaque(q, WORD);
            }
            int previous = Integer.MAX_VALUE;
            for (int k; ; ) {
                long slowBefore = ops.stats().slowPaths();
                k = ops.popBatch(area, r, WORD, pool, into, into.length);
                assertEquals(slowBefore + 1, ops.stats().slowPaths(), "always one slow path");
                assertTrue(k >= 0 && k <= into.length, "at most max: " + k);
                for (int i = 0; i < k; i++) {
                    assertTrue(into[i] < previous, "list order, last pushed first: " + into[i] + " after " + previous);
                    previous = into[i];
                    assertFalse(seen.get(into[i]), "node " + into[i] + " popped twice");
                    seen.set(into[i]);
                }
                if (k < into.length) {
                    assertEquals(0, area.getLongOpaque(r, WORD), "a short batch emptied region " + r);
                    break;
                }
            }
            for (int q = 0; q < heads.length; q++) {
                if (q != r) {
                    assertEquals(heads[q], area.getLongOpaque(q, WORD), "region " + q + " untouched by popBatch(" + r + ")");
                }
            }
        }
        assertEquals(n, seen.cardinality(), "every node from the region it was pushed on, once");
        assertEquals(-1, ops.pop(area, WORD, pool), "all lists empty");
    }
}
