package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuSpinLock;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the lock tests share: a per-VM recycler of {@link PerCpuSpinLock}s and the occupancy check.
 *
 * <p>A lock maps a page for its per-CPU words and keeps a queue per region: one per jcstress state
 * (millions) would be millions of mappings, so each state takes a lock from {@link #LOCKS} and its
 * arbiter gives it back only if every region is free again (see {@link PoolStress} for why
 * recycling through the arbiter is safe); a lock left held is dropped, never reused.
 */
final class LockStress {
    private LockStress() {
    }

    static final PoolStress.Recycler<PerCpuSpinLock> LOCKS = new PoolStress.Recycler<>(PerCpuSpinLock::new);

    /** The number of regions of {@code lock} still held (by anyone): 0 when all are free. */
    static int held(PerCpuSpinLock lock) {
        int n = 0;
        for (int r = 0; r < lock.regions(); r++) {
            if (lock.isLocked(r)) {
                n++;
            }
        }
        return n;
    }

    /** From the arbiter: gives {@code lock} back if {@code ok} and every region is free; returns the held count. */
    static int giveBack(PerCpuSpinLock lock, boolean ok) {
        int held = held(lock);
        if (ok && held == 0) {
            LOCKS.give(lock);
        }
        return held;
    }

    /**
     * Inside a critical section: enters the occupancy count, adds one to {@code value[index]} with a
     * plain read-modify-write across a short window, and leaves the count.
     *
     * @return the number of times someone else was found inside (0 when the section ran alone)
     */
    static int section(AtomicInteger inside, int[] value, int index) {
        int overlaps = inside.getAndIncrement() != 0 ? 1 : 0;
        int v = value[index];
        for (int i = 0; i < 8; i++) {       // a window for a second holder to overlap
            Thread.onSpinWait();
        }
        value[index] = v + 1;
        overlaps += inside.decrementAndGet() != 0 ? 1 : 0;
        return overlaps;
    }
}
