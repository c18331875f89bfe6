package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuFreeList;
import dev.rseq4j.collections.PerCpuObjectPool;
import dev.rseq4j.collections.PerCpuRingBuffer;
import dev.rseq4j.core.percpu.NodePool;
import dev.rseq4j.core.percpu.WordArena;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * What the free-list, pool and ring tests share: per-VM recyclers of their lists, pools, node pools
 * and rings, and the tally that lets an arbiter check a multiset of handles in one int.
 *
 * <h2>Why recycle, and why this is safe</h2>
 * jcstress creates millions of states per test. A {@link PerCpuFreeList} (and so a pool) maps a page
 * for its per-CPU heads and allocates its nodes natively (a ring maps a page for its tails): one per state would mean millions of
 * mmaps, munmaps and cleaners. One list shared by all states is wrong: the actors of one state run
 * while other states' actors run on the same structure (jcstress runs each actor over an array of
 * states), so a pop could return another state's handle, and giving each state its own handle range
 * does not help, since a pop returns any free handle of the list. So each state owns its structure
 * exclusively, taken from a recycler; its arbiter, which jcstress runs after all the state's actors,
 * drains it and gives it back only if it checked out exactly (every handle accounted for once, no
 * list left non-empty). The next state that takes it starts from the same state as a new one whose
 * handles were all popped. A structure that failed its check is dropped, never reused, so a
 * FORBIDDEN outcome cannot leak into other states. At most as many structures exist as states are
 * live at once (a few thousand), and they are made in the first iterations only.
 *
 * <p>What these tests do not cover: jcstress gives every actor a CPU of its own and does not run a
 * test with more actors than CPUs, so two fast paths on the same CPU's list, racing through
 * preemption, never meet here; {@code ./rseq4j diagnose} (busy loops inside the critical sections)
 * and the core's tests cover that. Here fast paths race slow paths, steals and pushes from other CPUs.
 */
final class PoolStress {
    private PoolStress() {
    }

    /** A lock-free stack of drained structures; {@link #take} makes a new one when it is empty. */
    static final class Recycler<T> {
        private final ConcurrentLinkedQueue<T> idle = new ConcurrentLinkedQueue<>();
        private final Supplier<T> factory;

        Recycler(Supplier<T> factory) {
            this.factory = factory;
        }

        T take() {
            T t = idle.poll();
            return t != null ? t : factory.get();
        }

        /** Only from an arbiter, and only a structure that passed its check. */
        void give(T t) {
            idle.add(t);
        }
    }

    /** Two-handle lists (default batch size) for the public free-list tests. */
    static final Recycler<PerCpuFreeList> LISTS = new Recycler<>(() -> new PerCpuFreeList(2));

    /** Two 8-byte nodes (next pointer at 0) for the core list tests, whose heads are arena words. */
    static final Recycler<NodePool> NODES = new Recycler<>(() -> new NodePool(2, 8, 0));

    /**
     * Rings of two elements per CPU: each ring test offers at most two, so no offer finds its ring
     * full. Recycled only empty (drained by the arbiter), so the next state's ring starts as a new one.
     */
    static final Recycler<PerCpuRingBuffer<Object>> RINGS = new Recycler<>(() -> new PerCpuRingBuffer<>(2));

    /** A pooled object that knows how many actors hold it (a second holder is a double lease). */
    static final class Holder {
        final AtomicInteger holders = new AtomicInteger();
        /** Written by each holder: a concurrent holder overwrites it. */
        volatile int owner;
        long pad1, pad2, pad3, pad4, pad5;   // roughly the 64-byte objects such pools hold
    }

    /** Pools of at most one object, already created (so acquire can hand it out at once). */
    static final Recycler<PerCpuObjectPool<Holder>> ONE_OBJECT_POOLS = new Recycler<>(() -> {
        PerCpuObjectPool<Holder> pool = PerCpuObjectPool.builder(Holder::new).maxSize(1).build();
        pool.acquire().close();
        return pool;
    });

    /**
     * Leases one object from {@code pool} and holds it across a short window in which a second holder
     * of the same object would show.
     *
     * @return 1 pooled object held alone, 0 an object beyond maxSize (not pooled), 2 a pooled object
     *         that another actor held at the same time (FORBIDDEN)
     */
    static int leaseOnce(PerCpuObjectPool<Holder> pool, int me) {
        try (PerCpuObjectPool.Lease<Holder> lease = pool.acquire()) {
            Holder h = lease.get();
            boolean alone = h.holders.getAndIncrement() == 0;
            h.owner = me;
            for (int i = 0; i < 16; i++) {          // a window for the other actor to overlap
                Thread.onSpinWait();
                alone &= h.owner == me;
            }
            alone &= h.holders.getAndDecrement() == 1;
            return !lease.pooled() ? 0 : alone ? 1 : 2;
        }
    }

    /**
     * Handles 0 and 1 counted in one int: {@code count(0) + 10 * count(1) + 100 * count(anything
     * else but -1)}. A multiset is exactly {0, 1} when the tally of all its parts is {@link #BOTH}.
     */
    static int tally(int... handles) {
        int t = 0;
        for (int h : handles) {
            t += h == 0 ? 1 : h == 1 ? 10 : h == -1 ? 0 : 100;
        }
        return t;
    }

    /** The tally of {0, 1}: each handle exactly once. */
    static final int BOTH = 11;

    /**
     * Pops every region's list whose head is the word at {@code head} with {@code popBatch} (the
     * arbiter is alone: exact), at most 3 nodes in all.
     *
     * @return the tally of the nodes popped
     */
    static int drain(WordArena.Word head, NodePool nodes) {
        int t = 0;
        int[] batch = new int[3];
        for (int r = 0; r < head.area().regions(); r++) {
            int n = StressOps.PRODUCTION.popBatch(head.area(), r, head.offset(), nodes, batch, 3);
            for (int i = 0; i < n; i++) {
                t += tally(batch[i]);
            }
        }
        return t;
    }

    /** The tally of one element polled from a ring test's ring (0 or 1; null, an empty ring, counts 0). */
    static int tallyPolled(Object polled) {
        return polled == null ? 0 : tally((Integer) polled);
    }

    /** Polls {@code ring} until it reports empty (at most 3 polls: more than 2 is a duplicate already). */
    static int drain(PerCpuRingBuffer<Object> ring) {
        int t = 0;
        for (int i = 0; i < 3; i++) {
            Object e = ring.poll();
            if (e == null) {
                break;
            }
            t += tallyPolled(e);
        }
        return t;
    }

    /** Pops {@code list} until it reports empty (at most 3 pops: more than 2 is a duplicate already). */
    static int drain(PerCpuFreeList list) {
        int t = 0;
        for (int i = 0; i < 3; i++) {
            int h = list.pop();
            if (h < 0) {
                break;
            }
            t += tally(h);
        }
        return t;
    }
}
