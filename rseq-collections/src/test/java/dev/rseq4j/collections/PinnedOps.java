package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.ArrayStack;
import dev.rseq4j.core.percpu.NodePool;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;

import java.lang.foreign.MemorySegment;

/**
 * Operations that forward to {@code delegate} but pretend the calling thread runs on region
 * {@link #here} (settable, so that a test can "migrate" a producer): with lock-mode operations
 * underneath, a test decides exactly which region every operation acts on. Subclasses override
 * what else they fake.
 */
class PinnedOps implements PerCpuOps {
    private final PerCpuOps delegate;
    volatile int here;

    PinnedOps(PerCpuOps delegate, int here) {
        this.delegate = delegate;
        this.here = here;
    }

    /** Lock-mode operations pinned to region {@code here}. */
    static PinnedOps lockMode(int here) {
        return new PinnedOps(OpsVariant.lockMode(), here);
    }

    @Override public void add(PerCpuArea area, long offset, long value) { delegate.add(area, offset, value); }
    @Override public void addEach(PerCpuArea a, long o, int count, long v0, long v1, long v2) {
        delegate.addEach(a, o, count, v0, v1, v2);
    }
    @Override public boolean compareAndStore(PerCpuArea a, int i, long o, long e, long n) { return delegate.compareAndStore(a, i, o, e, n); }
    /** On region {@link #here}, as the real operation acts on the region the thread runs on. */
    @Override public int compareAndStoreCurrent(PerCpuArea a, long o, long e, long n) {
        int r = here;
        return delegate.compareAndStore(a, r, o, e, n) ? r : ~r;
    }
    /** On region {@link #here}: a compare-and-store loop with the reservation's result. */
    @Override public long reserveCurrent(PerCpuArea a, long o, long limitOffset, int n) {
        int r = here;
        for (;;) {
            long v = a.getLongOpaque(r, o);
            if (Long.compareUnsigned(v + n, a.getLongOpaque(r, limitOffset)) > 0) {
                return ~(long) r;
            }
            if (delegate.compareAndStore(a, r, o, v, v + n)) {
                return (v & RESERVED_WORD_MASK) << 32 | r;
            }
        }
    }
    @Override public void push(PerCpuArea area, long headOffset, NodePool pool, int node) { delegate.push(area, headOffset, pool, node); }
    @Override public int pop(PerCpuArea area, long headOffset, NodePool pool) { return delegate.pop(area, headOffset, pool); }
    @Override public int popBatch(PerCpuArea a, int i, long h, NodePool p, int[] into, int max) { return delegate.popBatch(a, i, h, p, into, max); }
    @Override public int arrayPop(ArrayStack s) { return delegate.arrayPop(s); }
    @Override public boolean arrayPush(ArrayStack s, int e) { return delegate.arrayPush(s, e); }
    @Override public boolean arrayCopyOut(ArrayStack s, long[] into, int n) { return delegate.arrayCopyOut(s, into, n); }
    @Override public boolean arrayCopyIn(ArrayStack s, long[] from, int n) { return delegate.arrayCopyIn(s, from, n); }
    @Override public int arrayCopyOutFrom(ArrayStack s, int i, long[] into, int max) { return delegate.arrayCopyOutFrom(s, i, into, max); }
    @Override public boolean storeThenCommit(PerCpuArea a, int i, long c, long e, long s, long v, long n) { return delegate.storeThenCommit(a, i, c, e, s, v, n); }
    @Override public boolean copyThenCommit(PerCpuArea a, int i, long c, long e, long d, int t, MemorySegment s, long l, long n) { return delegate.copyThenCommit(a, i, c, e, d, t, s, l, n); }
    @Override public long sumThenReset(PerCpuArea area, long offset) { return delegate.sumThenReset(area, offset); }
    @Override public void fenceAllThreads() { delegate.fenceAllThreads(); }
    @Override public CpuIndexing indexing() { return delegate.indexing(); }
    @Override public int currentIndex(PerCpuArea area) { return here; }
    @Override public boolean restartable() { return delegate.restartable(); }
    @Override public PerCpuStats stats() { return delegate.stats(); }
}
