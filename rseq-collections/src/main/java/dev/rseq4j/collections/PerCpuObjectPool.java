package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.percpu.PoolTotals;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A pool of reusable objects with a magazine per CPU: what a {@code ThreadLocal} cache gives
 * platform threads (a local, uncontended pool), bounded by the number of CPUs instead of threads.
 *
 * <pre>
 *   PerCpuObjectPool&lt;StringBuilder&gt; pool = PerCpuObjectPool.builder(() -&gt; new StringBuilder(256))
 *           .onRelease(sb -&gt; sb.setLength(0))
 *           .build();
 *   try (PerCpuObjectPool.Lease&lt;StringBuilder&gt; lease = pool.acquire()) {
 *       StringBuilder sb = lease.get();
 *       ...
 *   }
 * </pre>
 *
 * <p>{@link #acquire()} never blocks and never fails for want of objects. It returns a pooled object
 * from the current CPU's magazine, else from a batch in the depot that all CPUs share, else a new one
 * from the factory while the pool holds fewer than {@link Builder#maxSize} objects. A pool at its
 * maximum size makes an object beyond the size, which is not pooled (its lease's {@code close()} leaves
 * it to the garbage collector); at most once per millisecond it takes a batch from another CPU's
 * magazine instead (a steal, see {@link PerCpuFreeList}), so that objects resting on CPUs that no
 * longer acquire come back into use, while a steal's cost (that CPU's guard and a membarrier, which
 * its operations wait for) stays negligible. Size the pool for the objects in use at once (leases
 * held across a blocking call count): a pool at its maximum size in steady state makes garbage.
 * {@link Lease#close()} returns a pooled object to the magazine of the CPU the closing thread runs on
 * (a full magazine moves a batch to the depot). In steady state acquire and close
 * allocate nothing: a pooled object's lease is created once, with the object, and reused; and neither
 * waits for another CPU, even when virtual threads acquire on one CPU and close on another.
 *
 * <p>What differs from a {@code ThreadLocal} pool: objects are kept per CPU, so 100,000 virtual
 * threads share the same few magazines (a {@code ThreadLocal} pool keeps objects per thread, and each
 * new thread starts with an empty cache and fills it); an object released on another CPU than it was
 * acquired on flows back through the depot; a thread that ends strands nothing. What differs from a
 * shared concurrent queue ({@code ConcurrentLinkedQueue}, JCTools {@code MpmcArrayQueue}): no
 * compare-and-set on one shared head or index; each CPU's magazine is updated with plain loads and
 * one plain store in a restartable sequence (a per-CPU lock where rseq is unavailable), and the
 * depot's lock is taken once per batch.
 *
 * <p>Memory: at most {@code maxSize} pooled objects, wherever they rest (magazines, depot, leased).
 *
 * <p>Guarantees: an object is never leased to two holders at once, provided each lease is closed at
 * most once. Misuse detection: {@link Lease#get()} after {@code close()} and a second
 * {@code close()} throw {@link IllegalStateException} while the object rests in the pool. Once the
 * pool leases the object again, the (reused) lease is the new holder's, and a stale second
 * {@code close()} through it cannot be told from the new holder's close; {@link Builder#checked()}
 * gives every acquire a lease of its own (one small allocation per acquire) and catches that too.
 *
 * <p>Memory ordering: everything a thread did with an object before closing its lease (including
 * the {@code onRelease} action) happens-before everything the next holder does after the
 * {@code acquire()} that returns it.
 *
 * <p>Thread-safety: every method may be called by any thread, platform or virtual, concurrently. A
 * lease may be closed by another thread than the one that acquired it (hand it over with the usual
 * happens-before, as any object). Lease objects are not thread-safe: one holder at a time.
 *
 * @param <T> the pooled objects' type
 */
public final class PerCpuObjectPool<T> {
    /** The pool keeps at most this many objects. */
    public static final int MAX_SIZE = PerCpuFreeList.MAX_CAPACITY;

    private final Supplier<? extends T> factory;
    private final Consumer<? super T> onRelease;
    private final PerCpuFreeList idle;
    /** Slot {@code i}'s lease, made with its object; written once (before its handle is first pushed). */
    private final Lease<T>[] slots;
    /** Slots filled so far; at most {@code slots.length}. */
    private final AtomicInteger created = new AtomicInteger();
    /** Objects made beyond the size or rejected by onRelease: left to the garbage collector. */
    private final LongAdder dropped = new LongAdder();
    /** Objects made for slots whose object onRelease rejected. */
    private final LongAdder refilled = new LongAdder();
    private final boolean checked;
    private final int capacityPerCpu;
    /** When the next steal may run ({@link System#nanoTime()}); see {@link #stealDue()}. */
    private final AtomicLong nextSteal = new AtomicLong(System.nanoTime());
    /** A pool at its maximum size steals at most once per this interval (see {@link #stealDue()}). */
    static final long STEAL_INTERVAL_NANOS = 1_000_000;

    @SuppressWarnings("unchecked")
    private PerCpuObjectPool(Builder<T> b, PerCpuFreeList idle) {
        this.factory = b.factory;
        this.onRelease = b.onRelease;
        this.checked = b.checked;
        this.capacityPerCpu = b.capacityPerCpu;
        this.idle = idle;
        this.slots = (Lease<T>[]) new Lease<?>[idle.capacity()];
    }

    /**
     * A builder of a pool whose objects {@code factory} makes (it must not return null).
     *
     * @throws NullPointerException if {@code factory} is null
     */
    public static <T> Builder<T> builder(Supplier<? extends T> factory) {
        return new Builder<>(Objects.requireNonNull(factory, "factory must not be null"));
    }

    /** Builder of object pools; not thread-safe, reusable. */
    public static final class Builder<T> {
        private final Supplier<? extends T> factory;
        private Consumer<? super T> onRelease;
        private int maxSize = -1;
        private int capacityPerCpu = 8;
        private boolean checked;
        private CpuIndexing indexing = CpuIndexing.CPU;

        private Builder(Supplier<? extends T> factory) {
            this.factory = factory;
        }

        /**
         * The most objects the pool keeps (default {@code capacityPerCpu * Rseq.possibleCpus()}).
         *
         * @throws IllegalArgumentException if not in [1, {@value PerCpuObjectPool#MAX_SIZE}]
         */
        public Builder<T> maxSize(int maxSize) {
            if (maxSize < 1 || maxSize > MAX_SIZE) {
                throw new IllegalArgumentException("maxSize must be in [1, " + MAX_SIZE + "], was " + maxSize);
            }
            this.maxSize = maxSize;
            return this;
        }

        /**
         * The objects one CPU's magazine holds (default 8): the unit of the default {@link #maxSize}, and
         * twice the batch that moves between a magazine and the depot at once.
         *
         * @throws IllegalArgumentException if not in [1, {@value PerCpuFreeList.Builder#MAX_BATCH_SIZE}]
         */
        public Builder<T> capacityPerCpu(int capacityPerCpu) {
            this.capacityPerCpu = PerCpuFreeList.checkCapacityPerCpu(capacityPerCpu);
            return this;
        }

        /**
         * An action that resets an object when its lease is closed, before the object is pooled
         * again. If it throws, the object is dropped (its slot is refilled from the factory on a later
         * acquire) and the exception propagates from {@code close()}, the lease closed.
         */
        public Builder<T> onRelease(Consumer<? super T> onRelease) {
            this.onRelease = Objects.requireNonNull(onRelease, "onRelease must not be null");
            return this;
        }

        /**
         * Give every acquire a lease object of its own, so that every misuse of a lease is caught
         * (see the class notes); one small allocation per acquire, and the free-list's checked mode.
         */
        public Builder<T> checked() {
            this.checked = true;
            return this;
        }

        /** Index the lists by CPU number (default) or by concurrency id (mm_cid, Linux 6.3+). */
        public Builder<T> indexing(CpuIndexing indexing) {
            this.indexing = Objects.requireNonNull(indexing, "indexing must not be null");
            return this;
        }

        /**
         * @throws IllegalArgumentException if the default size ({@code capacityPerCpu * possible
         *         CPUs}) exceeds {@value PerCpuObjectPool#MAX_SIZE}
         * @throws UnsupportedOperationException for concurrency-id indexing where rseq works but the
         *         kernel has no mm_cid
         */
        public PerCpuObjectPool<T> build() {
            PerCpuFreeList.Builder lists = PerCpuFreeList.builder(size()).indexing(indexing)
                    .batchSize(Math.max(1, capacityPerCpu / 2));
            return new PerCpuObjectPool<>(this, (checked ? lists.checked() : lists).build());
        }

        /** For tests: the pool over a free-list made elsewhere (instrumented operations). */
        PerCpuObjectPool<T> build(PerCpuFreeList idle) {
            return new PerCpuObjectPool<>(this, idle);
        }

        int size() {
            long size = maxSize > 0 ? maxSize : (long) capacityPerCpu * Rseq.possibleCpus();
            if (size > MAX_SIZE) {
                throw new IllegalArgumentException("maxSize must be at most " + MAX_SIZE + ": set it, the default "
                        + capacityPerCpu + " * " + Rseq.possibleCpus() + " CPUs is " + size);
            }
            return (int) size;
        }
    }

    /** The most objects this pool keeps. */
    public int maxSize() {
        return slots.length;
    }

    /** Objects created for the pool so far (at most {@link #maxSize()}); objects beyond it are not counted. */
    public int created() {
        return created.get();
    }

    /**
     * Pooled objects resting in the pool now, neither leased nor in flight: a walk of every CPU's list,
     * not an atomic snapshot while other threads acquire and release.
     */
    public int idle() {
        return idle.freeCount();
    }

    /**
     * Leases an object: a pooled one from this CPU's magazine or the depot, else a new one from the
     * factory (pooled if the pool has fewer than {@code maxSize} objects; at its maximum size, a pooled
     * one stolen from another CPU's magazine at most once per millisecond, else one that is not pooled).
     * Never blocks.
     *
     * @throws NullPointerException if the factory returns null
     * @throws RuntimeException whatever the factory throws (nothing is taken from the pool then)
     */
    public Lease<T> acquire() {
        int slot = idle.popWithoutSteal();
        if (slot < 0 && created.get() >= slots.length && stealDue()) {
            slot = idle.pop();
        }
        if (slot >= 0) {
            Lease<T> lease = slots[slot];
            if (lease.object == null) {
                refill(lease);
            }
            // NOTE: the default lease is the slot's own and is not written here: its open/closed state
            // is the slot's state in the free-list (taken/free), whose line the CPU that pops owns.
            // Writing a field of the lease would share its object's cache line across CPUs.
            return handOut(lease);
        }
        return create();
    }

    /**
     * Whether this acquire, in a pool at its maximum size whose magazine and depot were empty, may take
     * a batch from another CPU's magazine: true for one caller per {@value #STEAL_INTERVAL_NANOS} ns.
     */
    private boolean stealDue() {
        // NOTE: a steal takes another CPU's guard and fences it, and that CPU's operations wait for the
        // release; a stolen batch saves a few allocations. So steals are rationed: they bring back
        // objects that rest on CPUs that no longer acquire (without them, such objects would be out of
        // reach and every acquire elsewhere would make an object beyond the size), at a rate that
        // costs the other CPUs almost nothing. Between steals, an object beyond the size is made.
        long due = nextSteal.get();
        long now = System.nanoTime();
        return now - due >= 0 && nextSteal.compareAndSet(due, now + STEAL_INTERVAL_NANOS);
    }

    /**
     * What this pool did and where its idle objects rest (see {@link PoolStats}): {@code created} counts
     * pooled objects (objects refilled after {@code onRelease} rejected one included), {@code dropped}
     * objects made beyond {@code maxSize} and objects {@code onRelease} rejected.
     */
    public PoolStats stats() {
        return PoolStats.of(idle, created.get() + refilled.sum(), dropped.sum());
    }

    /** The free-list under this pool: for tests and diagnostics. */
    PerCpuFreeList freeList() {
        return idle;
    }

    private Lease<T> create() {
        T object = newObject();
        for (int s = created.get(); s < slots.length; s = created.get()) {
            if (created.compareAndSet(s, s + 1)) {
                PoolTotals.recordCreated(1);
                Lease<T> lease = new Lease<>(this, s, object, false);
                slots[s] = lease;
                return handOut(lease);
            }
        }
        dropped.increment();
        PoolTotals.recordDropped();
        return new Lease<>(null, -1, object, true);
    }

    /** What acquire returns for a pooled slot: its own lease, or in checked mode a fresh one of its own. */
    private Lease<T> handOut(Lease<T> slotLease) {
        return checked ? new Lease<>(this, slotLease.slot, slotLease.object, true) : slotLease;
    }

    /** Gives slot {@code lease.slot}, whose object {@code onRelease} rejected, a new object; on failure, frees the slot again. */
    private void refill(Lease<T> lease) {
        try {
            lease.object = newObject();
            refilled.increment();
            PoolTotals.recordCreated(1);
        } catch (Throwable t) {
            idle.give(lease.slot);      // never throws: the factory's exception is the one to see
            throw t;
        }
    }

    private T newObject() {
        return Objects.requireNonNull(factory.get(), "factory returned null");
    }

    private void release(int slot, T object) {
        runOnRelease(slot, object);
        returnSlot(slot);
    }

    /** Runs {@code onRelease}; if it throws, drops the object and returns the slot (to be refilled), then rethrows. */
    private void runOnRelease(int slot, T object) {
        if (onRelease != null) {
            try {
                onRelease.accept(object);
            } catch (Throwable t) {
                slots[slot].object = null;      // dropped: refilled by a later acquire
                dropped.increment();
                PoolTotals.recordDropped();
                idle.give(slot);                // never throws: onRelease's exception is the one to see
                throw t;
            }
        }
    }

    /**
     * Puts the slot back on the free-list; a push that throws (no fence to be had) leaves it taken, so
     * the lease stays open and its close may be retried.
     */
    private void returnSlot(int slot) {
        if (!idle.tryPush(slot)) {
            throw Lease.closedTwice();      // two closes raced past the lease's own check
        }
    }

    @Override
    public String toString() {
        return "PerCpuObjectPool[maxSize=" + maxSize() + ", created=" + created() + ", capacityPerCpu=" + capacityPerCpu
                + (checked ? ", checked" : "") + "]";
    }

    /**
     * A leased object: {@link #get()} it, then {@link #close()} to return it to the pool (use it in
     * try-with-resources). Not thread-safe: one holder at a time.
     *
     * @param <T> the object's type
     */
    public static final class Lease<T> implements AutoCloseable {
        private static final VarHandle OPEN;

        static {
            try {
                OPEN = MethodHandles.lookup().findVarHandle(Lease.class, "open", boolean.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        /** Null for an object beyond the pool's size (dropped on close). */
        private final PerCpuObjectPool<T> pool;
        private final int slot;
        /**
         * Whether this lease keeps its own open flag (checked mode, or not pooled) instead of the
         * slot's state in the pool's free-list (the default lease, reused for every holder).
         */
        private final boolean ownFlag;
        /** The object; replaced only when onRelease rejected it (then refilled before the next holder). */
        private T object;
        /** Only when {@link #ownFlag}; set with a CAS in checked mode. */
        private boolean open;

        private Lease(PerCpuObjectPool<T> pool, int slot, T object, boolean ownFlag) {
            this.pool = pool;
            this.slot = slot;
            this.object = object;
            this.ownFlag = ownFlag;
            this.open = ownFlag;
        }

        /**
         * The leased object.
         *
         * @throws IllegalStateException if this lease is closed
         */
        public T get() {
            if (ownFlag ? !open : pool.idle.isFree(slot)) {
                throw new IllegalStateException("lease is closed: get() after close()");
            }
            return object;
        }

        /** The pool slot of this lease's object, or -1 if it is not pooled: for tests and the self-test. */
        int slot() {
            return slot;
        }

        /** Whether this lease's object is pooled (false for an object made beyond the pool's size). */
        public boolean pooled() {
            return pool != null;
        }

        /**
         * Returns the object to the pool (runs {@code onRelease} first), or leaves it to the garbage
         * collector if it is not pooled. The object must not be used afterwards.
         *
         * @throws IllegalStateException if this lease is closed already, or if the pool could not take
         *         the object back because the free-list's slow path could not fence (membarrier and its
         *         fallback denied): then the lease stays open, and close may be called again
         *         ({@code onRelease} runs again then)
         */
        @Override
        public void close() {
            if (!ownFlag) {
                // NOTE: a plain check before onRelease, so that a second close does not reset an
                // object that rests in the pool; the push checks again (see PerCpuFreeList), which
                // without onRelease is the only check needed.
                if (pool.onRelease != null && pool.idle.isFree(slot)) {
                    throw closedTwice();
                }
            } else if (pool != null && pool.checked) {
                if (!OPEN.compareAndSet(this, true, false)) {
                    throw closedTwice();
                }
                pool.runOnRelease(slot, object);
                try {
                    pool.returnSlot(slot);
                } catch (RuntimeException | Error e) {
                    open = true;        // not returned (no fence to be had): the lease stays open, close may be retried
                    throw e;
                }
                return;
            } else {
                if (!open) {
                    throw closedTwice();
                }
                open = false;
            }
            if (pool != null) {
                pool.release(slot, object);
            }
        }

        private static IllegalStateException closedTwice() {
            return new IllegalStateException("lease closed twice");
        }

        @Override
        public String toString() {
            boolean isOpen = ownFlag ? open : !pool.idle.isFree(slot);
            return "Lease[" + (isOpen ? "open" : "closed") + (pool == null ? ", not pooled" : ", slot " + slot) + "]";
        }
    }
}
