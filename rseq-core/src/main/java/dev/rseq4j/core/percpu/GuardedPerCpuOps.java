package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.codegen.StubOptions;
import dev.rseq4j.core.internal.codegen.StubStatus;
import dev.rseq4j.core.internal.platform.Libc;
import dev.rseq4j.core.internal.runtime.FoldedStubs;
import dev.rseq4j.core.internal.runtime.PortableOperations;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.internal.runtime.StubHandles;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

import static dev.rseq4j.core.internal.codegen.StubStatus.ABORTED;
import static dev.rseq4j.core.internal.codegen.StubStatus.COMMITTED;
import static dev.rseq4j.core.internal.codegen.StubStatus.CORRUPT;
import static dev.rseq4j.core.internal.codegen.StubStatus.FAILED;
import static dev.rseq4j.core.internal.codegen.StubStatus.GUARDED;
import static dev.rseq4j.core.internal.codegen.StubStatus.INDEX_INVALID;
import static dev.rseq4j.core.internal.codegen.StubStatus.MOVED;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.ARRAY_COPY_IN;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.ARRAY_COPY_OUT;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.ARRAY_POP;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.ARRAY_PUSH;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.BATCH_LOAD_ADD_STORE;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.CURRENT_LOAD_COMPARE_STORE;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.CURRENT_LOAD_LIMIT_ADD_STORE;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.LIST_POP;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.LIST_PUSH;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.LOAD_ADD_STORE;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.LOAD_COMPARE_MEMCPY_STORE;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.LOAD_COMPARE_STORE;
import static dev.rseq4j.core.internal.runtime.FoldedStubs.LOAD_COMPARE_TRYSTORE_STORE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The one implementation of {@link PerCpuOps}: two restartable attempts, then the guard.
 *
 * <h2>Implementation notes</h2>
 * Fast path: call the stub; {@code COMMITTED} (or a result) ends the operation. {@code ABORTED}
 * counts as an attempt, and so does {@code MOVED} (an operation that names its region found the
 * thread on another one); {@code INDEX_INVALID} registers the thread when this library is the
 * registrant and retries; {@code GUARDED} (another thread's slow path holds the region: a steal, a
 * reset, an operation that gave up) waits until that guard is released, as a guard waiter does (see
 * "Waiting"), then counts as an attempt. After two attempts the slow path runs. That bound is what
 * guarantees progress even under constant preemption (the 2016 design review's "two attempts, then
 * a lock"). Why a guarded attempt waits instead of taking the guard itself, as the design notes'
 * protocol first had it: a slow path holds the guard for a membarrier, so every other thread that
 * runs on that CPU meanwhile finds it held, takes it in turn, and fences again; one steal became a
 * convoy of slow paths (measured in {@code ServiceBenchmark}, 2026-12-08: 1,969 steals caused 27,508
 * guard waits). Waiting for the release and attempting again ends the convoy at its first link.
 *
 * <p>Slow path on region {@code c}: the region the operation names (compare operations), else the
 * current CPU's for locality (any region is correct for add, push and pop):
 * <ol>
 *   <li>CAS {@code guard[c]} 0 to 1, waiting while another slow path holds it (see "Waiting");</li>
 *   <li>membarrier(PRIVATE_EXPEDITED_RSEQ) on CPU {@code c}, or on all CPUs in mm_cid mode (an id is
 *       not a CPU). Any sequence that read {@code guard[c] == 0} before our CAS was visible is either
 *       committed and visible when membarrier returns, or aborted, and on retry it sees the guard;</li>
 *   <li>run the operation's {@link PortableOperations} form on region {@code c};</li>
 *   <li>release {@code guard[c]} with a release store.</li>
 * </ol>
 * Lock mode ({@code stubs == null}) runs only the slow path, without membarrier: the guard alone is
 * the lock, and the region is chosen by sched_getcpu() or a thread hash.
 *
 * <h3>Memory ordering of the guard</h3>
 * membarrier covers the fast paths that read {@code guard[c] == 0} <em>before</em> our CAS. A fast
 * path that starts after our release store may read the {@code 0} that store wrote, and then runs
 * on region {@code c} with no fence between it and us: it must see every write our slow path made
 * before releasing. The release store orders our writes before the guard; the fast path must order
 * its guard load before its data loads, i.e. load the guard with acquire semantics. Otherwise it can
 * read a word (a counter, a list head, a node's next pointer) from before our writes and commit over
 * them: a lost update, or a node owned twice.
 * <ul>
 *   <li>x86_64 (TSO): loads are not reordered with older loads (and stores not with older stores),
 *       so the stub's plain {@code mov} load of the guard already is an acquire load;</li>
 *   <li>arm64: a later load may be satisfied before an earlier one, even past a conditional branch
 *       on the earlier one's value (a control dependency orders only later stores). The stub loads
 *       the guard with {@code ldar} (an address dependency from the guard's value to every data
 *       address would also do, but is easy to break).</li>
 * </ul>
 * The slow path side is Java: the CAS and {@link PerCpuArea#releaseGuard} (a release store) give
 * the same order on both architectures. The generators' comments point here.
 *
 * <h3>Waiting</h3>
 * A guard is held for one membarrier and one portable operation, a few
 * microseconds, unless its holder is descheduled. A waiter therefore spins briefly
 * ({@value #SPINS_BEFORE_PARK} test-and-CAS rounds), then parks with a back-off that doubles from
 * {@value #MIN_PARK_NANOS} ns to {@value #MAX_PARK_NANOS} ns: it never burns a CPU that the holder
 * (a preempted platform thread, or a virtual thread waiting for a carrier) needs, and a parked
 * virtual thread gives its carrier back. The bounded back-off, not a wake-up from the holder, is
 * what ends a wait, so a release stays one store-release and costs the holder nothing; a waiter
 * sees a release at most {@value #MAX_PARK_NANOS} ns late. Interrupts do not end a wait (the
 * operation must complete); the interrupt status is restored when the guard is taken.
 *
 * <h3>Checks on the hot path, and what each protects</h3>
 * Every operation checks its arguments on every call, before the downcall. Measured on the take
 * ({@code CounterBenchmarks.take*}, 2026-12-07): 0.5 to 0.7 ns of a 4 to 5 ns operation. They stay per
 * call because this is a public class whose callers pass raw offsets (on the class path anyone can
 * reach it), and validating once instead would need a second, pre-bound form of every operation to
 * save that half nanosecond. What each check protects:
 * <ul>
 *   <li>word offsets in a region and outside its reserved bytes ({@link PerCpuArea#checkWord}):
 *       <b>memory safety</b> (the stub stores at {@code base + region * stride + offset}, so a bad
 *       offset would write memory the area does not own) and the guard's integrity (an operation
 *       that wrote the guard word would break the slow path's exclusion);</li>
 *   <li>region indices ({@link PerCpuArea#checkRegion}), counts and lengths that bound what a stub
 *       writes (batch counts, record lengths): memory safety, as above;</li>
 *   <li>the area's indexing equal to these operations' ({@code checkArea}): atomicity, not memory (a
 *       region updated by operations of two indexings is two CPUs' region at once); and a null area
 *       fails with a message that names it.</li>
 * </ul>
 * Nothing else runs before the first attempt: the stub call goes through {@link FoldedStubs} (one
 * reference compare, a direct call for the production stubs however this instance is held), and the
 * result is decoded only on the paths that need it.
 *
 * <h3>No deadlock, no stuck guard</h3>
 * A slow path holds one guard and waits for none while holding it;
 * {@link #sumThenReset} takes every guard of an area in increasing region order, so any two
 * threads that wait while holding guards wait in the same order and cannot form a cycle. Nothing
 * between taking and releasing a guard blocks (no lock, no I/O, no allocation that waits for a
 * collection by design: the portable operations touch only the area). Every release is in a
 * {@code finally}, and {@link #checkStackHeadroom} runs before a guard is taken, so that neither an
 * exception nor a {@link StackOverflowError} can leave a guard held.
 *
 * <p>Every stub call goes through {@link FoldedStubs}, which compiles into a direct call for the
 * production stubs whether the caller holds this instance in a constant or in a field. A record, so
 * that with a constant instance the test hooks (0 and false in production) fold away too. Package-private:
 * collections reach it through {@link PerCpuOps#cpuIndexed()} and its siblings, the self-test and
 * the tests through {@link OpsVariant}.
 *
 * @param runtime       the process runtime
 * @param stubs         the installed stubs, or null in lock mode
 * @param indexing      how regions are chosen
 * @param stats         counts of rare events
 * @param slowPathEvery test hook: if &gt; 0, an operation skips its fast path with probability
 *                      1/slowPathEvery, and every slow path of an operation without an expected
 *                      index works on a random region instead of the current one, as reset and steal
 *                      operations do: slow paths then race with fast paths running on that region's
 *                      CPU (a slow path on its own CPU's region cannot: it occupies the CPU, and a
 *                      preempted fast path aborts)
 * @param skipFence     test hook: omit the membarrier in the slow path (negative control: must lose updates)
 */
record GuardedPerCpuOps(RseqRuntime runtime, StubHandles stubs, CpuIndexing indexing, PerCpuStats stats,
                        int slowPathEvery, boolean skipFence) implements PerCpuOps {

    /** Test-and-CAS rounds before a guard waiter first parks. */
    static final int SPINS_BEFORE_PARK = 128;
    /** First park of a guard waiter; doubled on every further park up to {@link #MAX_PARK_NANOS}. */
    static final long MIN_PARK_NANOS = 1_000;
    /** Longest single park: bounds how late a waiter notices a released guard. */
    static final long MAX_PARK_NANOS = 1_000_000;
    /** Depth of the stack headroom check before a guard is taken (see {@link #checkStackHeadroom}). */
    static final int HEADROOM_FRAMES = 40;

    /**
     * The shared production instances, one per {@link PerCpuStats.Kind} and indexing: the same stubs,
     * each with its own counts (so each kind's rare events are told apart without per-structure
     * registration). Indexed by kind ordinal; the concurrency-id array holds nulls where there is none.
     */
    private static final class Production {
        static final GuardedPerCpuOps[] CPU = create(CpuIndexing.CPU);
        static final GuardedPerCpuOps[] CONCURRENCY_ID = RseqRuntime.get().status().mmCid() || !RseqRuntime.get().rseqMode()
                ? create(CpuIndexing.CONCURRENCY_ID) : new GuardedPerCpuOps[PerCpuStats.Kind.values().length];

        private static GuardedPerCpuOps[] create(CpuIndexing indexing) {
            RseqRuntime rt = RseqRuntime.get();
            StubHandles stubs = rt.rseqMode() ? rt.stubs(PerCpuArea.indexField(indexing)) : null;
            GuardedPerCpuOps[] all = new GuardedPerCpuOps[PerCpuStats.Kind.values().length];
            for (PerCpuStats.Kind kind : PerCpuStats.Kind.values()) {
                all[kind.ordinal()] = new GuardedPerCpuOps(rt, stubs, indexing, new PerCpuStats(kind), 0, false);
            }
            return all;
        }
    }

    /** The shared production instance for {@code indexing} of kind {@link PerCpuStats.Kind#CORE}. */
    static GuardedPerCpuOps production(CpuIndexing indexing) {
        return production(indexing, PerCpuStats.Kind.CORE);
    }

    /** As {@link #productionOrNull(CpuIndexing, PerCpuStats.Kind)} of kind {@link PerCpuStats.Kind#CORE}. */
    static GuardedPerCpuOps productionOrNull(CpuIndexing indexing) {
        return productionOrNull(indexing, PerCpuStats.Kind.CORE);
    }

    /** The shared production instance for {@code indexing} and {@code kind}. */
    static GuardedPerCpuOps production(CpuIndexing indexing, PerCpuStats.Kind kind) {
        if (indexing == CpuIndexing.CPU) {
            return Production.CPU[kind.ordinal()];
        }
        GuardedPerCpuOps ops = Production.CONCURRENCY_ID[kind.ordinal()];
        if (ops == null) {
            RseqRuntime.get().stubs(PerCpuArea.indexField(indexing)); // throws with the reason
        }
        return ops;
    }

    /**
     * The shared production instance of kind {@code kind} for {@code indexing}, or null where there is none (rseq works
     * but the kernel has no mm_cid); never throws, for static initialisers.
     */
    static GuardedPerCpuOps productionOrNull(CpuIndexing indexing, PerCpuStats.Kind kind) {
        return (indexing == CpuIndexing.CPU ? Production.CPU : Production.CONCURRENCY_ID)[kind.ordinal()];
    }

    /** A fresh instance over stubs built with {@code options} and the given test hooks. */
    static GuardedPerCpuOps withOptions(StubOptions options, int slowPathEvery, boolean skipFence,
                                        PerCpuStats.Kind kind) {
        RseqRuntime rt = RseqRuntime.get();
        return new GuardedPerCpuOps(rt, rt.stubs(options), PerCpuArea.indexingOf(options.index()), new PerCpuStats(kind),
                slowPathEvery, skipFence);
    }

    /** A fresh lock-mode instance, whatever the process mode (tests compare both). */
    static GuardedPerCpuOps lockMode(PerCpuStats.Kind kind) {
        return new GuardedPerCpuOps(RseqRuntime.get(), null, CpuIndexing.CPU, new PerCpuStats(kind), 0, false);
    }

    @Override
    public boolean restartable() {
        return stubs != null;
    }

    /** Null and indexing checks common to every operation. */
    private void checkArea(PerCpuArea area) {
        Objects.requireNonNull(area, "area must not be null");
        if (area.indexing() != indexing()) {
            throw new IllegalArgumentException("area is indexed by " + area.indexing()
                    + " but these operations index by " + indexing());
        }
    }

    /** The checks common to the list operations. */
    private void checkList(PerCpuArea area, long headOffset, NodePool pool) {
        checkArea(area);
        area.checkWord(headOffset, "headOffset");
        Objects.requireNonNull(pool, "pool must not be null");
    }

    @Override
    public void add(PerCpuArea area, long offset, long value) {
        checkArea(area);
        area.checkWord(offset, "offset");
        // NOTE: the same protocol as run(), written out for the hottest operation so that its fast
        // path needs no capturing lambda; keep the two in step.
        try {
            long r = fastPath()
                    ? (long) LOAD_ADD_STORE.invokeExact(stubs, area.descriptorAddress(), area.address(offset), value)
                    : NOT_ATTEMPTED;
            if (r != COMMITTED) {
                finishAdd(area, offset, value, r);
            }
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /**
     * The rest of {@link #add} after a first fast-path attempt, made by the caller with this
     * instance's {@code LOAD_ADD_STORE} stub, returned {@code status} (not COMMITTED): a second
     * attempt if the status allows one, then the slow path. For {@link WordArena}, whose owners make
     * the first attempt from one word address without reading the area. Arguments as for
     * {@link #add}; the caller keeps the area reachable.
     */
    void addAfterFirstAttempt(PerCpuArea area, long offset, long value, long status) {
        checkArea(area);
        area.checkWord(offset, "offset");
        finishAdd(area, offset, value, status);
    }

    /** Not a stub status: an operation skipped its fast path (lock mode, or a test hook). */
    private static final long NOT_ATTEMPTED = Long.MIN_VALUE;

    /** {@link #add} after its first attempt returned {@code status}, or after it skipped it; arguments checked. */
    private void finishAdd(PerCpuArea area, long offset, long value, long status) {
        try {
            if (status != NOT_ATTEMPTED && retry(status)) {
                long r = (long) LOAD_ADD_STORE.invokeExact(stubs, area.descriptorAddress(), area.address(offset),
                        value);
                if (r == COMMITTED) {
                    return;
                }
                retry(r);   // records the status; two attempts made: the slow path follows
            }
            slowPath(area, ANY_REGION, region -> PortableOperations.loadAddStore(region, offset, value));
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    @Override
    public void addEach(PerCpuArea area, long offset, int count, long value0, long value1, long value2) {
        checkAddEach(area, offset, count);
        try {
            // NOTE: as add: the first attempt inline, allocation-free.
            long r = fastPath()
                    ? (long) BATCH_LOAD_ADD_STORE.invokeExact(stubs, area.descriptorAddress(), area.address(offset),
                            (long) count, value0, value1, value2)
                    : NOT_ATTEMPTED;
            if (r != COMMITTED) {
                finishAddEach(area, offset, count, value0, value1, value2, r);
            }
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /**
     * The rest of {@link #addEach} after a first attempt that the caller made with this instance's
     * {@code BATCH_LOAD_ADD_STORE} stub returned {@code status} (not COMMITTED); for {@link WordArena}, as
     * {@link #addAfterFirstAttempt}. Arguments as for {@link #addEach}; the caller keeps the area reachable.
     */
    void addEachAfterFirstAttempt(PerCpuArea area, long offset, int count, long v0, long v1, long v2, long status) {
        checkAddEach(area, offset, count);
        finishAddEach(area, offset, count, v0, v1, v2, status);
    }

    /** The checks of {@link #addEach}: the count first (it sizes the range), then the run of words. */
    private void checkAddEach(PerCpuArea area, long offset, int count) {
        checkArea(area);
        if (count < 1 || count > MAX_ADD_EACH) {
            throw new IllegalArgumentException("count must be in [1, " + MAX_ADD_EACH + "], was " + count);
        }
        area.checkWord(offset, "offset");
        area.checkRange(offset, (long) count * Operation.BATCH_WORD_STRIDE, "offset");
    }

    /**
     * {@link #addEach} after its first attempt returned {@code status} (a {@link StubStatus#batched} value, not
     * COMMITTED), or skipped it. Each attempt resumes at the first add not committed: the words and values
     * move down by the adds done. Two attempts for the call, as for any operation, then the slow path runs
     * the rest on one region.
     */
    private void finishAddEach(PerCpuArea area, long offset, int count, long v0, long v1, long v2, long status) {
        try {
            long word = offset;
            int left = count;
            if (status != NOT_ATTEMPTED) {
                long r = status;
                for (int attempt = 1; ; attempt++) {
                    int done = StubStatus.doneOf(r);
                    for (int i = 0; i < done; i++) {
                        v0 = v1;
                        v1 = v2;
                    }
                    left -= done;
                    word += (long) done * Operation.BATCH_WORD_STRIDE;
                    // NOTE: the stub's bookkeeping between sections runs outside them, so an abort always
                    // leaves an add to do (left > 0); a status after the last would still end here, done.
                    if (left == 0) {
                        return;
                    }
                    if (!retry(StubStatus.batchStatusOf(r)) || attempt == 2) {
                        break;
                    }
                    r = (long) BATCH_LOAD_ADD_STORE.invokeExact(stubs, area.descriptorAddress(), area.address(word),
                            (long) left, v0, v1, v2);
                    if (r == COMMITTED) {
                        return;
                    }
                }
            }
            long w = word;
            int n = left;
            long a = v0;
            long b = v1;
            long c = v2;
            slowPath(area, ANY_REGION, region -> PortableOperations.batchLoadAddStore(region, w, n, a, b, c));
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    @Override
    public boolean compareAndStore(PerCpuArea area, int index, long offset, long expected, long newValue) {
        checkArea(area);
        area.checkRegion(index);
        area.checkWord(offset, "offset");
        try {
            // NOTE: the first attempt inline and the rest in a finish method, as in push; so for the
            // other compare operations, which a ring's producers call per element.
            long r = fastPath()
                    ? (long) LOAD_COMPARE_STORE.invokeExact(stubs, area.descriptorAddress(), (long) index,
                            area.address(offset), expected, newValue)
                    : NOT_ATTEMPTED;
            return (settled(r) ? r : finishCompareAndStore(area, index, offset, expected, newValue, r)) == COMMITTED;
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /** Whether a compare operation's status ends it: committed, or the compare failed. */
    private static boolean settled(long status) {
        return status == COMMITTED || status == FAILED;
    }

    /** {@link #compareAndStore} after its first attempt returned {@code first} (not settled), or skipped it. */
    private long finishCompareAndStore(PerCpuArea area, int index, long offset, long expected, long newValue,
                                       long first) {
        return run(area, index, first, d -> (long) LOAD_COMPARE_STORE.invokeExact(stubs, d, (long) index,
                        area.address(offset), expected, newValue),
                region -> PortableOperations.loadCompareStore(region, offset, expected, newValue));
    }

    @Override
    public int compareAndStoreCurrent(PerCpuArea area, long offset, long expected, long newValue) {
        checkArea(area);
        area.checkWord(offset, "offset");
        try {
            // NOTE: as compareAndStore: the first attempt inline. An indexed value (committed or
            // failed, with the region the section ran on) ends the operation; the retry statuses go on.
            long r = fastPath()
                    ? (long) CURRENT_LOAD_COMPARE_STORE.invokeExact(stubs, area.descriptorAddress(),
                            area.address(offset), expected, newValue)
                    : NOT_ATTEMPTED;
            return currentOutcome(StubStatus.isIndexed(r) ? r : finishCompareAndStoreCurrent(area, offset, expected,
                    newValue, r));
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /** {@link #compareAndStoreCurrent}'s result from an indexed value: the region, or its complement on a mismatch. */
    private static int currentOutcome(long indexed) {
        int region = StubStatus.indexOf(indexed);
        return StubStatus.statusOf(indexed) == COMMITTED ? region : ~region;
    }

    /** {@link #compareAndStoreCurrent} after its first attempt returned {@code first} (not indexed), or skipped it. */
    private long finishCompareAndStoreCurrent(PerCpuArea area, long offset, long expected, long newValue, long first) {
        return run(area, CURRENT_REGION_INDEXED, first, d -> (long) CURRENT_LOAD_COMPARE_STORE.invokeExact(stubs, d,
                        area.address(offset), expected, newValue),
                region -> StubStatus.indexed(PortableOperations.loadCompareStore(region, offset, expected, newValue), 0));
    }

    @Override
    public long reserveCurrent(PerCpuArea area, long offset, long limitOffset, int n) {
        checkArea(area);
        area.checkWord(offset, "offset");
        area.checkWord(limitOffset, "limitOffset");
        if (limitOffset == offset) {
            throw new IllegalArgumentException("limitOffset must differ from offset " + offset);
        }
        if (n < 1) {
            throw new IllegalArgumentException("n must be in [1, " + Integer.MAX_VALUE + "], was " + n);
        }
        try {
            // NOTE: as compareAndStoreCurrent: the first attempt inline.
            long r = fastPath()
                    ? (long) CURRENT_LOAD_LIMIT_ADD_STORE.invokeExact(stubs, area.descriptorAddress(),
                            area.address(offset), area.address(limitOffset), (long) n)
                    : NOT_ATTEMPTED;
            return reservation(StubStatus.isIndexed(r) ? r : finishReserveCurrent(area, offset, limitOffset, n, r));
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /** {@link #reserveCurrent}'s result from an indexed value: see {@link PerCpuOps#reserveCurrent}. */
    private static long reservation(long indexed) {
        int region = StubStatus.indexOf(indexed);
        return StubStatus.statusOf(indexed) == COMMITTED
                ? (StubStatus.valueOf(indexed) & PerCpuOps.RESERVED_WORD_MASK) << 32 | region : ~(long) region;
    }

    /** {@link #reserveCurrent} after its first attempt returned {@code first} (not indexed), or skipped it. */
    private long finishReserveCurrent(PerCpuArea area, long offset, long limitOffset, long n, long first) {
        return run(area, CURRENT_REGION_INDEXED, first, d -> (long) CURRENT_LOAD_LIMIT_ADD_STORE.invokeExact(stubs, d,
                        area.address(offset), area.address(limitOffset), n),
                region -> PortableOperations.loadLimitAddStore(region, offset, limitOffset, n));
    }

    @Override
    public void push(PerCpuArea area, long headOffset, NodePool pool, int node) {
        checkList(area, headOffset, pool);
        long address = pool.address(node);
        try {
            // NOTE: the first attempt inline and the rest in finishPush, as in add: no capturing
            // lambda on the fast path, and a method small enough for the JIT to inline into its caller.
            long r = fastPath()
                    ? (long) LIST_PUSH.invokeExact(stubs, area.descriptorAddress(), area.address(headOffset), address,
                            pool.nextOffset())
                    : NOT_ATTEMPTED;
            if (r != COMMITTED) {
                finishPush(area, headOffset, pool, address, r);
            }
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
            Reference.reachabilityFence(pool);
        }
    }

    /** {@link #push} after its first attempt returned {@code first} (not COMMITTED), or skipped it. */
    private void finishPush(PerCpuArea area, long headOffset, NodePool pool, long address, long first) {
        long nextOffset = pool.nextOffset();
        long nodeOffset = address - pool.firstAddress();
        run(area, ANY_REGION, first, d -> (long) LIST_PUSH.invokeExact(stubs, d, area.address(headOffset), address,
                        nextOffset),
                region -> PortableOperations.listPush(region, headOffset, pool.memory(), nodeOffset, nextOffset));
    }

    @Override
    public int pop(PerCpuArea area, long headOffset, NodePool pool) {
        checkList(area, headOffset, pool);
        try {
            // NOTE: as push: the first attempt inline. A node address (>= 4096: never a status)
            // ends the operation; FAILED (empty), CORRUPT and the retry statuses go to finishPop.
            long r = fastPath()
                    ? (long) LIST_POP.invokeExact(stubs, area.descriptorAddress(), area.address(headOffset),
                            pool.nextOffset(), pool.firstAddress(), pool.lastAddress(), pool.nodeSize() - 1)
                    : NOT_ATTEMPTED;
            return r >= NODE_ADDRESS_MIN ? pool.indexOf(r) : finishPop(area, headOffset, pool, r);
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
            Reference.reachabilityFence(pool);
        }
    }

    /** The lowest address a list node can have (the first page is never mapped): above every stub status. */
    private static final long NODE_ADDRESS_MIN = 4096;

    /** {@link #pop} after its first attempt returned {@code first} (not a node address), or skipped it. */
    private int finishPop(PerCpuArea area, long headOffset, NodePool pool, long first) {
        long nextOffset = pool.nextOffset();
        long firstNode = pool.firstAddress();
        long lastNode = pool.lastAddress();
        long nodeMask = pool.nodeSize() - 1;        // NodePool guarantees a power of two
        long r = first == FAILED || first == CORRUPT ? first
                : run(area, ANY_REGION, first, d -> (long) LIST_POP.invokeExact(stubs, d, area.address(headOffset),
                                nextOffset, firstNode, lastNode, nodeMask),
                        region -> PortableOperations.listPop(region, headOffset, nextOffset, pool.memory(),
                                lastNode - firstNode, nodeMask));
        if (r == FAILED) {
            return -1;
        }
        if (r == CORRUPT) {
            throw new IllegalStateException("list corrupted: the head at offset " + headOffset
                    + " is not a node of " + pool);
        }
        return pool.indexOf(r);
    }

    @Override
    public int popBatch(PerCpuArea area, int index, long headOffset, NodePool pool, int[] into, int max) {
        checkList(area, headOffset, pool);
        area.checkRegion(index);
        Objects.requireNonNull(into, "into must not be null");
        if (max < 1 || max > into.length) {
            throw new IllegalArgumentException("max must be in [1, into.length = " + into.length + "], was " + max);
        }
        long nextOffset = pool.nextOffset();
        long lastOffset = pool.lastAddress() - pool.firstAddress();
        long nodeMask = pool.nodeSize() - 1;
        try {
            // NOTE: the slow path alone, on the named region: the guard and the fence make the
            // portable pops atomic with respect to that region's fast paths, whichever CPU we run on.
            long n = slowPath(area, index, region -> {
                int popped = 0;
                while (popped < max) {
                    long r = PortableOperations.listPop(region, headOffset, nextOffset, pool.memory(), lastOffset,
                            nodeMask);
                    if (r == FAILED || (r == CORRUPT && popped > 0)) {
                        break;
                    }
                    if (r == CORRUPT) {
                        return -1;      // not a status: counts are >= 0
                    }
                    into[popped++] = pool.indexOf(r);
                }
                return popped;
            });
            if (n < 0) {
                throw new IllegalStateException("list corrupted: the head at offset " + headOffset + " of region "
                        + index + " is not a node of " + pool);
            }
            return (int) n;
        } finally {
            Reference.reachabilityFence(pool);
        }
    }

    @Override
    public int arrayPop(ArrayStack stack) {
        PerCpuArea area = Objects.requireNonNull(stack, "stack must not be null").area();
        checkArea(area);
        try {
            // NOTE: as push: the first attempt inline. COMMITTED and FAILED come indexed (settled); CORRUPT
            // and the retry statuses go to finishArrayPop.
            long r = fastPath()
                    ? (long) ARRAY_POP.invokeExact(stubs, area.descriptorAddress(), area.address(stack.countOffset()),
                            area.address(stack.slotsOffset()), (long) stack.capacity())
                    : NOT_ATTEMPTED;
            return popped(StubStatus.isIndexed(r) ? r : finishArrayPop(stack, r), stack);
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /** {@link #arrayPop}'s result: the element, -1 when empty; a corrupt count or element throws. */
    private static int popped(long r, ArrayStack stack) {
        if (r == CORRUPT) {
            throw corruptCount(stack);
        }
        if (StubStatus.statusOf(r) != COMMITTED) {
            return -1;
        }
        int element = (int) StubStatus.valueOf(r);
        if (element < 0) {
            // NOTE: pushes and copy-ins store only elements in [0, 2^31): a negative one was written into a
            // slot through the area. Reported, so that it is never mistaken for "empty" (-1).
            throw new IllegalStateException("array stack corrupted: popped a slot that holds no element ("
                    + element + ") from " + stack);
        }
        return element;
    }

    private static IllegalStateException corruptCount(ArrayStack stack) {
        return new IllegalStateException("array stack corrupted: a region's count lies beyond the capacity of " + stack);
    }

    /** {@link #arrayPop} after its first attempt returned {@code first} (not indexed), or skipped it. */
    private long finishArrayPop(ArrayStack stack, long first) {
        if (first == CORRUPT) {
            return first;
        }
        PerCpuArea area = stack.area();
        long count = stack.countOffset();
        long slots = stack.slotsOffset();
        long capacity = stack.capacity();
        return run(area, ANY_REGION, first, d -> (long) ARRAY_POP.invokeExact(stubs, d, area.address(count),
                        area.address(slots), capacity),
                region -> PortableOperations.arrayPop(region, count, slots, capacity));
    }

    @Override
    public boolean arrayPush(ArrayStack stack, int element) {
        PerCpuArea area = Objects.requireNonNull(stack, "stack must not be null").area();
        checkArea(area);
        if (element < 0) {
            throw new IllegalArgumentException("element must be in [0, " + Integer.MAX_VALUE + "], was " + element);
        }
        try {
            long r = fastPath()
                    ? (long) ARRAY_PUSH.invokeExact(stubs, area.descriptorAddress(), area.address(stack.countOffset()),
                            area.address(stack.slotsOffset()), (long) stack.capacity(), (long) element)
                    : NOT_ATTEMPTED;
            if (r == COMMITTED) {
                return true;
            }
            return r != FAILED && finishArrayPush(stack, element, r) == COMMITTED;
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /** {@link #arrayPush} after its first attempt returned {@code first} (neither COMMITTED nor FAILED), or skipped it. */
    private long finishArrayPush(ArrayStack stack, long element, long first) {
        PerCpuArea area = stack.area();
        long count = stack.countOffset();
        long slots = stack.slotsOffset();
        long capacity = stack.capacity();
        return run(area, ANY_REGION, first, d -> (long) ARRAY_PUSH.invokeExact(stubs, d, area.address(count),
                        area.address(slots), capacity, element),
                region -> PortableOperations.arrayPush(region, count, slots, capacity, element));
    }

    /** The checks of a batch move: {@code n} in [1, capacity] and within the batch array. */
    private static void checkBatch(ArrayStack stack, long[] batch, int n, String name) {
        Objects.requireNonNull(batch, name + " must not be null");
        if (n < 1 || n > stack.capacity() || n > batch.length) {
            throw new IllegalArgumentException("n must be in [1, min(capacity " + stack.capacity() + ", " + name
                    + ".length " + batch.length + ")], was " + n);
        }
    }

    /** A batch move's status: true if committed, false if FAILED; a corrupt count throws. */
    private static boolean moved(long r, ArrayStack stack) {
        if (r == CORRUPT) {
            throw corruptCount(stack);
        }
        return r == COMMITTED;
    }

    @Override
    public boolean arrayCopyOut(ArrayStack stack, long[] into, int n) {
        PerCpuArea area = Objects.requireNonNull(stack, "stack must not be null").area();
        checkArea(area);
        checkBatch(stack, into, n, "into");
        return copyBatch(stack, MemorySegment.ofArray(into), n, false);
    }

    @Override
    public boolean arrayCopyIn(ArrayStack stack, long[] from, int n) {
        PerCpuArea area = Objects.requireNonNull(stack, "stack must not be null").area();
        checkArea(area);
        checkBatch(stack, from, n, "from");
        for (int i = 0; i < n; i++) {
            if (from[i] < 0 || from[i] > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("from[" + i + "] must be in [0, " + Integer.MAX_VALUE + "], was "
                        + from[i]);
            }
        }
        return copyBatch(stack, MemorySegment.ofArray(from), n, true);
    }

    /**
     * {@link #arrayCopyIn} ({@code in}) or {@link #arrayCopyOut} of {@code n} elements between the top of
     * the current region's stack and {@code batch} (a checked heap segment): the fast path, then the protocol.
     */
    private boolean copyBatch(ArrayStack stack, MemorySegment batch, int n, boolean in) {
        PerCpuArea area = stack.area();
        long count = stack.countOffset();
        long slots = stack.slotsOffset();
        long capacity = stack.capacity();
        try {
            long r = fastPath() ? copyStub(in, area.descriptorAddress(), area, count, slots, capacity, n, batch)
                    : NOT_ATTEMPTED;
            if (r != COMMITTED && r != FAILED && r != CORRUPT) {
                r = run(area, ANY_REGION, r, d -> copyStub(in, d, area, count, slots, capacity, n, batch),
                        region -> in ? PortableOperations.arrayCopyIn(region, count, slots, capacity, n, batch)
                                : PortableOperations.arrayCopyOut(region, count, slots, capacity, n, batch));
            }
            return moved(r, stack);
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /** One attempt of the copy-in or copy-out stub; each handle is a constant, so each call inlines. */
    private long copyStub(boolean in, long descriptor, PerCpuArea area, long count, long slots, long capacity, int n,
                          MemorySegment batch) throws Throwable {
        return in
                ? (long) ARRAY_COPY_IN.invokeExact(stubs, descriptor, area.address(count), area.address(slots), capacity,
                        (long) n, batch)
                : (long) ARRAY_COPY_OUT.invokeExact(stubs, descriptor, area.address(count), area.address(slots), capacity,
                        (long) n, batch);
    }

    @Override
    public int arrayCopyOutFrom(ArrayStack stack, int index, long[] into, int max) {
        PerCpuArea area = Objects.requireNonNull(stack, "stack must not be null").area();
        checkArea(area);
        area.checkRegion(index);
        Objects.requireNonNull(into, "into must not be null");
        if (max < 1 || max > into.length) {
            throw new IllegalArgumentException("max must be in [1, into.length = " + into.length + "], was " + max);
        }
        long count = stack.countOffset();
        long slots = stack.slotsOffset();
        long capacity = stack.capacity();
        MemorySegment dst = MemorySegment.ofArray(into);
        // NOTE: the slow path alone, on the named region, as popBatch: the guard and the fence make the
        // portable copy atomic with respect to that region's fast paths, whichever CPU we run on.
        long n = slowPath(area, index, region -> {
            long c = region.get(JAVA_LONG, count);
            if (Long.compareUnsigned(c, capacity) > 0) {
                return -1;      // not a count: counts are >= 0
            }
            long k = Math.min(c, max);
            return k == 0 ? 0 : PortableOperations.arrayCopyOut(region, count, slots, capacity, k, dst) == COMMITTED ? k : 0;
        });
        if (n < 0) {
            throw corruptCount(stack);
        }
        return (int) n;
    }

    @Override
    public void fenceAllThreads() {
        if (stubs == null) {
            VarHandle.fullFence();
        } else {
            runtime.fenceAllCpus();
        }
    }

    @Override
    public boolean storeThenCommit(PerCpuArea area, int index, long counterOffset, long expected, long slotOffset,
                                   long value, long newCounter) {
        checkArea(area);
        area.checkRegion(index);
        area.checkWord(counterOffset, "counterOffset");
        area.checkWord(slotOffset, "slotOffset");
        if (slotOffset == counterOffset) {
            throw new IllegalArgumentException("slotOffset must differ from counterOffset " + counterOffset
                    + ": the try-store would publish before the commit");
        }
        try {
            long r = fastPath()
                    ? (long) LOAD_COMPARE_TRYSTORE_STORE.invokeExact(stubs, area.descriptorAddress(), (long) index,
                            area.address(counterOffset), expected, area.address(slotOffset), value, newCounter)
                    : NOT_ATTEMPTED;
            return (settled(r) ? r
                    : finishStoreThenCommit(area, index, counterOffset, expected, slotOffset, value, newCounter, r))
                    == COMMITTED;
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /** {@link #storeThenCommit} after its first attempt returned {@code first} (not settled), or skipped it. */
    private long finishStoreThenCommit(PerCpuArea area, int index, long counterOffset, long expected, long slotOffset,
                                       long value, long newCounter, long first) {
        return run(area, index, first, d -> (long) LOAD_COMPARE_TRYSTORE_STORE.invokeExact(stubs, d, (long) index,
                        area.address(counterOffset), expected, area.address(slotOffset), value, newCounter),
                region -> PortableOperations.loadCompareTrystoreStore(region, counterOffset, expected, slotOffset,
                        value, newCounter));
    }

    @Override
    public boolean copyThenCommit(PerCpuArea area, int index, long counterOffset, long expected, long dstOffset,
                                  int typeId, MemorySegment src, long length, long newCounter) {
        checkRecord(area, index, counterOffset, dstOffset, src, length);
        long header = PerCpuOps.recordHeader(typeId, length);     // length checked: in [0, MAX_COPY_BYTES]
        // NOTE: native code reads only the library's memory and the Java heap. A native source is the
        // caller's (a mapped file can be truncated under it: SIGBUS inside the stub kills the JVM), so
        // it is copied in Java first, where such a fault throws InternalError instead, into a staging
        // buffer the library owns (reused, so the fast path still allocates nothing).
        MemorySegment staged = src.isNative() ? Staging.take(index) : null;
        try {
            if (staged != null) {
                MemorySegment.copy(src, 0, staged, 0, length);
                src = staged;
            }
            long r = fastPath()
                    ? (long) LOAD_COMPARE_MEMCPY_STORE.invokeExact(stubs, area.descriptorAddress(), (long) index,
                            area.address(counterOffset), expected, area.address(dstOffset), header, src, newCounter)
                    : NOT_ATTEMPTED;
            return (settled(r) ? r
                    : finishCopyThenCommit(area, index, counterOffset, expected, dstOffset, header, src, newCounter, r))
                    == COMMITTED;
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            if (staged != null) {
                Staging.give(index, staged);
            }
            Reference.reachabilityFence(area);
        }
    }

    /**
     * Heap buffers of {@link #MAX_COPY_BYTES} that {@link #copyThenCommit} copies a caller's native
     * source into before its downcall: one slot per region index (modulo a power of two at least the
     * processor count), taken by an atomic exchange and put back with a release store. A thread that
     * finds its slot empty (another thread on the same index is copying) allocates a fresh buffer,
     * and the one put back last stays, so memory stays at one buffer per slot.
     */
    private static final class Staging {
        private static final AtomicReferenceArray<MemorySegment> SLOTS = new AtomicReferenceArray<>(
                Integer.highestOneBit(Math.max(1, Runtime.getRuntime().availableProcessors() - 1)) << 1);

        static MemorySegment take(int index) {
            MemorySegment buffer = SLOTS.getAndSet(index & (SLOTS.length() - 1), null);
            return buffer != null ? buffer : MemorySegment.ofArray(new byte[(int) MAX_COPY_BYTES]);
        }

        static void give(int index, MemorySegment buffer) {
            SLOTS.setRelease(index & (SLOTS.length() - 1), buffer);
        }
    }

    /** The checks of {@link #copyThenCommit}, out of line to keep its fast path small. */
    private void checkRecord(PerCpuArea area, int index, long counterOffset, long dstOffset, MemorySegment src,
                             long length) {
        checkArea(area);
        area.checkRegion(index);
        area.checkWord(counterOffset, "counterOffset");
        if (length < 0 || length > MAX_COPY_BYTES) {
            throw new IllegalArgumentException("length must be in [0, " + MAX_COPY_BYTES + "], was " + length);
        }
        area.checkWord(dstOffset, "dstOffset");         // the header word: 8-aligned, in the region, off the guard
        long recordBytes = Operation.RECORD_HEADER_BYTES + length;
        if (recordBytes > area.stride()) {
            throw new IllegalArgumentException("length must be at most the stride less the header, "
                    + (area.stride() - Operation.RECORD_HEADER_BYTES) + ", was " + length);
        }
        area.checkRange(dstOffset, recordBytes, "dstOffset");
        Objects.requireNonNull(src, "src must not be null");
        if (area.memory().asOverlappingSlice(src).isPresent()) {
            throw new IllegalArgumentException("src must not overlap the area's memory");
        }
        if (length > src.byteSize()) {
            throw new IllegalArgumentException("length must be at most src.byteSize() " + src.byteSize()
                    + ", was " + length);
        }
        if (counterOffset < dstOffset + recordBytes && dstOffset < counterOffset + 8) {
            throw new IllegalArgumentException("dstOffset record range [" + dstOffset + ", " + (dstOffset + recordBytes)
                    + ") (header and payload) must not overlap counterOffset " + counterOffset);
        }
    }

    /** {@link #copyThenCommit} after its first attempt returned {@code first} (not settled), or skipped it. */
    private long finishCopyThenCommit(PerCpuArea area, int index, long counterOffset, long expected, long dstOffset,
                                      long header, MemorySegment src, long newCounter, long first) {
        return run(area, index, first, d -> (long) LOAD_COMPARE_MEMCPY_STORE.invokeExact(stubs, d, (long) index,
                        area.address(counterOffset), expected, area.address(dstOffset), header, src, newCounter),
                region -> PortableOperations.loadCompareMemcpyStore(region, counterOffset, expected, dstOffset,
                        header, src, newCounter));
    }

    @Override
    public long sumThenReset(PerCpuArea area, long offset) {
        checkArea(area);
        area.checkWord(offset, "offset");
        checkStackHeadroom();
        int held = 0;
        try {
            for (; held < area.regions(); held++) {
                acquireGuard(area, held);
            }
            if (stubs != null && !skipFence) {
                runtime.fenceAllCpus();
            }
            long sum = 0;
            for (int c = 0; c < area.regions(); c++) {
                MemorySegment region = area.region(c);
                sum += region.get(JAVA_LONG, offset);
                PortableOperations.storeOpaque(region, offset, 0L);
            }
            return sum;
        } finally {
            for (int c = 0; c < held; c++) {
                area.releaseGuard(c);
            }
            Reference.reachabilityFence(area);
        }
    }

    /**
     * The cpu_id probe in a static final, where the JIT folds the handle (through the runtime's
     * instance field it is a chain of loads per call); null in lock mode.
     */
    private static final class CpuIdProbe {
        static final MethodHandle HANDLE = RseqRuntime.get().cpuIdProbe();
    }

    @Override
    public int currentIndex(PerCpuArea area) {
        Objects.requireNonNull(area, "area must not be null");
        if (area.indexing() == CpuIndexing.CPU && indexing == CpuIndexing.CPU && stubs != null) {
            // NOTE: the fast path: one critical downcall, no status chase, no divide. A registered
            // thread's cpu_id is below the possible CPUs, which is a CPU-indexed area's region count;
            // an unregistered thread (negative) or a smaller area takes the general path below.
            long cpu;
            try {
                cpu = (long) CpuIdProbe.HANDLE.invokeExact();
            } catch (Throwable t) {
                throw Libc.rethrowUnchecked(t);
            }
            if (cpu >= 0 && cpu < area.regions()) {
                return (int) cpu;
            }
        }
        return generalCurrentIndex(area);
    }

    /** {@link #currentIndex} for every case but a registered thread on a CPU-indexed area. */
    private int generalCurrentIndex(PerCpuArea area) {
        checkArea(area);
        int id = stubs == null ? Libc.schedGetcpu()
                : indexing == CpuIndexing.CONCURRENCY_ID ? runtime.concurrencyId() : runtime.currentCpu();
        if (id < 0) {
            // NOTE: no CPU to go by (lock mode without sched_getcpu): spread threads over regions by a
            // Fibonacci hash of the thread id (multiply by 2^64 / golden ratio, keep high bits), so that
            // consecutive ids, the common case, land on different regions instead of clustering.
            id = (int) (Thread.currentThread().threadId() * 0x9E3779B97F4A7C15L >>> 40);
        }
        return Math.floorMod(id, area.regions());
    }

    /** A stub call with the area descriptor's address. */
    @FunctionalInterface
    private interface StubCall {
        long call(long descriptor) throws Throwable;
    }

    /** An operation's portable form on one region. */
    @FunctionalInterface
    private interface RegionOp {
        long apply(MemorySegment region);
    }

    /** The {@code region} argument of {@link #run} and {@link #slowPath} for operations that act on any region. */
    private static final int ANY_REGION = -1;
    /**
     * As {@link #ANY_REGION}, for an operation that {@link Operation#returnsIndex() returns its index}: its
     * portable form returns an {@link StubStatus#indexed} value with index 0, and the slow path adds the
     * region it ran on.
     */
    private static final int CURRENT_REGION_INDEXED = -2;

    /**
     * The two-attempt protocol for any operation, after a first attempt that the caller made inline
     * and that returned {@code first} (neither a commit nor a result), or with the fast path skipped
     * ({@link #NOT_ATTEMPTED}): at most two attempts in all, then the slow path. Returns the stub's or
     * the slow path's result.
     *
     * @param region the region the operation must act on (its stub takes it as expectedIndex and
     *               returns MOVED elsewhere), or {@link #ANY_REGION}
     */
    private long run(PerCpuArea area, int region, long first, StubCall fast, RegionOp slow) {
        try {
            if (first != NOT_ATTEMPTED) {
                long d = area.descriptorAddress();
                int attempt = 0;
                long r = first;
                while (true) {
                    if (r != ABORTED && r != GUARDED && r != INDEX_INVALID && r != MOVED) {
                        return r;
                    }
                    if (!retry(r) || ++attempt == 2) {
                        break;
                    }
                    if (r == GUARDED) {
                        // NOTE: wait for the holder's release, then attempt again, rather than take the
                        // guard: a slow path of our own would hold the guard (and fence) while the next
                        // thread on this CPU finds it held, and so on: a convoy of slow paths behind one
                        // steal. The attempt after the wait sees the release (the guard is loaded with
                        // acquire semantics inside the section), or is guarded again and goes slow.
                        awaitGuard(area, region >= 0 ? region : currentIndex(area), false);
                    }
                    r = fast.call(d);
                }
            }
            return slowPath(area, region, slow);
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /** Whether to try the restartable sequence: always in RSEQ mode, unless a test hook forces the slow path. */
    private boolean fastPath() {
        return stubs != null
                && (slowPathEvery == 0 || ThreadLocalRandom.current().nextInt(slowPathEvery) != 0);
    }

    /**
     * Records a status that is neither a commit nor a result; true when another attempt may succeed
     * (aborted, or the thread is now registered), false when the slow path must run (guarded,
     * unregistrable).
     */
    private boolean retry(long status) {
        if (status == ABORTED) {
            stats.recordAbort();
            return true;
        }
        if (status == MOVED) {
            // NOTE: the thread runs on another region than the caller named (it migrated since it
            // looked): worth one more attempt, as after an abort; the slow path then works on the
            // named region from wherever the thread runs.
            stats.recordMoved();
            return true;
        }
        if (status == GUARDED) {
            stats.recordGuarded();
            return true;        // after the holder releases (see run)
        }
        assert status == INDEX_INVALID;
        stats.recordInvalidIndex();
        return runtime.ensureRegistered();
    }

    /**
     * Throws {@link StackOverflowError} here, holding nothing, if the stack could overflow between
     * taking and releasing a guard. A guard's window (the CAS, the membarrier downcall, the portable
     * operation, the release, each through several VarHandle and FFM frames while interpreted) is
     * shallow, but an overflow inside it, even in the frames that return from a successful CAS, would
     * leave the guard held for ever and stop every later operation on that region. This recursion
     * reaches {@value #HEADROOM_FRAMES} frames of six live {@code long}s (spilled across each call, so
     * compiled frames stay large too) below the caller, deeper than the window goes. It runs only on
     * the slow path: in RSEQ mode beside a membarrier that dwarfs it; in lock mode, where every
     * operation is a slow path, it adds about {@value #HEADROOM_FRAMES} calls to each (not yet measured
     * with JMH).
     * {@code GuardStackOverflowTest} drives an overflow into every point of the window.
     */
    private static void checkStackHeadroom() {
        if (headroom(HEADROOM_FRAMES, 1, 2, 3, 4, 5, 6) == 0) {
            throw new AssertionError();   // never: keeps the result (and so the recursion) alive
        }
    }

    private static long headroom(int frames, long a, long b, long c, long d, long e, long f) {
        if (frames == 0) {
            return a | 1;
        }
        return headroom(frames - 1, b, c, d, e, f, a + frames) | (a ^ b ^ c ^ d ^ e ^ f);
    }

    /**
     * Takes region {@code c}'s guard (0 to 1): at once if it is free, else spinning briefly, then
     * parking with a bounded back-off (see "Waiting" in the class notes). Uninterruptible.
     */
    private void acquireGuard(PerCpuArea area, int c) {
        awaitGuard(area, c, true);
    }

    /**
     * Waits until region {@code c}'s guard is free, and then takes it if {@code take}: at once if it is
     * free, else spinning briefly, then parking with a bounded back-off (see "Waiting" in the class
     * notes). Uninterruptible. A wait is recorded only if the guard was held when looked at.
     */
    private void awaitGuard(PerCpuArea area, int c, boolean take) {
        if (take ? area.casGuard(c) : !area.guardHeld(c)) {
            return;
        }
        long start = System.nanoTime();
        boolean interrupted = false;
        long park = MIN_PARK_NANOS;
        for (int round = 0; ; round++) {
            // NOTE: test before CAS, so that waiters read a shared line instead of stealing it from the holder.
            if (!area.guardHeld(c) && (!take || area.casGuard(c))) {
                break;
            }
            if (round < SPINS_BEFORE_PARK) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, park);
                park = Math.min(2 * park, MAX_PARK_NANOS);
                // parkNanos returns at once while the interrupt status is set: clear it, restore it below.
                interrupted |= Thread.interrupted();
            }
        }
        stats.recordGuardWait(System.nanoTime() - start);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private long slowPath(PerCpuArea area, int region, RegionOp op) {
        stats.recordSlowPath();
        int c = region >= 0 ? region
                : slowPathEvery > 0 ? ThreadLocalRandom.current().nextInt(area.regions()) : currentIndex(area);
        long r = slowPathOn(area, c, op);
        return region == CURRENT_REGION_INDEXED ? r | c : r;     // the portable form's indexed result has index 0
    }

    /** The slow path's steps on region {@code c}: guard, fence, the portable operation, release. */
    private long slowPathOn(PerCpuArea area, int c, RegionOp op) {
        checkStackHeadroom();
        acquireGuard(area, c);
        try {
            if (stubs != null && !skipFence) {
                if (indexing == CpuIndexing.CONCURRENCY_ID) {
                    runtime.fenceAllCpus();         // a concurrency id is not a CPU: any CPU may run region c
                } else {
                    runtime.fenceCpu(c);
                }
            }
            return op.apply(area.region(c));
        } finally {
            area.releaseGuard(c);
        }
    }
}
