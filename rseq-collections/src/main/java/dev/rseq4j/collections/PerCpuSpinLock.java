package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.LockTotals;
import dev.rseq4j.core.percpu.PerCpuStats;
import dev.rseq4j.core.percpu.TimeSliceExtension;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * One mutual-exclusion lock per CPU (per region): a thread takes the lock of the CPU it runs on with
 * one compare-and-store committed inside a restartable sequence (no atomic instruction, no cache line
 * shared with other CPUs) and frees it with one release store, so that threads on different CPUs never
 * contend, and threads on one CPU contend only when one of them is preempted or blocks while holding
 * it. Guards per-CPU data that an update needs longer than one commit (a map, a histogram, a buffer):
 * see {@link PerCpu}, which pairs each region's lock with an object.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>{@link #lock()} takes the lock of the current region (the CPU the thread runs on when it
 *       asks) and returns its index; the caller must pass that index to {@link #unlock(int)}.
 *       {@link #lock(int)} and {@link #tryLock(int)} take a named region's lock (for aggregation over
 *       every region); from a CPU other than that region's they cost a system call (the core's slow
 *       path: guard and membarrier).</li>
 *   <li>Mutual exclusion: at most one thread holds a region's lock at a time, whichever paths (the
 *       restartable sequence, the core's slow path, lock mode) and CPUs took it. A lock taken on CPU 3
 *       may be released after the holder moved to CPU 5.</li>
 *   <li>Memory ordering: an {@code unlock(r)} happens-before every later acquisition of region
 *       {@code r}'s lock (by {@code lock}, {@code lock(r)} or a successful {@code tryLock(r)}), as with
 *       {@link java.util.concurrent.locks.Lock}. Nothing is ordered between different regions.</li>
 *   <li>Ownership: only the holder may unlock; the lock word records the holding thread, so
 *       {@code unlock} of a region the caller does not hold (never locked, already unlocked, or held
 *       by another thread) throws {@link IllegalMonitorStateException} and changes nothing. The lock
 *       is not reentrant: {@code lock} or {@code tryLock} of a region the caller already holds throws
 *       {@link IllegalMonitorStateException} instead of deadlocking. A thread may hold several
 *       regions; take them in index order, or two such threads can deadlock.</li>
 *   <li>Waiting: a thread that finds the lock held spins briefly, tries once more, then parks
 *       ({@link LockSupport#park}: a virtual thread unmounts and frees its carrier) until an unlock
 *       wakes it. So a holder that blocks, is preempted, or is an unmounted virtual thread makes the
 *       other threads of its region wait parked, never spin for ever, and threads of other regions not
 *       at all. Waiting is not fair (a newcomer can take the lock before a woken waiter) and not
 *       interruptible (the interrupt status is kept and restored).</li>
 *   <li>Time-slice extension (Linux 7.0+, where the kernel offers it): a platform thread that takes
 *       the lock at its first attempt asks the kernel not to preempt it until it unlocks, and gives the CPU
 *       back at unlock if the kernel granted that ({@link TimeSliceExtension}). Counted in
 *       {@link #lockStats()}; elsewhere nothing changes.</li>
 *   <li>Lock mode (no rseq): the same contract; a take is the core's guarded compare-and-store.</li>
 * </ul>
 *
 * <p>Thread-safety: every method may be called by any thread, platform or virtual.
 *
 * <h2>Implementation notes</h2>
 * <pre>
 *   words (native, one 64-byte line per region)       Java side, per region
 *   +-------+------------+---------+                  waiting[(r + 1) * 16]: threads parked or parking
 *   | guard | lock word  | padding |  region r        queues[r]:       those threads
 *   +-------+------------+---------+
 *   0       8            16        64
 *   lock word: 0 = free, else (holder's threadId &lt;&lt; 1) | slice-extension-requested bit
 * </pre>
 * <b>Taking.</b> {@link #lock()} is the core's {@code compareAndStoreCurrent(lock word, 0, owner)}: one
 * restartable sequence reads the CPU it runs on, compares that region's lock word with 0 and commits the
 * owner, and returns the region with the outcome, so a take costs one downcall and no separate
 * {@code currentIndex}. {@code lock(r)}, {@code tryLock(r)} and the retries of a contended take use
 * {@code compareAndStore(r, lock word, 0, owner)}: on region {@code r}'s CPU the same sequence, elsewhere
 * (or after two aborts) the guarded slow path. Both make the compare and the store atomic with respect to
 * every other take of that region, so only one taker sees 0 and stores. The compare reads the previous holder's release store of 0; an
 * acquire fence after it makes the holder's later reads see what the previous holder wrote (on x86_64 a
 * compiler barrier; on arm64 the stub's plain load would otherwise not order later loads).
 *
 * <p><b>Freeing</b> is a release store of 0 outside any sequence ({@code PerCpuArea.setLongRelease}).
 * That is safe although the word is also written by restartable sequences: while it holds the owner's
 * value, every take compares it with 0 and fails without storing, so no commit can race with the store.
 *
 * <p><b>Waiting without lost wake-ups, and an unlock that stays a plain store when nobody waits.</b>
 * A waiter and the holder's unlock run a Dekker-style handshake with the fence on the waiter's side
 * only (an asymmetric fence):
 * <pre>
 *   waiter (rare)                                   unlock (every time)
 *   queues[r].add(me); waiting[r]++                 store-release(lock word, 0)
 *   ops.fenceAllThreads()   (membarrier)            if load-acquire(waiting[r]) != 0:
 *   loop: if lock word == 0 and take(r): done           unpark(queues[r].peek())
 *         park()
 * </pre>
 * Without a fence, the unlock's load of {@code waiting} could run before its store of 0 became visible
 * (store-load reordering, allowed even on x86_64), and a waiter that registered in between would read
 * the lock still held, park, and never be woken. The membarrier runs a full barrier on every running
 * thread of the process, at some point of its program: if that point is before the unlock's store, the
 * unlock's load comes after the barrier and sees {@code waiting != 0}; if after the store, the store is
 * visible when the membarrier returns and the waiter's next read sees the lock free. Either the unlock
 * wakes a waiter or the waiter does not park. A waiter woken in vain (the lock was taken again first)
 * stays registered and parks again; the unlock of whoever took it sees it. Each unlock with waiters
 * wakes one (the queue's head), which retries; a waiter that wins removes itself, so the next unlock
 * wakes the next. In lock mode there is no process-wide fence ({@code fenceAllThreads} fences the
 * caller only) and the unlock issues a full fence itself before its load.
 *
 * <p><b>Ownership</b> is checked with one plain read of the lock word, which the caller wrote itself if
 * it holds the lock: a thread sees its own owner value there exactly while it holds the lock.
 */
public final class PerCpuSpinLock {
    /** Re-reads of a held lock word before the second attempt; then the thread parks. */
    static final int SPINS = 64;
    private static final long STRIDE = 64;
    private static final long LOCK = 8;
    private static final long FREE = 0;
    /** The low bit of a held lock word: the holder requested a time-slice extension. */
    private static final long SLICE_REQUESTED = 1;
    /** Ints per region in {@link #waiting}: one cache line each. */
    private static final int WAIT_STRIDE = 16;
    private static final VarHandle WAITING = MethodHandles.arrayElementVarHandle(int[].class);
    /** The kind this structure's operations count under (JFR {@code dev.rseq4j.PerCpuStatistics}). */
    private static final PerCpuStats.Kind KIND = PerCpuStats.Kind.SPIN_LOCK;

    private final PerCpuOps ops;
    private final PerCpuArea words;
    private final int regions;
    /** Lock mode: the waiters' fence is the caller's only, so the unlock fences itself. */
    private final boolean fenceOnUnlock;
    private final TimeSliceExtension slice;
    private final boolean sliceAvailable;
    private final int[] waiting;
    private final ConcurrentLinkedQueue<Thread>[] queues;
    private final LongAdder contended = new LongAdder();
    private final LongAdder parks = new LongAdder();
    private final LongAdder wakeups = new LongAdder();
    private final LongAdder sliceGrants = new LongAdder();
    private final LongAdder sliceYields = new LongAdder();

    /** One lock per possible CPU, indexed by CPU number; all free. */
    public PerCpuSpinLock() {
        this(PerCpuOps.cpuIndexed(KIND), TimeSliceExtension.forThisProcess());
    }

    /** For tests and the builder: locks over the given operations and time-slice extension. */
    @SuppressWarnings({"unchecked", "rawtypes"})     // the array of queues: no generic array creation in Java
    PerCpuSpinLock(PerCpuOps ops, TimeSliceExtension slice) {
        this.ops = Objects.requireNonNull(ops, "ops must not be null");
        this.slice = Objects.requireNonNull(slice, "slice must not be null");
        this.sliceAvailable = slice.available();
        this.words = PerCpuArea.forPossibleCpus(ops.indexing(), STRIDE);
        this.regions = words.regions();
        this.fenceOnUnlock = !ops.restartable();
        this.waiting = new int[(regions + 1) * WAIT_STRIDE];
        this.queues = new ConcurrentLinkedQueue[regions];
        for (int r = 0; r < regions; r++) {
            queues[r] = new ConcurrentLinkedQueue<>();
        }
    }

    /** A builder, for concurrency-id indexing. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder of per-CPU spinlocks; not thread-safe, reusable. */
    public static final class Builder {
        private CpuIndexing indexing = CpuIndexing.CPU;

        private Builder() {
        }

        /**
         * Index locks by CPU number (default) or by concurrency id (mm_cid, Linux 6.3+: dense ids
         * from 0, so a process with few running threads uses few regions).
         */
        public Builder indexing(CpuIndexing indexing) {
            this.indexing = Objects.requireNonNull(indexing, "indexing must not be null");
            return this;
        }

        /**
         * @throws UnsupportedOperationException for concurrency-id indexing where rseq works but the
         *         kernel has no mm_cid
         */
        public PerCpuSpinLock build() {
            return new PerCpuSpinLock(indexing == CpuIndexing.CPU ? PerCpuOps.cpuIndexed(KIND)
                    : PerCpuOps.concurrencyIdIndexed(KIND), TimeSliceExtension.forThisProcess());
        }
    }

    /**
     * Takes the lock of the current region, waiting (parked) while another thread holds it.
     *
     * @return the region's index, to pass to {@link #unlock(int)}
     * @throws IllegalMonitorStateException if the calling thread already holds that region's lock
     */
    public int lock() {
        long word = requestSlice(ownerWord());
        int taken = takeCurrentRequested(word);
        int region = taken >= 0 ? taken : ~taken;
        if (taken < 0) {
            acquireContended(region, word);
        }
        // NOTE: acquire: the holder's accesses see the previous holder's writes (see the class notes).
        VarHandle.acquireFence();
        return region;
    }

    /**
     * Takes the lock of the current region if it is free, without waiting: {@link #lock()}'s one
     * downcall, and nothing else.
     *
     * @return the region's index, to pass to {@link #unlock(int)}, or -1 if that region's lock was held
     * @throws IllegalMonitorStateException if the calling thread already holds that region's lock
     */
    public int tryLock() {
        long owner = ownerWord();
        long word = requestSlice(owner);
        int taken = takeCurrentRequested(word);
        if (taken >= 0) {
            // NOTE: acquire: the holder's accesses see the previous holder's writes (see the class notes).
            VarHandle.acquireFence();
            return taken;
        }
        releaseSlice(word);
        checkNotHeldByCaller(~taken, words.getLongAcquire(~taken, LOCK), owner);
        return -1;
    }

    /**
     * Takes region {@code region}'s lock, waiting (parked) while another thread holds it. Costs a system
     * call when the thread does not run on that region's CPU.
     *
     * @throws IndexOutOfBoundsException if {@code region} is not in [0, {@link #regions()})
     * @throws IllegalMonitorStateException if the calling thread already holds it
     */
    public void lock(int region) {
        checkRegion(region);
        acquire(region);
    }

    /**
     * Takes region {@code region}'s lock if it is free, without waiting.
     *
     * @return true if the caller now holds it
     * @throws IndexOutOfBoundsException if {@code region} is not in [0, {@link #regions()})
     * @throws IllegalMonitorStateException if the calling thread already holds it
     */
    public boolean tryLock(int region) {
        checkRegion(region);
        long owner = ownerWord();
        long seen = words.getLongAcquire(region, LOCK);
        if (seen != FREE) {
            checkNotHeldByCaller(region, seen, owner);
            return false;
        }
        long word = requestSlice(owner);
        if (takeRequested(region, word)) {
            // NOTE: acquire: the holder's accesses see the previous holder's writes (see the class notes).
            VarHandle.acquireFence();
            return true;
        }
        releaseSlice(word);
        return false;
    }

    /**
     * Frees region {@code region}'s lock, which the calling thread holds, and wakes one waiter if any.
     *
     * @throws IndexOutOfBoundsException if {@code region} is not in [0, {@link #regions()})
     * @throws IllegalMonitorStateException if the calling thread does not hold it (nothing changes)
     */
    public void unlock(int region) {
        checkRegion(region);
        long word = words.getLongOpaque(region, LOCK);
        if ((word & ~SLICE_REQUESTED) != ownerWord()) {
            throw new IllegalMonitorStateException("region " + region + " is not locked by this thread ("
                    + describe(word) + ")");
        }
        // NOTE: release: everything the holder did happens-before the next taker's compare reads 0.
        words.setLongRelease(region, LOCK, FREE);
        if (fenceOnUnlock) {
            VarHandle.fullFence();      // lock mode: the waiters' fence was not process-wide
        }
        // NOTE: no fence between the store above and this load: the waiter's membarrier orders them.
        if ((int) WAITING.getAcquire(waiting, waitIndex(region)) != 0) {
            Thread next = queues[region].peek();
            if (next != null) {
                wakeups.increment();
                LockTotals.recordWakeup();
                LockSupport.unpark(next);
            }
        }
        releaseSlice(word);
    }

    /** Whether region {@code region}'s lock is held now by any thread (a racy snapshot, for monitoring). */
    public boolean isLocked(int region) {
        checkRegion(region);
        return words.getLongOpaque(region, LOCK) != FREE;
    }

    /** Whether the calling thread holds region {@code region}'s lock. */
    public boolean isHeldByCurrentThread(int region) {
        checkRegion(region);
        return (words.getLongOpaque(region, LOCK) & ~SLICE_REQUESTED) == ownerWord();
    }

    /** The number of locks: one per possible CPU (or concurrency id). */
    public int regions() {
        return regions;
    }

    /** Whether takes run as restartable sequences ({@code false} in lock mode). */
    public boolean restartable() {
        return ops.restartable();
    }

    /**
     * Counts of the core's rare events (aborts, slow paths) of this lock's operations: shared by every lock
     * (and {@link PerCpu}) of the same indexing, not per lock, and by no other kind of structure.
     */
    public OperationStats stats() {
        return OperationStats.of(ops);
    }

    /**
     * Counts of this lock's rare events; sums of per-CPU counters, not an atomic snapshot.
     *
     * @param contended   takes that found the lock held (or lost the race for it) at the first attempt
     * @param parks       times a waiter parked
     * @param wakeups     unparks issued by unlocks that found waiters (a waiter woken but not yet running
     *                    may be unparked again by the next unlock)
     * @param sliceGrants unlocks that found a time-slice extension granted by the kernel
     * @param sliceYields {@code rseq_slice_yield} calls that followed a grant
     */
    public record LockStats(long contended, long parks, long wakeups, long sliceGrants, long sliceYields) {
    }

    /** This lock's own counts (see {@link LockStats}). */
    public LockStats lockStats() {
        return new LockStats(contended.sum(), parks.sum(), wakeups.sum(), sliceGrants.sum(), sliceYields.sum());
    }

    @Override
    public String toString() {
        return "PerCpuSpinLock[regions=" + regions + ", " + (restartable() ? "restartable" : "lock mode") + ", "
                + lockStats() + "]";
    }

    // ---------------------------------------------------------------- internals

    private void checkRegion(int region) {
        if (region < 0 || region >= regions) {
            throw new IndexOutOfBoundsException("region must be in [0, " + regions + "), was " + region);
        }
    }

    /** Region {@code region}'s waiter count: one line each, the first line after the array header. */
    private static int waitIndex(int region) {
        return (region + 1) * WAIT_STRIDE;
    }

    /** The lock word of a hold by the calling thread: its id shifted past the slice bit (ids are positive). */
    private static long ownerWord() {
        return Thread.currentThread().threadId() << 1;
    }

    private static String describe(long word) {
        return word == FREE ? "it is free" : "it is held by thread id " + (word >>> 1);
    }

    private static void checkNotHeldByCaller(int region, long seen, long owner) {
        if ((seen & ~SLICE_REQUESTED) == owner) {
            throw new IllegalMonitorStateException("region " + region
                    + " is already locked by this thread: PerCpuSpinLock is not reentrant");
        }
    }

    /** The lock word to store: the owner, with the slice bit if an extension was requested. */
    private long requestSlice(long owner) {
        return sliceAvailable && slice.request() ? owner | SLICE_REQUESTED : owner;
    }

    /** Ends the extension a hold with lock word {@code word} requested, if it did. */
    private void releaseSlice(long word) {
        if ((word & SLICE_REQUESTED) != 0) {
            int r = slice.release();
            if ((r & TimeSliceExtension.GRANTED) != 0) {
                sliceGrants.increment();
                LockTotals.recordSliceGrant();
            }
            if ((r & TimeSliceExtension.YIELDED) != 0) {
                sliceYields.increment();
                LockTotals.recordSliceYield();
            }
        }
    }

    /** One attempt: the lock word from free to {@code word}, atomically with respect to every other take of the region. */
    private boolean take(int region, long word) {
        return ops.compareAndStore(words, region, LOCK, FREE, word);
    }

    /**
     * One attempt on the current region, in one downcall that also says which region that was:
     * {@code r} if the lock word went from free to {@code word} there, {@code ~r} if region {@code r}'s
     * lock was held. As {@link #takeRequested}, a take that throws gives the slice request back.
     */
    private int takeCurrentRequested(long word) {
        try {
            return ops.compareAndStoreCurrent(words, LOCK, FREE, word);
        } catch (RuntimeException | Error e) {
            releaseSlice(word);
            throw e;
        }
    }

    /**
     * {@link #take} with a lock word that may carry a slice request: if the take throws (its slow path
     * could not fence), the request is given back first, so that a failed take leaves nothing changed.
     */
    private boolean takeRequested(int region, long word) {
        try {
            return take(region, word);
        } catch (RuntimeException | Error e) {
            releaseSlice(word);
            throw e;
        }
    }

    private void acquire(int region) {
        long word = requestSlice(ownerWord());
        if (!takeRequested(region, word)) {
            acquireContended(region, word);
        }
        // NOTE: acquire: the holder's accesses see the previous holder's writes (see the class notes).
        VarHandle.acquireFence();
    }

    /**
     * After a failed first attempt: spin briefly, a second attempt, then park until woken. A take
     * that got here holds the lock without a time-slice extension.
     */
    private void acquireContended(int region, long word) {
        contended.increment();
        LockTotals.recordContended();
        // NOTE: an extension is for running a critical section, not for waiting: give it back first.
        releaseSlice(word);
        long owner = word & ~SLICE_REQUESTED;
        long seen = words.getLongAcquire(region, LOCK);
        checkNotHeldByCaller(region, seen, owner);
        for (int i = 0; i < SPINS && seen != FREE; i++) {
            Thread.onSpinWait();
            seen = words.getLongAcquire(region, LOCK);
        }
        if (seen == FREE && take(region, owner)) {
            return;
        }
        park(region, owner);
    }

    private void park(int region, long word) {
        Thread me = Thread.currentThread();
        boolean interrupted = false;
        queues[region].add(me);
        WAITING.getAndAdd(waiting, waitIndex(region), 1);
        try {
            // NOTE: the heavy side of the handshake (see the class notes): after it, either the
            // unlock we wait for sees waiting != 0, or we see its store of 0 below.
            ops.fenceAllThreads();
            while (words.getLongAcquire(region, LOCK) != FREE || !take(region, word)) {
                parks.increment();
                LockTotals.recordPark();
                LockSupport.park(this);
                // NOTE: park returns at once while the interrupt status is set: clear it, keep waiting,
                // and set it again when we hold the lock (as AbstractQueuedSynchronizer does).
                interrupted |= Thread.interrupted();
            }
        } finally {
            WAITING.getAndAdd(waiting, waitIndex(region), -1);
            queues[region].remove(me);
            if (interrupted) {
                me.interrupt();
            }
        }
    }
}
