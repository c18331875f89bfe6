package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.NodePool;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;

import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Per-CPU free-lists of {@code int} handles in {@code [0, capacity)}: the primitive under
 * {@link PerCpuObjectPool} and {@link PerCpuMemoryPool}, for pools and slab allocators of your own.
 * A handle names whatever you keep in slot {@code handle} of your own array or memory; the list only
 * records which handles are free.
 *
 * <p>Each CPU has its own list. {@link #push} puts a handle on the list of the CPU the thread runs on;
 * {@link #pop} takes one from there, and only when that list is empty takes a batch
 * ({@link Builder#batchSize}) from another CPU's list, so that the next pops on this CPU are local
 * again. Both are one restartable sequence (plain loads and one plain commit store, no atomic
 * instruction) in the common case; where rseq is unavailable, a per-CPU lock. Memory is one native
 * node per handle (a 64-byte cache line for lists of up to {@value #PADDED_UP_TO} handles, so that
 * CPUs never write each other's lines; 16 bytes beyond) and one cache line per CPU, however many
 * threads (platform or virtual) use the list.
 *
 * <p>A new list is empty: no handle is free until it is pushed. Handles are not ordered: a pop
 * returns any free handle (the last pushed on this CPU, usually).
 *
 * <p>Misuse detection. Pushing a handle that is already free would put it on a list twice and later
 * hand it to two owners. Every push checks a per-handle state:
 * <ul>
 *   <li>default: with plain reads and writes. Catches a handle pushed again without a pop in between
 *       when the two pushes are ordered (same thread, or threads that synchronize), which is how such
 *       bugs usually look; misses two <em>racing</em> pushes of the same handle;</li>
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
 * throws with nothing taken. Handles that no caller holds when such a push fails inside the list (the
 * rest of a stolen batch) go on a Java-side stash that the next pop on an empty list takes from:
 * nothing is ever stranded.
 *
 * <h2>Implementation notes</h2>
 * One {@link PerCpuArea} with a cache line per region: the guard word at 0 and the list head at 8.
 * The nodes are a {@link NodePool}; node {@code h} is handle {@code h}:
 * <pre>
 *   node h   +0 next (the list's link, written by push)   +8 state (int: 0 taken, 1 free)   +12 ... padding
 *            |&lt;-------- 64 bytes for lists of up to {@value #PADDED_UP_TO} handles, else 16 --------&gt;|
 * </pre>
 * A push writes its node's next pointer and state, so two handles used on two CPUs must not share a
 * cache line: small lists (every pool's default) pad nodes to a line; large ones pack four nodes per
 * line, which the pools keep mostly CPU-local by handing out new handles in batches. Push and pop are the core's list operations, so a pop returns the node it
 * read inside its restartable section, and the pop stub checks that a head is a node of the pool
 * before following it. A steal reads other regions' heads (opaque) and pops a batch from the first
 * non-empty one under that region's guard ({@code PerCpuOps.popBatch}: guard, membarrier to that
 * CPU, plain pops); it keeps one handle and pushes the rest on the current region. The ordering
 * promise above comes from the list operations (the push commit is a store-release on arm64; x86_64
 * is TSO) and, for Java code, from a release fence before each push and an acquire fence after each
 * pop (free on x86_64).
 */
public final class PerCpuFreeList {
    /** Handles are at most this many. */
    public static final int MAX_CAPACITY = NodePool.MAX_CAPACITY;

    static final long HEAD = 8;
    private static final long STRIDE = 64;
    /** A node's next pointer, the word the list operations link through. */
    private static final long NEXT_OFFSET = 0;
    /** A node's state word: {@link #TAKEN} or {@link #FREE}; only this class reads and writes it. */
    private static final long STATE_OFFSET = 8;
    private static final VarHandle NEXT = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle STATE = ValueLayout.JAVA_INT.varHandle();
    private static final int TAKEN = 0;
    private static final int FREE = 1;
    /**
     * Lists of at most this many handles give each node a cache line of its own (64-byte nodes);
     * larger ones pack four 16-byte nodes per line, to keep memory at 16 bytes per handle.
     */
    static final int PADDED_UP_TO = 16_384;

    /** The kind this structure's operations count under (JFR {@code dev.rseq4j.PerCpuStatistics}). */
    private static final PerCpuStats.Kind KIND = PerCpuStats.Kind.FREE_LIST;

    private final PerCpuOps ops;
    private final PerCpuArea lists;
    /** Node {@code h} is handle {@code h}: its next pointer and its state (see the layout in the class notes). */
    private final NodePool nodes;
    private final boolean checked;
    private final int batchSize;
    /**
     * Free handles that no list took: the rest of a stolen batch, or a pool's carved blocks, whose push
     * failed because its slow path could not fence (membarrier and the affinity fallback denied). Empty
     * in every other case; {@link #pop} takes from it before stealing. Plain Java concurrency: it is
     * touched only after such a failure, and by a pop whose own list is empty (one volatile read).
     */
    private final ConcurrentLinkedQueue<Integer> stash = new ConcurrentLinkedQueue<>();

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
        this.lists = PerCpuArea.forPossibleCpus(ops.indexing(), STRIDE);
        this.nodes = new NodePool(capacity, capacity <= PADDED_UP_TO ? 64 : 16, NEXT_OFFSET);
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
        /** A steal moves at most this many handles. */
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
         * How many handles a pop that finds its CPU's list empty takes from another CPU's list at once
         * (default 16): larger batches make steals rarer, smaller ones leave less on one CPU.
         *
         * @throws IllegalArgumentException if not in [1, {@value #MAX_BATCH_SIZE}]
         */
        public Builder batchSize(int batchSize) {
            checkBatchSize(batchSize);
            this.batchSize = batchSize;
            return this;
        }

        /**
         * Index lists by CPU number (default) or by concurrency id (mm_cid, Linux 6.3+: dense ids from
         * 0, so a process with few running threads uses few lists).
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
        return nodes.capacity();
    }

    /** Whether every double push is caught ({@link Builder#checked()}). */
    public boolean checked() {
        return checked;
    }

    /**
     * Makes {@code handle} free, on the list of the CPU the thread runs on.
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
        long state = stateOffset(handle);
        if (checked) {
            if (!STATE.compareAndSet(nodes.memory(), state, TAKEN, FREE)) {
                return false;
            }
        } else {
            if ((int) STATE.getOpaque(nodes.memory(), state) == FREE) {
                return false;
            }
            STATE.setOpaque(nodes.memory(), state, FREE);
        }
        // NOTE: release fence: the caller's writes (the object or block behind the handle) come
        // before the push's commit, and so before any pop that returns the handle (see pop).
        VarHandle.releaseFence();
        try {
            pushOnList(handle);
        } catch (Throwable t) {
            // NOTE: the operation changed nothing (its slow path throws before it touches the list):
            // give the handle back to the caller, or it would be marked free and on no list.
            STATE.setOpaque(nodes.memory(), state, TAKEN);
            throw t;
        }
        return true;
    }

    /**
     * Makes a handle that no caller holds free (the rest of a stolen batch, free already; a pool's
     * newly carved block, never pushed) and puts it on the current CPU's list, or, if that push fails,
     * on the {@link #stash}. Never throws, so that such a handle is never left on no list.
     */
    void give(int handle) {
        long state = stateOffset(handle);
        if ((int) STATE.getOpaque(nodes.memory(), state) != FREE) {
            STATE.setOpaque(nodes.memory(), state, FREE);
            VarHandle.releaseFence();       // as in tryPush
        }
        try {
            pushOnList(handle);
        } catch (Throwable t) {
            stash.add(handle);
        }
    }

    /** The list operation of a push, on the current CPU's list; the handle's state is set already. */
    private void pushOnList(int handle) {
        ops.push(lists, HEAD, nodes, handle);
    }

    /**
     * Takes a free handle: from the current CPU's list, or else a batch from another CPU's list.
     *
     * @return a handle, or {@code -1} only when every CPU's list was empty when looked at
     * @throws IllegalStateException if a list was corrupted (cannot happen through this API)
     */
    public int pop() {
        int handle = ops.pop(lists, HEAD, nodes);
        if (handle < 0) {
            Integer stashed = stash.isEmpty() ? null : stash.poll();
            handle = stashed != null ? stashed : steal();
            if (handle < 0) {
                return -1;
            }
        }
        // NOTE: acquire fence: pairs with push's release fence, so that what the pusher wrote before
        // pushing is visible to what our caller does with the handle.
        VarHandle.acquireFence();
        if (checked) {
            if (!STATE.compareAndSet(nodes.memory(), stateOffset(handle), FREE, TAKEN)) {
                throw new IllegalStateException("free-list corrupted: popped handle " + handle + " was not free");
            }
        } else {
            STATE.setOpaque(nodes.memory(), stateOffset(handle), TAKEN);
        }
        return handle;
    }

    /**
     * Whether {@code handle} is free now (a hint: it may change at once).
     *
     * @throws IllegalArgumentException if {@code handle} is not in [0, capacity())
     */
    public boolean isFree(int handle) {
        checkHandle(handle);
        return (int) STATE.getOpaque(nodes.memory(), stateOffset(handle)) == FREE;
    }

    /**
     * Free handles on each CPU's list, walking them: for the pools' accounting and tests, not an
     * atomic snapshot while other threads push and pop.
     */
    int[] freePerRegion() {
        int[] free = new int[lists.regions()];
        for (int r = 0; r < free.length; r++) {
            long head = lists.getLongOpaque(r, HEAD);
            for (int n = 0; head != 0 && n <= capacity(); n++) {
                free[r]++;
                head = (long) NEXT.getOpaque(nodes.memory(), nodes.offsetOf(nodes.indexOf(head)) + NEXT_OFFSET);
            }
        }
        return free;
    }

    /** Free handles on all lists and the stash: the sum of {@link #freePerRegion()} and {@link #stashed()}, with the same caveat. */
    int freeCount() {
        int sum = stashed();
        for (int n : freePerRegion()) {
            sum += n;
        }
        return sum;
    }

    /** Free handles on the {@link #stash}: zero unless pushes failed for want of a fence. */
    int stashed() {
        return stash.size();
    }

    /** Counts of the rare events (aborts, slow paths, steals' guarded pops) of this list's operations. */
    PerCpuStats stats() {
        return ops.stats();
    }

    /** Pops a batch from the first other region (in index order after ours) whose list is not empty. */
    private int steal() {
        int regions = lists.regions();
        int here = ops.currentIndex(lists);
        int[] batch = new int[batchSize];
        for (int i = 1; i <= regions; i++) {       // i == regions: our own region, once more
            int r = (here + i) % regions;
            // NOTE: an opaque peek first, so that empty regions cost a load, not a guard and a membarrier.
            if (lists.getLongOpaque(r, HEAD) == 0) {
                continue;
            }
            int n = ops.popBatch(lists, r, HEAD, nodes, batch, batchSize);
            if (n > 0) {
                for (int k = 1; k < n; k++) {
                    give(batch[k]);     // still free: their states stay FREE
                }
                return batch[0];
            }
        }
        return -1;
    }

    private void checkHandle(int handle) {
        if (handle < 0 || handle >= nodes.capacity()) {
            throw new IllegalArgumentException("handle must be in [0, " + nodes.capacity() + "), was " + handle);
        }
    }

    /** Offset of handle {@code handle}'s state word in the node memory; the handle is checked. */
    private long stateOffset(int handle) {
        return nodes.offsetOf(handle) + STATE_OFFSET;
    }

    private static IllegalStateException pushedTwice(int handle) {
        return new IllegalStateException("handle " + handle + " pushed twice: it is free already");
    }

    @Override
    public String toString() {
        return "PerCpuFreeList[capacity=" + capacity() + ", regions=" + lists.regions() + (checked ? ", checked" : "")
                + "]";
    }
}
