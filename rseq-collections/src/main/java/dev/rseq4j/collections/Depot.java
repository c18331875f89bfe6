package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PoolTotals;

import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;

/**
 * The depot of a {@link PerCpuFreeList}: batches of free handles shared by all CPUs, between the
 * per-CPU magazines (Bonwick's depot, tcmalloc's transfer cache). A CPU whose magazine is full hands
 * it a batch; a CPU whose magazine is empty takes one. Touched once per batch, never per handle.
 *
 * <p>A batch is a {@code long[]} of the list's batch size plus one: its first {@code size} entries are
 * handles, which the array operations copy straight to and from, and its last entry is {@code size}
 * (so that taking a batch allocates nothing). The depot keeps the arrays it was handed, full
 * ones to give out and empty ones to lend to the next spill, so that a steady state allocates
 * nothing; it keeps at most as many empty arrays as could ever be full at once, and the garbage
 * collector takes the rest.
 *
 * <h2>Implementation notes</h2>
 * A plain monitor over two array stacks. A lock-free (Treiber) stack of reused arrays would meet ABA;
 * a lock held for a few loads and stores, once per batch, is not where a pool's time goes, and it
 * never blocks inside (no allocation under it but the growth of its stacks, bounded by the list's
 * capacity). Holding the monitor pins a virtual thread to its carrier on JDK 22 and 23 (not on 24+),
 * which for a few stores is harmless. The monitor's release is the happens-before edge from the
 * thread that put a batch to the thread that takes it.
 */
final class Depot {
    private final int batchSize;
    /** Full (non-empty) batches: {@code full[0..fullCount)}. */
    private long[][] full = new long[4][];
    private int fullCount;
    /** Empty arrays to lend: {@code empty[0..emptyCount)}. */
    private long[][] empty = new long[4][];
    private int emptyCount;
    private final int maxEmpty;
    /** Handles in full batches; written under the monitor, read racily by {@link #handles()}. */
    private volatile int handles;
    private final LongAdder puts = new LongAdder();
    private final LongAdder takes = new LongAdder();

    /** A depot of batches of {@code batchSize} for a list of {@code capacity} handles. */
    Depot(int batchSize, int capacity) {
        this.batchSize = batchSize;
        this.maxEmpty = Math.max(4, capacity / batchSize + 1);
    }

    /** An array to fill with a batch: a lent one, or a new one. */
    long[] borrow() {
        synchronized (this) {
            if (emptyCount > 0) {
                long[] a = empty[--emptyCount];
                empty[emptyCount] = null;
                return a;
            }
        }
        return new long[batchSize + 1];
    }

    /** The handles batch {@code array} holds (its last entry). */
    static int size(long[] array) {
        return (int) array[array.length - 1];
    }

    /** Gives back an array that {@link #borrow} or {@link #take} handed out, its handles taken. */
    synchronized void giveBack(long[] array) {
        if (emptyCount < maxEmpty) {
            if (emptyCount == empty.length) {
                empty = Arrays.copyOf(empty, 2 * emptyCount);
            }
            empty[emptyCount++] = array;
        }
    }

    /** Puts a batch of {@code size} handles ({@code array[0..size)}, size at least 1). */
    void put(long[] array, int size) {
        synchronized (this) {
            if (fullCount == full.length) {
                full = Arrays.copyOf(full, 2 * fullCount);
            }
            array[array.length - 1] = size;
            full[fullCount++] = array;
            handles += size;
        }
        puts.increment();
        PoolTotals.recordSpill();
    }

    /**
     * Takes a batch (the last put: its handles are the most recently freed; {@link #size} says how many),
     * or null if the depot is empty. An unsynchronized look first, so that an empty depot costs a volatile read.
     */
    long[] take() {
        if (handles == 0) {
            return null;
        }
        long[] b;
        synchronized (this) {
            if (fullCount == 0) {
                return null;
            }
            b = full[--fullCount];
            full[fullCount] = null;
            handles -= size(b);
        }
        takes.increment();
        PoolTotals.recordRefill();
        return b;
    }

    /** Handles resting in the depot now (a racy read). */
    int handles() {
        return handles;
    }

    /** Batches put since creation. */
    long puts() {
        return puts.sum();
    }

    /** Batches taken since creation. */
    long takes() {
        return takes.sum();
    }

    /** Every handle in the depot now, for tests and accounting: a copy under the monitor. */
    synchronized long[] snapshot() {
        long[] all = new long[handles];
        int at = 0;
        for (int i = 0; i < fullCount; i++) {
            System.arraycopy(full[i], 0, all, at, size(full[i]));
            at += size(full[i]);
        }
        return all;
    }
}
