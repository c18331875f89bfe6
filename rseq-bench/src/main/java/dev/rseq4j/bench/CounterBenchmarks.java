package dev.rseq4j.bench;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.collections.PerCpuCounter;
import dev.rseq4j.core.internal.platform.RseqAbi;
import dev.rseq4j.core.internal.runtime.FoldedStubs;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.internal.runtime.StubHandles;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import org.jctools.counters.Counter;
import org.jctools.counters.CountersFactory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * One shared counter per implementation, incremented by every benchmark thread: the contended case
 * {@code LongAdder} is made for, at 1, 2, 4 and 8 threads ({@link CounterReport}); and the cost of
 * {@code sum()}, single-threaded.
 *
 * <p>{@code emptyDowncall} calls a generated stub that only returns 0, through the same critical
 * downcall as the counter: the floor of any FFM-based design.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED",
        "--add-opens", "java.base/java.util.concurrent.atomic=ALL-UNNAMED"})
public class CounterBenchmarks {
    /** A static final handle, so the JIT links it like the counter's: the floor of any downcall. */
    static final MethodHandle NOTHING = RseqRuntime.get().rseqMode()
            ? RseqRuntime.get().stubs(RseqAbi.Field.CPU_ID).nothing() : null;

    /** The counter's stub called directly on a constant area: what the commit sequence itself costs. */
    static final MethodHandle ADD = RseqRuntime.get().rseqMode()
            ? RseqRuntime.get().stubs(RseqAbi.Field.CPU_ID).loadAddStore() : null;
    /** The lock's take (compare-and-store on the current region, returning it), called directly. */
    static final MethodHandle TAKE = RseqRuntime.get().rseqMode()
            ? RseqRuntime.get().stubs(RseqAbi.Field.CPU_ID).currentLoadCompareStore() : null;
    /** The ring's reservation, called directly. */
    static final MethodHandle RESERVE = RseqRuntime.get().rseqMode()
            ? RseqRuntime.get().stubs(RseqAbi.Field.CPU_ID).currentLoadLimitAddStore() : null;
    /** The batch of three adds (one downcall, three sections), called directly. */
    static final MethodHandle BATCH = RseqRuntime.get().rseqMode()
            ? RseqRuntime.get().stubs(RseqAbi.Field.CPU_ID).batchLoadAddStore() : null;
    /**
     * Region words: 8 the counter's, 16 the take's, 24 a reservation's tail, 32 its limit (never reached),
     * 40..56 a batch's three words.
     */
    static final PerCpuArea AREA = areaWithLimit();

    private static PerCpuArea areaWithLimit() {
        PerCpuArea area = PerCpuArea.forPossibleCpus(CpuIndexing.CPU, 64);
        for (int r = 0; r < area.regions(); r++) {
            area.setLongRelease(r, 32, Long.MAX_VALUE);
        }
        return area;
    }
    static final PerCpuOps OPS = PerCpuOps.cpuIndexed();
    /**
     * The same operations and area held in instance fields, as a user's own structure (or a collection)
     * holds them: the JIT cannot treat them as constants, so these rows show what a call costs when only
     * {@code FoldedStubs} folds the stub.
     */
    PerCpuOps fieldOps = OPS;
    PerCpuArea fieldArea = AREA;
    StubHandles fieldStubs = RseqRuntime.get().rseqMode() ? RseqRuntime.get().stubs(RseqAbi.Field.CPU_ID) : null;

    PerCpuCounter perCpu;
    LongAdder longAdder;
    AtomicLong atomicLong;
    Counter jctools;
    /** "Requests, bytes, errors" three ways: a group (one downcall), three counters, three adders. */
    PerCpuCounter.Group group;
    PerCpuCounter perCpu1;
    PerCpuCounter perCpu2;
    LongAdder longAdder1;
    LongAdder longAdder2;

    @Setup
    public void setUp() {
        perCpu = new PerCpuCounter();
        group = PerCpuCounter.group(3);
        perCpu1 = new PerCpuCounter();
        perCpu2 = new PerCpuCounter();
        longAdder1 = new LongAdder();
        longAdder2 = new LongAdder();
        longAdder = new LongAdder();
        atomicLong = new AtomicLong();
        // One stripe per CPU rounded up to a power of two, as LongAdder sizes its cells.
        jctools = CountersFactory.createFixedSizeStripedCounter(
                Integer.highestOneBit(Math.max(1, Runtime.getRuntime().availableProcessors() * 2 - 1)));
    }

    @Benchmark
    public void perCpuCounter() {
        perCpu.increment();
    }

    @Benchmark
    public void longAdder() {
        longAdder.increment();
    }

    /** Three counters updated together: one {@link PerCpuCounter.Group} call, one downcall. */
    @Benchmark
    public void perCpuCounterGroup3() {
        group.add(1, 1024, 1);
    }

    /** The same three updates as three {@link PerCpuCounter}s: three downcalls. */
    @Benchmark
    public void perCpuCounter3() {
        perCpu.add(1);
        perCpu1.add(1024);
        perCpu2.add(1);
    }

    /** The same three updates as three {@code LongAdder}s, the peer of {@link #perCpuCounterGroup3}. */
    @Benchmark
    public void longAdder3() {
        longAdder.add(1);
        longAdder1.add(1024);
        longAdder2.add(1);
    }

    @Benchmark
    public void atomicLong() {
        atomicLong.incrementAndGet();
    }

    @Benchmark
    public void jctoolsStriped() {
        jctools.inc();
    }

    /** A PerCpuCounter and a LongAdder that every CPU has updated (the adder fully contended). */
    @State(Scope.Benchmark)
    public static class Updated {
        PerCpuCounter perCpu;
        LongAdder longAdder;

        @Setup
        public void setUp() throws InterruptedException {
            perCpu = new PerCpuCounter();
            longAdder = new LongAdder();
            Inflation.inflate(longAdder, perCpu::increment);
            if (Inflation.verifiable() && Inflation.cells(longAdder) < Inflation.fullCells()) {
                throw new IllegalStateException("LongAdder not fully inflated: " + Inflation.cells(longAdder) + " cells");
            }
        }
    }

    /** The cost of sum(), run single-threaded on {@link Updated}. */
    @Benchmark
    public long perCpuCounterSum(Updated u) {
        return u.perCpu.sum();
    }

    @Benchmark
    public long longAdderSum(Updated u) {
        return u.longAdder.sum();
    }

    /** The LOAD_ADD_STORE stub alone, with constant arguments (no Java-side checks). */
    @Benchmark
    public long stubOnly() throws Throwable {
        if (ADD == null) {
            throw new IllegalStateException("lock mode: no stubs; " + RseqRuntime.get().status().lockReason());
        }
        return (long) ADD.invokeExact(AREA.descriptorAddress(), AREA.address(8), 1L);
    }

    /** The batch stub alone (three adds), beside {@link #batchOpsOnConstantArea}: the Java share of a group's add. */
    @Benchmark
    public long batchStubOnly() throws Throwable {
        if (BATCH == null) {
            throw new IllegalStateException("lock mode: no stubs; " + RseqRuntime.get().status().lockReason());
        }
        return (long) BATCH.invokeExact(AREA.descriptorAddress(), AREA.address(40), 3L, 1L, 1024L, 1L);
    }

    /** PerCpuOps.addEach on a constant area (three words). */
    @Benchmark
    public void batchOpsOnConstantArea() {
        OPS.addEach(AREA, 40, 3, 1, 1024, 1);
    }

    /** PerCpuOps.add on a constant area: the stub plus the protocol's Java side, without a counter. */
    @Benchmark
    public void opsOnConstantArea() {
        OPS.add(AREA, 8, 1);
    }

    /**
     * The take's stub alone (0 to 0: a full section that commits, and leaves the word as it was), beside
     * {@link #takeOpsOnConstantArea}: the Java share of {@code PerCpuSpinLock.lock()}'s take.
     */
    @Benchmark
    public long takeStubOnly() throws Throwable {
        if (TAKE == null) {
            throw new IllegalStateException("lock mode: no stubs; " + RseqRuntime.get().status().lockReason());
        }
        return (long) TAKE.invokeExact(AREA.descriptorAddress(), AREA.address(16), 0L, 0L);
    }

    /** PerCpuOps.compareAndStoreCurrent on a constant area (0 to 0), the take of {@code PerCpuSpinLock.lock()}. */
    @Benchmark
    public int takeOpsOnConstantArea() {
        return OPS.compareAndStoreCurrent(AREA, 16, 0, 0);
    }

    /** The reservation's stub alone (one slot), beside {@link #reserveOpsOnConstantArea}: the Java share of a ring's offer. */
    @Benchmark
    public long reserveStubOnly() throws Throwable {
        if (RESERVE == null) {
            throw new IllegalStateException("lock mode: no stubs; " + RseqRuntime.get().status().lockReason());
        }
        return (long) RESERVE.invokeExact(AREA.descriptorAddress(), AREA.address(24), AREA.address(32), 1L);
    }

    /** PerCpuOps.reserveCurrent on a constant area (one slot), the reservation of {@code PerCpuRingBuffer.offer}. */
    @Benchmark
    public long reserveOpsOnConstantArea() {
        return OPS.reserveCurrent(AREA, 24, 32, 1);
    }

    /** {@link #opsOnConstantArea} through instance fields (see {@link #fieldOps}). */
    @Benchmark
    public void opsThroughFields() {
        fieldOps.add(fieldArea, 8, 1);
    }

    /**
     * The take's stub through {@code FoldedStubs} from instance fields, no checks: beside {@link #takeStubOnly}
     * the cost of the fold's test, beside {@link #takeOpsThroughFields} the cost of the checks and the protocol.
     */
    @Benchmark
    public long takeFoldedStubThroughFields() throws Throwable {
        PerCpuArea a = fieldArea;
        return (long) FoldedStubs.CURRENT_LOAD_COMPARE_STORE.invokeExact(fieldStubs, a.descriptorAddress(), a.address(16),
                0L, 0L);
    }

    /** {@link #takeOpsOnConstantArea} through instance fields. */
    @Benchmark
    public int takeOpsThroughFields() {
        return fieldOps.compareAndStoreCurrent(fieldArea, 16, 0, 0);
    }

    /** {@link #reserveOpsOnConstantArea} through instance fields. */
    @Benchmark
    public long reserveOpsThroughFields() {
        return fieldOps.reserveCurrent(fieldArea, 24, 32, 1);
    }

    /** PerCpuOps.currentIndex on a constant area: the region a per-CPU structure's operation starts from. */
    @Benchmark
    public int currentIndex() {
        return OPS.currentIndex(AREA);
    }

    @Benchmark
    public long emptyDowncall() throws Throwable {
        if (NOTHING == null) {
            throw new IllegalStateException("lock mode: no stubs; " + RseqRuntime.get().status().lockReason());
        }
        return (long) NOTHING.invokeExact();
    }
}
