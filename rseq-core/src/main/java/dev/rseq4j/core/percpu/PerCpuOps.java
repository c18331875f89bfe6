package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.internal.codegen.Operation;

import java.lang.foreign.MemorySegment;

/**
 * Per-CPU operations on a {@link PerCpuArea}, each atomic with respect to every other operation on
 * the same area (an area accepts only operations of its {@link CpuIndexing}): the building
 * blocks of the collections.
 *
 * <p>Which region an operation acts on: {@link #add}, {@link #push}, {@link #pop} and the array operations act on "the
 * current region", the region of the CPU (or concurrency id) the calling thread runs on at the
 * moment it commits, and return only what they read there. The compare operations
 * ({@link #compareAndStore}, {@link #storeThenCommit}, {@link #copyThenCommit}) take the region
 * {@code index} whose contents the caller read to compute its arguments and act on that region
 * only: fast when the thread runs on it (read {@link #currentIndex} first), through the slow path
 * when it does not. So a caller always knows which region it changed (a lock it must later
 * release there, a ring slot it filled). It first runs as a restartable sequence (a plain
 * load and one plain commit store; the kernel aborts it if the thread is preempted, migrated or
 * signalled before the commit), at most twice; after two aborts, or when the region's guard is held,
 * or when the thread cannot be registered, it takes the slow path: CAS the region's guard, membarrier
 * (so that every sequence running on that CPU has committed or will abort and see the guard), run the
 * same operation with ordinary accesses, release the guard. In lock mode only the slow path runs.
 * So every operation completes in a bounded number of attempts.
 *
 * <p>Memory ordering: a fast-path commit is a plain store (on x86_64 ordered after earlier stores by
 * TSO; on arm64 a store-release where it publishes data). Other threads must read region words with
 * opaque or acquire reads and must not write them except through these operations. The slow path's
 * guard release is a release store. Reading one region while it changes is safe; reading several
 * regions is not an atomic snapshot.
 *
 * <p>Validation: every argument is checked before any native call. A null throws
 * {@link NullPointerException} naming the parameter; a bad offset, length or segment throws
 * {@link IllegalArgumentException} naming the parameter and its limit.
 */
public interface PerCpuOps {

    /**
     * The largest payload of {@link #copyThenCommit} (its 8-byte header not counted): the copy runs
     * inside a critical downcall, during which this thread cannot reach a JVM safepoint.
     */
    long MAX_COPY_BYTES = 4096;

    /** Bytes of the header word {@link #copyThenCommit} writes before a record's payload. */
    int RECORD_HEADER_BYTES = Operation.RECORD_HEADER_BYTES;

    /**
     * The header word {@link #copyThenCommit} writes for a record of {@code typeId} and {@code length}
     * payload bytes: the length in the low 32 bits, the type id in the high 32 (little-endian: the int
     * length at byte 0, the int type id at byte 4). {@code length} must be in [0, 2^31).
     */
    static long recordHeader(int typeId, long length) {
        return (long) typeId << 32 | length;
    }

    /** Operations indexed by CPU number (the default), counted under {@link PerCpuStats.Kind#CORE}. */
    static PerCpuOps cpuIndexed() {
        return GuardedPerCpuOps.production(CpuIndexing.CPU);
    }

    /**
     * As {@link #cpuIndexed()}, counted under {@code kind}: a shared instance per kind (same stubs, own
     * {@link #stats()}), for a collection's static final constant.
     */
    static PerCpuOps cpuIndexed(PerCpuStats.Kind kind) {
        return GuardedPerCpuOps.production(CpuIndexing.CPU, kind);
    }

    /**
     * As {@link #concurrencyIdIndexed()}, counted under {@code kind}.
     *
     * @throws UnsupportedOperationException when rseq works but the kernel has no mm_cid
     */
    static PerCpuOps concurrencyIdIndexed(PerCpuStats.Kind kind) {
        return GuardedPerCpuOps.production(CpuIndexing.CONCURRENCY_ID, kind);
    }

    /**
     * Operations indexed by concurrency id (mm_cid, Linux 6.3+): dense ids from 0 for processes with
     * few running threads. In lock mode this works as {@link #cpuIndexed()}. Counted under {@link PerCpuStats.Kind#CORE}.
     *
     * @throws UnsupportedOperationException when rseq works but the kernel has no mm_cid
     */
    static PerCpuOps concurrencyIdIndexed() {
        return GuardedPerCpuOps.production(CpuIndexing.CONCURRENCY_ID);
    }

    /** {@code region[offset] += value} on the current region. */
    void add(PerCpuArea area, long offset, long value);

    /** The most words one {@link #addEach} call updates. */
    int MAX_ADD_EACH = dev.rseq4j.core.internal.codegen.Operation.MAX_BATCH;

    /**
     * {@code region[offset + 8 * i] += value_i} on the current region for each {@code i < count}: up to
     * {@value #MAX_ADD_EACH} adds to consecutive words in one downcall, each its own restartable section
     * with its own commit (counters updated together: requests, bytes, errors). Each add is atomic on its
     * own, as {@link #add}; the adds are not atomic together (a concurrent reader may see some of them
     * and not yet the others), and after a migration between two of them they may land on different
     * regions. An abort restarts only the add it interrupted: the adds committed before it are not
     * repeated. After two aborts (or a held guard) the adds not yet committed run in the slow path, on
     * one region.
     *
     * @param count the words to update, in [1, {@value #MAX_ADD_EACH}]; values past it are ignored
     * @throws IllegalArgumentException if {@code count} is out of range, or {@code [offset, offset + 8 * count)}
     *         is not a run of words in a region outside its reserved words
     */
    void addEach(PerCpuArea area, long offset, int count, long value0, long value1, long value2);

    /**
     * If region {@code index}'s word at {@code offset} equals {@code expected}, store {@code newValue}.
     * Atomic with respect to every operation on that region. Read the expected value from region
     * {@link #currentIndex} for a fast path; any index is correct.
     *
     * @return true if stored, false on mismatch
     * @throws IndexOutOfBoundsException if {@code index} is not in [0, area.regions())
     */
    boolean compareAndStore(PerCpuArea area, int index, long offset, long expected, long newValue);

    /**
     * If the current region's word at {@code offset} equals {@code expected}, store {@code newValue}, and say
     * which region that was: a compare-and-store that needs no {@link #currentIndex} call first, for
     * arguments that do not depend on any region's contents (a lock's take: "free" is the same value
     * on every region). One restartable sequence reads the index, compares and commits; after two
     * aborts (or a held guard) the slow path runs on the region {@link #currentIndex} names then.
     *
     * @return the region's index {@code r} (in [0, area.regions())) if stored there, or {@code ~r}
     *         (negative) if region {@code r}'s word differed from {@code expected} (nothing stored)
     */
    int compareAndStoreCurrent(PerCpuArea area, long offset, long expected, long newValue);

    /** The bits of the old word that a successful {@link #reserveCurrent} returns: its low 31. */
    long RESERVED_WORD_MASK = Integer.MAX_VALUE;

    /**
     * On the current region: if its word at {@code offset} plus {@code n} is at most (unsigned) its word at
     * {@code limitOffset}, add {@code n} to it; say which region that was and what the word held. The
     * reservation of {@code n} ring slots in one downcall: the word is a ring's tail, the limit word a
     * cache of {@code head + capacity} that the caller keeps in the same region (it may be stale low,
     * never high: a stale limit only reports "full" early, and the caller then refreshes it and retries).
     * The caller owns the slots it reserved and stores its elements into them afterwards. After two aborts
     * (or a held guard) the slow path runs on the region {@link #currentIndex} names then.
     *
     * @param n slots to reserve, at least 1
     * @return when reserved: {@code (old & }{@link #RESERVED_WORD_MASK}{@code ) << 32 | r} (non-negative;
     *         {@code (int) result} is the region {@code r}, {@code result >>> 32} the low 31 bits of the word
     *         before the add); when full at the cached limit: {@code ~r} (negative; nothing stored)
     * @throws IllegalArgumentException if {@code n < 1}, or {@code limitOffset} is not a word offset other
     *         than {@code offset}
     */
    long reserveCurrent(PerCpuArea area, long offset, long limitOffset, int n);

    /**
     * Pushes node {@code node} of {@code pool} on the current region's list whose head word is at
     * {@code headOffset}. The caller must own the node (it is on no list).
     */
    void push(PerCpuArea area, long headOffset, NodePool pool, int node);

    /**
     * Pops the current region's list head.
     *
     * @return the node's index in {@code pool}, or -1 when that list is empty
     * @throws IllegalStateException if the head is not a node of {@code pool}: outside it, or inside it
     *         but not at a node boundary (the list was corrupted, or pushed from another pool); the head
     *         is then neither dereferenced nor unlinked: the list is left as it was
     */
    int pop(PerCpuArea area, long headOffset, NodePool pool);

    /**
     * Pops up to {@code max} nodes from region {@code index}'s list into {@code into[0..n)}, in list
     * order, atomically with respect to every operation on that region: for taking a batch from
     * another region's list when the current one is empty (stealing). Always the slow path: takes
     * that region's guard, issues a membarrier to its CPU (to all CPUs in concurrency-id indexing),
     * pops with ordinary accesses, releases the guard. Costs a system call: for the rare case.
     *
     * @return the number of nodes popped ({@code 0} when that list is empty); stops early, before
     *         the first head that is not a node of {@code pool} (which is left on the list)
     * @throws IndexOutOfBoundsException if {@code index} is not in [0, area.regions())
     * @throws IllegalArgumentException if {@code max} is not in [1, into.length]
     * @throws IllegalStateException if the list's head is not a node of {@code pool} (nothing popped)
     */
    int popBatch(PerCpuArea area, int index, long headOffset, NodePool pool, int[] into, int max);

    /**
     * Pops the top element of the current region's array stack.
     *
     * @return the element (in [0, 2^31)), or -1 when that region's stack is empty
     * @throws IllegalStateException if that region's count lies beyond the stack's capacity (it was
     *         overwritten): nothing is read or stored; or if the popped slot holds no element (a negative
     *         value written through the area): it is popped, and reported instead of returned
     */
    int arrayPop(ArrayStack stack);

    /**
     * Pushes {@code element} on the current region's array stack.
     *
     * @return true if pushed, false if that region's stack is full (nothing stored)
     * @throws IllegalArgumentException if {@code element} is negative
     */
    boolean arrayPush(ArrayStack stack, int element);

    /**
     * Moves the top {@code n} elements of the current region's array stack into {@code into[0..n)}, bottom
     * first (so {@code into[n - 1]} was the top), in one restartable section: they are the caller's once it
     * returns true. The batch move of a magazine that is full.
     *
     * @return true if moved, false if that region's stack held fewer than {@code n} (nothing moved)
     * @throws IllegalArgumentException if {@code n} is not in [1, stack.capacity()] or exceeds {@code into.length}
     * @throws IllegalStateException if that region's count lies beyond the capacity (nothing moved)
     */
    boolean arrayCopyOut(ArrayStack stack, long[] into, int n);

    /**
     * Copies {@code from[0..n)} onto the current region's array stack ({@code from[n - 1]} on top), in one
     * restartable section: all of them or none. The batch that refills a magazine that is empty.
     *
     * @return true if copied, false if that region's stack has fewer than {@code n} free slots (nothing stored)
     * @throws IllegalArgumentException if {@code n} is not in [1, stack.capacity()] or exceeds {@code from.length},
     *         or one of the elements is not in [0, 2^31)
     * @throws IllegalStateException if that region's count lies beyond the capacity (nothing stored)
     */
    boolean arrayCopyIn(ArrayStack stack, long[] from, int n);

    /**
     * Moves up to {@code max} elements from the top of region {@code index}'s array stack into
     * {@code into[0..k)}, bottom first, atomically with respect to every operation on that region: taking
     * from another region's stack (stealing). Always the slow path (that region's guard and a membarrier
     * to its CPU, as {@link #popBatch}): for the rare case.
     *
     * @return the elements moved, {@code k} in [0, max]
     * @throws IndexOutOfBoundsException if {@code index} is not in [0, area.regions())
     * @throws IllegalArgumentException if {@code max} is not in [1, into.length]
     * @throws IllegalStateException if that region's count lies beyond the capacity (nothing moved)
     */
    int arrayCopyOutFrom(ArrayStack stack, int index, long[] into, int max);

    /**
     * If region {@code index}'s counter equals {@code expected}: store {@code value} at
     * {@code slotOffset}, then commit {@code newCounter} (a release: who sees the counter sees the slot).
     *
     * @return true if committed, false on mismatch (nothing stored)
     * @throws IndexOutOfBoundsException if {@code index} is not in [0, area.regions())
     */
    boolean storeThenCommit(PerCpuArea area, int index, long counterOffset, long expected, long slotOffset, long value,
                            long newCounter);

    /**
     * If region {@code index}'s counter equals {@code expected}: write a framed record at {@code dstOffset}
     * (an 8-byte header word {@code (long) typeId << 32 | length}, then the first {@code length} bytes of
     * {@code src} at {@code dstOffset + 8}), then commit {@code newCounter} (a release: who sees the counter sees the record).
     * The header is little-endian: the int {@code length} at byte 0, the int {@code typeId} at byte 4 (the
     * layout of Agrona's record descriptor). It is written in the same restartable section as the payload, so
     * it can only land on a slot that this commit publishes, never on one another producer on that CPU has
     * just committed.
     *
     * <p>{@code length} in [0, {@link #MAX_COPY_BYTES}]; {@code dstOffset} a multiple of 8; the whole
     * {@code [dstOffset, dstOffset + 8 + length)} inside the region, not overlapping the counter or the guard;
     * {@code src} (heap or native, at least {@code length} bytes) not overlapping the area; {@code typeId} any int.
     * A native {@code src} is first copied by Java code into a heap staging buffer the library reuses
     * (no allocation unless two threads of one region index copy at once): native code never reads a caller's memory, which can fault (a mapped file truncated under it
     * raises SIGBUS, fatal inside a stub; in Java's copy it throws {@link InternalError}, nothing committed).
     *
     * @return true if committed, false on mismatch (the record may have been partly written, never published)
     * @throws IndexOutOfBoundsException if {@code index} is not in [0, area.regions())
     */
    boolean copyThenCommit(PerCpuArea area, int index, long counterOffset, long expected, long dstOffset, int typeId,
                           MemorySegment src, long length, long newCounter);

    /**
     * Takes every region's word at {@code offset} and sets it to 0, atomically per region with respect
     * to every operation on that region, and returns the sum of the values taken. Takes all regions'
     * guards (in index order), issues one membarrier for all CPUs, reads and zeroes, releases: fast
     * paths meanwhile take the slow path and wait. Used for reset and sumThenReset; costs a system
     * call, so it is for rare operations.
     */
    long sumThenReset(PerCpuArea area, long offset);

    /**
     * The heavy side of an asymmetric fence: after it returns, every thread of this process that was
     * running during the call has executed a full memory barrier, so a thread that did
     * {@code store A; load B} with no fence between (the light side) either had its store of A
     * visible to loads this thread makes after the call, or loads B after this thread's stores before
     * the call. In RSEQ mode this is {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ)} to all
     * CPUs (the kernel runs a full barrier on each CPU that runs a thread of this process; a thread
     * that is not running passed one when it was switched out) or, where membarrier fails at run time,
     * the calling thread run on every CPU in turn: a system call, for rare paths (a waiter about to
     * park). It also aborts the restartable sequences running at that moment, which then retry.
     * In lock mode ({@link #restartable()} false) it is only a full fence of the caller
     * ({@link java.lang.invoke.VarHandle#fullFence}): the light side must then fence too.
     */
    void fenceAllThreads();

    /** The indexing of this instance; it accepts only areas created with the same indexing. */
    CpuIndexing indexing();

    /** The region index the calling thread would use now, in [0, regions) of any area with as many regions as possible CPUs. */
    int currentIndex(PerCpuArea area);

    /** True when operations run as restartable sequences, false in lock mode. */
    boolean restartable();

    /** Counts of rare events (aborts, slow paths), for diagnostics. */
    PerCpuStats stats();
}
