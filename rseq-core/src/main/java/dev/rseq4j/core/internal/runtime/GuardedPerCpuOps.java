package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.codegen.IndexSource;
import dev.rseq4j.core.internal.codegen.StubOptions;
import dev.rseq4j.core.internal.platform.Libc;
import dev.rseq4j.core.percpu.NodePool;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

import static dev.rseq4j.core.internal.codegen.StubStatus.ABORTED;
import static dev.rseq4j.core.internal.codegen.StubStatus.COMMITTED;
import static dev.rseq4j.core.internal.codegen.StubStatus.CORRUPT;
import static dev.rseq4j.core.internal.codegen.StubStatus.FAILED;
import static dev.rseq4j.core.internal.codegen.StubStatus.GUARDED;
import static dev.rseq4j.core.internal.codegen.StubStatus.INDEX_INVALID;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The one implementation of {@link PerCpuOps}: two restartable attempts, then the guard.
 *
 * <h2>Implementation notes</h2>
 * Fast path: call the stub; {@code COMMITTED} (or a result) ends the operation. {@code ABORTED}
 * counts as an attempt; {@code INDEX_INVALID} registers the thread when this library is the
 * registrant and retries; {@code GUARDED} goes straight to the slow path. After two attempts the
 * slow path runs. That bound is what guarantees progress even under constant preemption (the 2016
 * design review's "two attempts, then a lock").
 *
 * <p>Slow path on region {@code c} (any region is correct; we pick the current CPU's for locality):
 * <ol>
 *   <li>CAS {@code guard[c]} 0 to 1, spinning then yielding while another slow path holds it;</li>
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
 * <p>A record so that the JIT trusts its final fields: with a constant instance, the stub handle
 * folds into a direct call.
 *
 * @param runtime the process runtime
 * @param stubs   the installed stubs, or null in lock mode
 * @param index   CPU_ID or MM_CID
 * @param stats   counts of rare events
 * @param hooks   test hooks; {@link TestHooks#NONE} in production (the checks fold away)
 */
public record GuardedPerCpuOps(RseqRuntime runtime, StubHandles stubs, IndexSource index, PerCpuStats stats,
                               TestHooks hooks) implements PerCpuOps {

    /**
     * Test hooks for the protocol's hardest case and its negative control.
     *
     * @param slowPathEvery if &gt; 0, an operation skips its fast path with probability 1/slowPathEvery,
     *                      and every slow path works on a random region instead of the current one, as
     *                      reset and steal operations do: slow paths then race with fast paths running
     *                      on that region's CPU (a slow path on its own CPU's region cannot: it occupies
     *                      the CPU, and a preempted fast path aborts)
     * @param skipFence     omit the membarrier in the slow path (negative control: must lose updates)
     */
    public record TestHooks(int slowPathEvery, boolean skipFence) {
        public static final TestHooks NONE = new TestHooks(0, false);

        public TestHooks {
            if (slowPathEvery < 0) {
                throw new IllegalArgumentException("slowPathEvery must be >= 0, was " + slowPathEvery);
            }
        }
    }

    private static final int SPINS_BEFORE_YIELD = 64;

    private static final class Production {
        static final GuardedPerCpuOps CPU = create(IndexSource.CPU_ID);
        static final GuardedPerCpuOps MM_CID = RseqRuntime.get().status().mmCid() || !RseqRuntime.get().rseqMode()
                ? create(IndexSource.MM_CID) : null;

        private static GuardedPerCpuOps create(IndexSource index) {
            RseqRuntime rt = RseqRuntime.get();
            return new GuardedPerCpuOps(rt, rt.rseqMode() ? rt.stubs(index) : null, index, new PerCpuStats(), TestHooks.NONE);
        }
    }

    /** The shared production instance for {@code index}. */
    public static GuardedPerCpuOps production(IndexSource index) {
        if (index == IndexSource.CPU_ID) {
            return Production.CPU;
        }
        if (Production.MM_CID == null) {
            RseqRuntime.get().stubs(IndexSource.MM_CID); // throws with the reason
        }
        return Production.MM_CID;
    }

    /** A fresh instance over stubs built with {@code options} (tests and diagnostics: delay loops, negative control). */
    public static GuardedPerCpuOps withOptions(StubOptions options) {
        return withOptions(options, TestHooks.NONE);
    }

    /** As {@link #withOptions(StubOptions)}, with test hooks. */
    public static GuardedPerCpuOps withOptions(StubOptions options, TestHooks hooks) {
        RseqRuntime rt = RseqRuntime.get();
        return new GuardedPerCpuOps(rt, rt.stubs(options), options.index(), new PerCpuStats(), hooks);
    }

    /** A fresh lock-mode instance, whatever the process mode (tests compare both). */
    public static GuardedPerCpuOps lockMode() {
        return new GuardedPerCpuOps(RseqRuntime.get(), null, IndexSource.CPU_ID, new PerCpuStats(), TestHooks.NONE);
    }

    @Override
    public boolean restartable() {
        return stubs != null;
    }

    @Override
    public PerCpuArea.Indexing indexing() {
        return index == IndexSource.MM_CID ? PerCpuArea.Indexing.CONCURRENCY_ID : PerCpuArea.Indexing.CPU;
    }

    /** Null and indexing checks common to every operation. */
    private void checkArea(PerCpuArea area) {
        Objects.requireNonNull(area, "area must not be null");
        if (area.indexing() != indexing()) {
            throw new IllegalArgumentException("area is indexed by " + area.indexing()
                    + " but these operations index by " + indexing());
        }
    }

    @Override
    public void add(PerCpuArea area, long offset, long value) {
        checkArea(area);
        area.checkWord(offset, "offset");
        // NOTE: the same protocol as run(), written out for the hottest operation so that its fast
        // path needs no capturing lambda; keep the two in step.
        try {
            if (fastPath()) {
                long d = area.descriptorAddress();
                for (int attempt = 0; attempt < 2; attempt++) {
                    long r = (long) stubs.loadAddStore().invokeExact(d, area.address(offset), value);
                    if (r == COMMITTED) {
                        return;
                    }
                    if (!retry(r)) {
                        break;
                    }
                }
            }
            slowPath(area, region -> PortableOperations.loadAddStore(region, offset, value));
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    @Override
    public boolean compareAndStore(PerCpuArea area, long offset, long expected, long newValue) {
        checkArea(area);
        area.checkWord(offset, "offset");
        return run(area, d -> (long) stubs.loadCompareStore().invokeExact(d, area.address(offset), expected, newValue),
                region -> PortableOperations.loadCompareStore(region, offset, expected, newValue)) == COMMITTED;
    }

    @Override
    public void push(PerCpuArea area, long headOffset, NodePool pool, int node) {
        checkArea(area);
        area.checkWord(headOffset, "headOffset");
        Objects.requireNonNull(pool, "pool must not be null");
        long address = pool.address(node);
        long nodeOffset = address - pool.firstAddress();
        long nextOffset = pool.nextOffset();
        try {
            run(area, d -> (long) stubs.listPush().invokeExact(d, area.address(headOffset), address, nextOffset),
                    region -> PortableOperations.listPush(region, headOffset, pool.memory(), nodeOffset, nextOffset));
        } finally {
            Reference.reachabilityFence(pool);
        }
    }

    @Override
    public int pop(PerCpuArea area, long headOffset, NodePool pool) {
        checkArea(area);
        area.checkWord(headOffset, "headOffset");
        Objects.requireNonNull(pool, "pool must not be null");
        long nextOffset = pool.nextOffset();
        long first = pool.firstAddress();
        long last = pool.lastAddress();
        long nodeMask = pool.nodeSize() - 1;        // NodePool guarantees a power of two
        try {
            long r = run(area, d -> (long) stubs.listPop().invokeExact(d, area.address(headOffset), nextOffset, first,
                            last, nodeMask),
                    region -> PortableOperations.listPop(region, headOffset, nextOffset, pool.memory(), last - first,
                            nodeMask));
            if (r == FAILED) {
                return -1;
            }
            if (r == CORRUPT) {
                throw new IllegalStateException("list corrupted: the head at offset " + headOffset
                        + " is not a node of " + pool);
            }
            return pool.indexOf(r);
        } finally {
            Reference.reachabilityFence(pool);
        }
    }

    @Override
    public boolean storeThenCommit(PerCpuArea area, long counterOffset, long expected, long slotOffset, long value,
                                   long newCounter) {
        checkArea(area);
        area.checkWord(counterOffset, "counterOffset");
        area.checkWord(slotOffset, "slotOffset");
        if (slotOffset == counterOffset) {
            throw new IllegalArgumentException("slotOffset must differ from counterOffset " + counterOffset
                    + ": the try-store would publish before the commit");
        }
        return run(area, d -> (long) stubs.loadCompareTrystoreStore().invokeExact(d, area.address(counterOffset),
                        expected, area.address(slotOffset), value, newCounter),
                region -> PortableOperations.loadCompareTrystoreStore(region, counterOffset, expected, slotOffset,
                        value, newCounter)) == COMMITTED;
    }

    @Override
    public boolean copyThenCommit(PerCpuArea area, long counterOffset, long expected, long dstOffset,
                                  MemorySegment src, long length, long newCounter) {
        checkArea(area);
        area.checkWord(counterOffset, "counterOffset");
        if (length > MAX_COPY_BYTES) {
            throw new IllegalArgumentException("length must be at most " + MAX_COPY_BYTES + ", was " + length);
        }
        area.checkRange(dstOffset, length, "dstOffset");
        Objects.requireNonNull(src, "src must not be null");
        if (area.memory().asOverlappingSlice(src).isPresent()) {
            throw new IllegalArgumentException("src must not overlap the area's memory");
        }
        if (length > src.byteSize()) {
            throw new IllegalArgumentException("length must be at most src.byteSize() " + src.byteSize()
                    + ", was " + length);
        }
        if (counterOffset < dstOffset + length && dstOffset < counterOffset + 8) {
            throw new IllegalArgumentException("dstOffset range [" + dstOffset + ", " + (dstOffset + length)
                    + ") must not overlap counterOffset " + counterOffset);
        }
        return run(area, d -> (long) stubs.loadCompareMemcpyStore().invokeExact(d, area.address(counterOffset),
                        expected, area.address(dstOffset), src, length, newCounter),
                region -> PortableOperations.loadCompareMemcpyStore(region, counterOffset, expected, dstOffset,
                        src, length, newCounter)) == COMMITTED;
    }

    @Override
    public long sumThenReset(PerCpuArea area, long offset) {
        checkArea(area);
        area.checkWord(offset, "offset");
        int held = 0;
        try {
            for (; held < area.regions(); held++) {
                acquireGuard(area, held);
            }
            if (stubs != null && !hooks.skipFence()) {
                runtime.fence(-1);
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

    @Override
    public int currentIndex(PerCpuArea area) {
        checkArea(area);
        int id = stubs == null ? Libc.schedGetcpu()
                : index == IndexSource.MM_CID ? runtime.concurrencyId() : runtime.currentCpu();
        if (id < 0) {
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

    /** The two-attempt protocol for any operation; returns the stub's or the slow path's result. */
    private long run(PerCpuArea area, StubCall fast, RegionOp slow) {
        try {
            if (fastPath()) {
                long d = area.descriptorAddress();
                for (int attempt = 0; attempt < 2; attempt++) {
                    long r = fast.call(d);
                    if (r != ABORTED && r != GUARDED && r != INDEX_INVALID) {
                        return r;
                    }
                    if (!retry(r)) {
                        break;
                    }
                }
            }
            return slowPath(area, slow);
        } catch (Throwable t) {
            throw Libc.rethrowUnchecked(t);
        } finally {
            Reference.reachabilityFence(area);
        }
    }

    /** Whether to try the restartable sequence: always in RSEQ mode, unless a test hook forces the slow path. */
    private boolean fastPath() {
        return stubs != null
                && (hooks.slowPathEvery() == 0 || ThreadLocalRandom.current().nextInt(hooks.slowPathEvery()) != 0);
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
        if (status == GUARDED) {
            stats.recordGuarded();
            return false;
        }
        assert status == INDEX_INVALID;
        stats.recordInvalidIndex();
        return runtime.ensureRegistered();
    }

    /** CAS region {@code c}'s guard from 0 to 1, spinning, then yielding, while another slow path holds it. */
    private static void acquireGuard(PerCpuArea area, int c) {
        int spins = 0;
        while (!area.casGuard(c)) {
            if (++spins < SPINS_BEFORE_YIELD) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    private long slowPath(PerCpuArea area, RegionOp op) {
        stats.recordSlowPath();
        int c = hooks.slowPathEvery() > 0 ? ThreadLocalRandom.current().nextInt(area.regions()) : currentIndex(area);
        acquireGuard(area, c);
        try {
            if (stubs != null && !hooks.skipFence()) {
                runtime.fence(index == IndexSource.MM_CID ? -1 : c);
            }
            return op.apply(area.region(c));
        } finally {
            area.releaseGuard(c);
        }
    }
}
