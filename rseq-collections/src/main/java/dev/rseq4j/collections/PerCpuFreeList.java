package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.ArrayStack;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;
import dev.rseq4j.core.percpu.PoolTotals;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * Per-CPU free-lists of {@code int} handles in {@code [0, capacity)}: the primitive under
 * {@link PerCpuObjectPool} and {@link PerCpuMemoryPool}, for pools and slab allocators of your own.
 * A handle names whatever you keep in slot {@code handle} of your own array or memory; the list only
 * records which handles are free.
 *
 * <p>Each CPU has a <em>magazine</em>: a bounded array of free handles (twice the
 * {@link Builder#batchSize batch size}). {@link #push} puts a handle in the magazine of the CPU the
 * thread runs on and {@link #pop} takes the one on top, each in one restartable sequence (plain loads
 * and one plain commit store, no atomic instruction), one downcall. Between the magazines sits a
 * <em>depot</em> of batches shared by all CPUs: a push onto a full magazine moves a batch out of it
 * into the depot, and a pop from an empty magazine takes a batch from the depot into it, each move
 * one restartable sequence plus one short lock held by nobody else for long, once per batch. So a
 * thread that takes handles on one CPU and gives them back on another (a virtual thread that moved
 * while it held one) never waits for another CPU: the handles flow back through the depot. Only a
 * pop that finds its magazine and the depot empty takes a batch from another CPU's magazine (that
 * CPU's guard and a membarrier: a steal), so that no free handle is ever out of reach. This is the
 * design of Bonwick's magazines and tcmalloc's per-CPU caches with their transfer cache. Where rseq
 * is unavailable, each magazine operation takes a per-CPU lock instead.
 *
 * <p>Memory: one slot word per magazine entry and one cache line per CPU for its count (native), a
 * state per handle (an {@code int} on the Java heap, padded to a 64-byte cache line for lists of up to
 * {@value #PADDED_UP_TO} handles, so that CPUs never write each other's lines; 16 bytes beyond), and
 * the depot's batch arrays; all bounded by the capacity, however many threads (platform or virtual)
 * use the list.
 *
 * <p>A new list is empty: no handle is free until it is pushed. Handles are not ordered: a pop
 * returns any free handle (the last pushed on this CPU, usually).
 *
 * <p>Misuse detection. Pushing a handle that is already free would hand it to two owners later. Every
 * push checks a per-handle state:
 * <ul>
 *   <li>default: with plain reads and writes (one store on push and one on pop, to the handle's own
 *       line). Catches a handle pushed again without a pop in between when the two pushes are ordered
 *       (same thread, or threads that synchronize), which is how such bugs usually look; misses two
 *       <em>racing</em> pushes of the same handle;</li>
 *   <li>{@link Builder#checked()}: with an atomic compare-and-set per push and pop, which catches every
 *       double push, racing or not, at the cost of one atomic instruction per operation.</li>
 * </ul>
 * Neither mode can tell whether the pusher owns the handle (ownership is not recorded): pushing a
 * handle that another thread popped and still uses is not detected.
 *
 * <p>Memory ordering: everything a thread did before {@code push(h)} happens-before everything a
 * thread does after the {@code pop()} that returns {@code h}.
 *
 * <p>Thread-safety: every method may be called by any thread, concurrently.
 *
 * <p>Failure atomicity: an operation that throws changed nothing. The one failure an ordinary caller can
 * meet is a slow path that cannot fence (membarrier denied by a policy installed after start-up, and
 * its fallback, running on the target CPU, denied too): {@link #push} then throws
 * {@link IllegalStateException} with the handle still taken, so a retry behaves the same; {@link #pop}
 * throws with nothing taken. Handles that no caller holds when such a move fails (the rest of a batch)
 * go to the depot: nothing is ever stranded.
 *
 * <h2>Implementation notes</h2>
 * One {@link PerCpuArea} whose regions each hold a magazine, an {@link ArrayStack}:
 * <pre>
 *   region   +0 guard   +8 count   +16 slot 0 | slot 1 | ... | slot 2*batchSize-1    (8 bytes each)
 * </pre>
 * The states are an {@code int[]}, handle {@code h}'s at {@code h << stateShift} (0 taken, 1 free): a
 * Java array, so that a state access is a bounds check and a load, not a native segment's checks. The
 * paths, each named by its steps:
 * <ul>
 *   <li>push: state, release fence, {@code arrayPush}. When the magazine is full, the spill:
 *       {@code arrayCopyOut(batchSize - 1)} into an array the depot lends, the handle itself added, the
 *       batch put in the depot. If the magazine was no longer full by then (a pop ran on that CPU, or
 *       the thread moved), {@code arrayPush} once more; after two such misses the handle goes to the
 *       depot alone. Never a loop without bound.</li>
 *   <li>pop: {@code arrayPop}, acquire fence, state. When the magazine is empty, the refill: a batch
 *       from the depot, one handle kept, the rest put in the magazine by {@code arrayCopyIn} (or, if
 *       that magazine has filled meanwhile, back in the depot). When the depot is empty too, the steal:
 *       {@code arrayCopyOutFrom} the first other region (in index order after ours) whose magazine is
 *       not empty, under its guard, and the rest installed as in the refill.</li>
 * </ul>
 * The pools call {@link #popWithoutSteal} and make a new object (or carve a block) before they
 * steal: a pool below its size never takes another CPU's guard. The ordering promise comes from the
 * array operations (the push's and copy-in's commit is a store-release on arm64; x86_64 is TSO), the
 * depot's monitor, and, for Java code, a release fence before each push and an acquire fence after
 * each pop (free on x86_64).
 */
public final class PerCpuFreeList {
    /** Handles are at most this many. */
    public static final int MAX_CAPACITY = 1 << 24;

    /** A region's magazine: its count word, then its slots. */
    static final long COUNT = 8;
    private static final long SLOTS = 16;
    /** A handle's state: {@link #TAKEN} or {@link #FREE}, an element of {@link #states}; only this class reads and writes it. */
    private static final VarHandle STATE = MethodHandles.arrayElementVarHandle(int[].class);
    private static final int TAKEN = 0;
    private static final int FREE = 1;
    /** The spill's and the refill's misses before a handle goes to the depot alone (see the class notes). */
    private static final int SPILL_ATTEMPTS = 2;
    /**
     * Lists of at most this many handles give each state a cache line of its own (64-byte nodes);
     * larger ones pack four 16-byte nodes per line, to keep memory at 16 bytes per handle.
     */
    static final int PADDED_UP_TO = 16_384;

    /** The kind this structure's operations count under (JFR {@code dev.rseq4j.PerCpuStatistics}). */
    private static final PerCpuStats.Kind KIND = PerCpuStats.Kind.FREE_LIST;

    private final PerCpuOps ops;
    /** Each region's magazine. */
    private final ArrayStack magazines;
    /** Handle {@code h}'s state is {@code states[h << stateShift]} (see the layout in the class notes). */
    private final int[] states;
    /** 4 (a 64-byte line per state) for lists of up to {@link #PADDED_UP_TO} handles, else 2 (16 bytes). */
    private final int stateShift;
    private final int capacity;
    private final Depot depot;
    private final boolean checked;
    private final int batchSize;
    private final LongAdder steals = new LongAdder();

    /**
     * An empty, CPU-indexed list of handles in {@code [0, capacity)}, default mode, batch size 16.
     *
     * @throws IllegalArgumentException if {@code capacity} is not in [1, {@value #MAX_CAPACITY}]
     */
    public PerCpuFreeList(int capacity) {
        this(builder(capacity));
    }

    private PerCpuFreeList(Builder b) {
        this(b.indexing == CpuIndexing.CPU ? PerCpuOps.cpuIndexed(KIND) : PerCpuOps.concurrencyIdIndexed(KIND), b.capacity,
                b.checked, b.batchSize);
    }

    /** For tests: a list over the given operations (instrumented, lock mode). */
    PerCpuFreeList(PerCpuOps ops, int capacity, boolean checked, int batchSize) {
        checkCapacity(capacity);
        checkBatchSize(batchSize);
        this.ops = Objects.requireNonNull(ops, "ops must not be null");
        int slots = 2 * batchSize;
        long stride = (SLOTS + (long) slots * ArrayStack.SLOT_BYTES + 63) & -64;
        this.magazines = new ArrayStack(PerCpuArea.forPossibleCpus(ops.indexing(), stride), COUNT, SLOTS, slots);
        this.stateShift = capacity <= PADDED_UP_TO ? 4 : 2;
        this.states = new int[capacity << stateShift];
        this.capacity = capacity;
        this.depot = new Depot(batchSize, capacity);
        this.checked = checked;
        this.batchSize = batchSize;
    }

    private static void checkCapacity(int capacity) {
        if (capacity < 1 || capacity > MAX_CAPACITY) {
            throw new IllegalArgumentException("capacity must be in [1, " + MAX_CAPACITY + "], was " + capacity);
        }
    }

    private static void checkBatchSize(int batchSize) {
        if (batchSize < 1 || batchSize > Builder.MAX_BATCH_SIZE) {
            throw new IllegalArgumentException("batchSize must be in [1, " + Builder.MAX_BATCH_SIZE + "], was " + batchSize);
        }
    }

    /** The pools' {@code capacityPerCpu}: half of it is their free-list's batch size. */
    static int checkCapacityPerCpu(int capacityPerCpu) {
        if (capacityPerCpu < 1 || capacityPerCpu > Builder.MAX_BATCH_SIZE) {
            throw new IllegalArgumentException("capacityPerCpu must be in [1, " + Builder.MAX_BATCH_SIZE + "], was "
                    + capacityPerCpu);
        }
        return capacityPerCpu;
    }

    /**
     * A builder of a list of handles in {@code [0, capacity)}.
     *
     * @throws IllegalArgumentException if {@code capacity} is not in [1, {@value #MAX_CAPACITY}]
     */
    public static Builder builder(int capacity) {
        checkCapacity(capacity);
        return new Builder(capacity);
    }

    /** Builder of free-lists; not thread-safe, reusable. */
    public static final class Builder {
        /** A batch holds at most this many handles (a magazine twice as many). */
        public static final int MAX_BATCH_SIZE = 1024;

        private final int capacity;
        private boolean checked;
        private int batchSize = 16;
        private CpuIndexing indexing = CpuIndexing.CPU;

        private Builder(int capacity) {
            this.capacity = capacity;
        }

        /** Catch every double push, racing ones too, with one atomic instruction per push and pop (see the class notes). */
        public Builder checked() {
            this.checked = true;
            return this;
        }

        /**
         * How many handles move at once between a CPU's magazine and the depot shared by all CPUs
         * (default 16); a CPU's magazine holds twice as many. Larger batches make moves rarer, smaller
         * ones leave fewer handles on one CPU.
         *
         * @throws IllegalArgumentException if not in [1, {@value #MAX_BATCH_SIZE}]
         */
        public Builder batchSize(int batchSize) {
            checkBatchSize(batchSize);
            this.batchSize = batchSize;
            return this;
        }

        /**
         * Index magazines by CPU number (default) or by concurrency id (mm_cid, Linux 6.3+: dense ids
         * from 0, so a process with few running threads uses few magazines).
         */
        public Builder indexing(CpuIndexing indexing) {
            this.indexing = Objects.requireNonNull(indexing, "indexing must not be null");
            return this;
        }

        /**
         * @throws UnsupportedOperationException for concurrency-id indexing where rseq works but the
         *         kernel has no mm_cid
         */
        public PerCpuFreeList build() {
            return new PerCpuFreeList(this);
        }
    }

    /** Handles are in {@code [0, capacity())}. */
    public int capacity() {
        return capacity;
    }

    /** Whether every double push is caught ({@link Builder#checked()}). */
    public boolean checked() {
        return checked;
    }

    /** Handles that move between a magazine and the depot at once ({@link Builder#batchSize}). */
    public int batchSize() {
        return batchSize;
    }

    /**
     * Makes {@code handle} free, in the magazine of the CPU the thread runs on (or, when it is full,
     * with a batch of that magazine in the depot).
     *
     * @throws IllegalArgumentException if {@code handle} is not in [0, capacity())
     * @throws IllegalStateException if {@code handle} is free already (pushed twice; see the class
     *         notes for which double pushes each mode sees), or if the push's slow path could not fence
     *         (membarrier and its fallback both denied); either way the list and the handle's state are
     *         unchanged, so the caller still owns the handle and may push it again
     */
    public void push(int handle) {
        if (!tryPush(handle)) {
            throw pushedTwice(handle);
        }
    }

    /**
     * {@link #push}, but a handle that is free already returns {@code false} instead of throwing, so
     * that the pools tell "freed twice" apart from an operation that failed (which throws, unchanged).
     */
    boolean tryPush(int handle) {
        checkHandle(handle);
        int state = stateIndex(handle);
        if (checked) {
            if (!STATE.compareAndSet(states, state, TAKEN, FREE)) {
                return false;
            }
        } else {
            if ((int) STATE.getOpaque(states, state) == FREE) {
                return false;
            }
            STATE.setOpaque(states, state, FREE);
        }
        // NOTE: release fence: the caller's writes (the object or block behind the handle) come
        // before the push's commit, and so before any pop that returns the handle (see pop).
        VarHandle.releaseFence();
        try {
            if (!ops.arrayPush(magazines, handle)) {
                spill(handle);
            }
        } catch (Throwable t) {
            // NOTE: the operation changed nothing (its slow path throws before it touches the
            // magazine, and a spill puts back what it moved): give the handle back to the caller, or
            // it would be marked free and in no magazine.
            STATE.setOpaque(states, state, TAKEN);
            throw t;
        }
        return true;
    }

    /**
     * The push of {@code handle} onto a full magazine: a batch of that magazine, with the handle, to the
     * depot (see the class notes). Throws only if an array operation's slow path could not fence; then
     * nothing moved.
     */
    private void spill(int handle) {
        long[] batch = depot.borrow();
        for (int attempt = 0; attempt < SPILL_ATTEMPTS; attempt++) {
            if (batchSize == 1 || ops.arrayCopyOut(magazines, batch, batchSize - 1)) {
                batch[batchSize - 1] = handle;
                depot.put(batch, batchSize);
                return;
            }
            if (ops.arrayPush(magazines, handle)) {     // the magazine was no longer full
                depot.giveBack(batch);
                return;
            }
        }
        batch[0] = handle;
        depot.put(batch, 1);
    }

    /**
     * Makes a handle that no caller holds free (the rest of a stolen batch, free already; a pool's
     * newly carved block, never pushed) and puts it in the current CPU's magazine, or, if that push
     * fails, in the depot. Never throws, so that such a handle is never left nowhere.
     */
    void give(int handle) {
        int state = stateIndex(handle);
        if ((int) STATE.getOpaque(states, state) != FREE) {
            STATE.setOpaque(states, state, FREE);
            VarHandle.releaseFence();       // as in tryPush
        }
        try {
            if (!ops.arrayPush(magazines, handle)) {
                spill(handle);
            }
        } catch (Throwable t) {
            long[] alone = depot.borrow();
            alone[0] = handle;
            depot.put(alone, 1);
        }
    }

    /**
     * Takes a free handle: from the current CPU's magazine, else a batch from the depot, else a batch
     * from another CPU's magazine.
     *
     * @return a handle, or {@code -1} only when every magazine and the depot were empty when looked at
     * @throws IllegalStateException if a magazine was corrupted (cannot happen through this API)
     */
    public int pop() {
        int handle = ops.arrayPop(magazines);
        return claim(handle >= 0 ? handle : refill(true));
    }

    /**
     * {@link #pop} without the steal: from the current CPU's magazine or the depot, else -1 (free
     * handles may rest in other CPUs' magazines). The pools' first try: a pool that may still grow
     * makes a new object rather than take another CPU's guard.
     */
    int popWithoutSteal() {
        int handle = ops.arrayPop(magazines);
        return claim(handle >= 0 ? handle : refill(false));
    }

    /** Marks a popped handle taken (or passes -1 on). */
    private int claim(int handle) {
        if (handle < 0) {
            return -1;
        }
        // NOTE: acquire fence: pairs with push's release fence, so that what the pusher wrote before
        // pushing is visible to what our caller does with the handle.
        VarHandle.acquireFence();
        if (checked) {
            if (!STATE.compareAndSet(states, stateIndex(handle), FREE, TAKEN)) {
                throw new IllegalStateException("free-list corrupted: popped handle " + handle + " was not free");
            }
        } else {
            STATE.setOpaque(states, stateIndex(handle), TAKEN);
        }
        return handle;
    }

    /** The pop from an empty magazine: a batch from the depot, else (if {@code steal}) from another magazine. */
    private int refill(boolean steal) {
        long[] batch = depot.take();
        if (batch != null) {
            return keepOneInstallRest(batch, Depot.size(batch));
        }
        return steal ? steal() : -1;
    }

    /**
     * Of a batch of {@code n} free handles that is ours ({@code batch[0..n)}), returns the top one and puts
     * the rest in the current magazine, or, if it has no room for them (or its move cannot fence), in the
     * depot. Never throws: the batch is never stranded.
     */
    private int keepOneInstallRest(long[] batch, int n) {
        int handle = (int) batch[n - 1];
        boolean installed;
        try {
            installed = n == 1 || ops.arrayCopyIn(magazines, batch, n - 1);
        } catch (RuntimeException e) {
            installed = false;      // nothing stored: the depot keeps them
        }
        if (installed) {
            depot.giveBack(batch);
        } else {
            depot.put(batch, n - 1);
        }
        return handle;
    }

    /** Takes a batch from the first other region (in index order after ours) whose magazine is not empty. */
    private int steal() {
        int regions = magazines.area().regions();
        int here = ops.currentIndex(magazines.area());
        long[] batch = depot.borrow();
        for (int i = 1; i <= regions; i++) {       // i == regions: our own region, once more
            int r = (here + i) % regions;
            // NOTE: an opaque peek first, so that empty regions cost a load, not a guard and a membarrier.
            if (magazines.size(r) == 0) {
                continue;
            }
            int n;
            try {
                n = ops.arrayCopyOutFrom(magazines, r, batch, batchSize);
            } catch (RuntimeException e) {
                depot.giveBack(batch);      // nothing moved
                throw e;
            }
            if (n > 0) {
                steals.increment();
                PoolTotals.recordSteal();
                return keepOneInstallRest(batch, n);
            }
        }
        depot.giveBack(batch);
        return -1;
    }

    /**
     * Whether {@code handle} is free now (a hint: it may change at once).
     *
     * @throws IllegalArgumentException if {@code handle} is not in [0, capacity())
     */
    public boolean isFree(int handle) {
        checkHandle(handle);
        return (int) STATE.getOpaque(states, stateIndex(handle)) == FREE;
    }

    /** Free handles in each CPU's magazine: for the pools' accounting and tests, not an atomic snapshot. */
    int[] freePerRegion() {
        int[] free = new int[magazines.area().regions()];
        for (int r = 0; r < free.length; r++) {
            free[r] = magazines.size(r);
        }
        return free;
    }

    /** Free handles in all magazines and the depot: the sum of {@link #freePerRegion()} and {@link #inDepot()}, with the same caveat. */
    int freeCount() {
        int sum = inDepot();
        for (int n : freePerRegion()) {
            sum += n;
        }
        return sum;
    }

    /** Free handles in the depot now. */
    int inDepot() {
        return depot.handles();
    }

    /** The depot, for tests and the pools' statistics. */
    Depot depot() {
        return depot;
    }

    /** Batches taken from other CPUs' magazines since creation. */
    long steals() {
        return steals.sum();
    }

    /** What this list did and where its free handles rest (see {@link PoolStats}). */
    public PoolStats stats() {
        return PoolStats.of(this, 0, 0);
    }

    /** Whether this list's operations are restartable sequences (rseq mode), not locks. */
    boolean restartable() {
        return ops.restartable();
    }

    /** Counts of the rare events (aborts, slow paths, guard waits) of this list's operations. */
    PerCpuStats opsStats() {
        return ops.stats();
    }

    private void checkHandle(int handle) {
        if (handle < 0 || handle >= capacity) {
            throw new IllegalArgumentException("handle must be in [0, " + capacity + "), was " + handle);
        }
    }

    /** The index of handle {@code handle}'s state in {@link #states}; the handle is checked. */
    private int stateIndex(int handle) {
        return handle << stateShift;
    }

    private static IllegalStateException pushedTwice(int handle) {
        return new IllegalStateException("handle " + handle + " pushed twice: it is free already");
    }

    @Override
    public String toString() {
        return "PerCpuFreeList[capacity=" + capacity() + ", regions=" + magazines.area().regions() + ", batchSize="
                + batchSize + (checked ? ", checked" : "") + "]";
    }
}
