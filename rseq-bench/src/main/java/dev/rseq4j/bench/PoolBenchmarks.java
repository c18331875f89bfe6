package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuFreeList;
import dev.rseq4j.collections.PerCpuMemoryPool;
import dev.rseq4j.collections.PerCpuObjectPool;
import dev.rseq4j.core.percpu.ArrayStack;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import org.jctools.queues.MpmcArrayQueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * Pools side by side: one shared pool per implementation, and every benchmark thread takes an
 * object (or block), hands it to the Blackhole and gives it back, at 1, 2, 4 and 8 threads
 * ({@code CounterReport --pools} runs them all and prints ns/op with ours / peer ratios).
 *
 * <p>Object pools ({@code obj*}), a {@link Payload} of 64 bytes: {@link PerCpuObjectPool} (default
 * builder: 8 objects per CPU), a {@code ThreadLocal<ArrayDeque>} stack per thread (the usual
 * hand-written pool; no sharing, so the floor for platform threads), a JCTools
 * {@link MpmcArrayQueue} and a {@link ConcurrentLinkedQueue} of pre-made objects (new on empty, drop
 * on full), and plain {@code new} (allocation plus the GC's share, which JMH charges to the threads).
 *
 * <p>Memory pools ({@code mem*}), 256-byte blocks: {@link PerCpuMemoryPool}; {@code MpmcArrayQueue}
 * and {@code ConcurrentLinkedQueue} of pre-made 256-byte slices of one shared arena (a pool that
 * runs dry throws: it is sized for 8 threads); {@code Arena.ofConfined()} per operation (allocate,
 * close: the common FFM idiom for a scratch buffer; malloc+free underneath plus the arena's own
 * objects); {@code Arena.ofShared()} per operation, the exact analogue of a block any thread may
 * access, as ours are (its close is a handshake with every thread, so expect it far behind);
 * and {@code malloc}/{@code free} called through FFM downcalls (critical: no thread-state
 * transition, as the library's own stubs). One shared {@code Arena.ofShared()} that only allocates is
 * not a peer: it never frees.
 *
 * <p>The zero-allocation claim of {@link PerCpuObjectPool} (a pooled object's lease is made once
 * and reused), checked: run
 * <pre>
 *   java --enable-native-access=ALL-UNNAMED -jar rseq-bench/target/benchmarks.jar 'PoolBenchmarks.objPerCpuPool$' -prof gc -t 1
 * </pre>
 * and read {@code gc.alloc.rate.norm}: it should be about 0 B/op for acquire+close (as for
 * {@code objThreadLocal}), against 64 B/op for {@code objNew}. Anything more is an allocation on the
 * acquire or close path that C2 did not eliminate (give it the full warm-up: the figure of a 1-second
 * run is not steady state). {@code CounterReport --pools} prints this figure for every benchmark.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class PoolBenchmarks {
    /** Blocks of the memory pools. */
    static final long BLOCK = 256;
    /** Objects or blocks pre-made for the queue pools: far more than 8 threads hold at once. */
    static final int PREFILL = 1024;

    /** 12-byte header + 6 longs + 1 int: 64 bytes with compressed class pointers. */
    public static final class Payload {
        long a, b, c, d, e, f;
        int g;
    }

    /** The object pools, one of each, shared by all threads. */
    @State(Scope.Benchmark)
    public static class Objects {
        PerCpuObjectPool<Payload> perCpu;
        MpmcArrayQueue<Payload> mpmc;
        ConcurrentLinkedQueue<Payload> clq;
        ThreadLocal<ArrayDeque<Payload>> local;

        @Setup
        public void setUp() {
            perCpu = PerCpuObjectPool.builder(Payload::new).build();
            mpmc = new MpmcArrayQueue<>(PREFILL);
            clq = new ConcurrentLinkedQueue<>();
            for (int i = 0; i < PREFILL; i++) {
                mpmc.offer(new Payload());
                clq.offer(new Payload());
            }
            local = ThreadLocal.withInitial(() -> new ArrayDeque<>(16));
        }
    }

    @Benchmark
    public void objPerCpuPool(Objects s, Blackhole bh) {
        try (PerCpuObjectPool.Lease<Payload> lease = s.perCpu.acquire()) {
            bh.consume(lease.get());
        }
    }

    /** The usual ThreadLocal pool: a stack per thread, up to 8 idle objects (as ours per CPU). */
    @Benchmark
    public void objThreadLocal(Objects s, Blackhole bh) {
        ArrayDeque<Payload> stack = s.local.get();
        Payload p = stack.pollLast();
        if (p == null) {
            p = new Payload();
        }
        bh.consume(p);
        stack = s.local.get();                  // released where acquired: the thread may differ in general
        if (stack.size() < 8) {
            stack.addLast(p);
        }
    }

    @Benchmark
    public void objMpmcQueue(Objects s, Blackhole bh) {
        queuePool(s.mpmc, bh);
    }

    @Benchmark
    public void objConcurrentLinkedQueue(Objects s, Blackhole bh) {
        queuePool(s.clq, bh);
    }

    @Benchmark
    public void objNew(Blackhole bh) {
        bh.consume(new Payload());
    }

    private static void queuePool(Queue<Payload> q, Blackhole bh) {
        Payload p = q.poll();
        if (p == null) {
            p = new Payload();
        }
        bh.consume(p);
        q.offer(p);                             // dropped when full (never, at PREFILL)
    }

    /** The memory pools, one of each, shared by all threads. */
    @State(Scope.Benchmark)
    public static class Blocks {
        static final MethodHandle MALLOC;
        static final MethodHandle FREE;

        static {
            Linker linker = Linker.nativeLinker();
            MALLOC = linker.downcallHandle(linker.defaultLookup().find("malloc").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), Linker.Option.critical(false));
            FREE = linker.downcallHandle(linker.defaultLookup().find("free").orElseThrow(),
                    FunctionDescriptor.ofVoid(ValueLayout.ADDRESS), Linker.Option.critical(false));
        }

        PerCpuMemoryPool perCpu;
        Arena slices;
        MpmcArrayQueue<MemorySegment> mpmc;
        ConcurrentLinkedQueue<MemorySegment> clq;

        @Setup
        public void setUp() {
            perCpu = PerCpuMemoryPool.builder(BLOCK).maxBlocks(4 * PREFILL).build();
            slices = Arena.ofShared();
            MemorySegment all = slices.allocate(2 * PREFILL * BLOCK, 64);
            mpmc = new MpmcArrayQueue<>(PREFILL);
            clq = new ConcurrentLinkedQueue<>();
            for (int i = 0; i < PREFILL; i++) {
                mpmc.offer(all.asSlice(i * BLOCK, BLOCK));
                clq.offer(all.asSlice((PREFILL + i) * BLOCK, BLOCK));
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            perCpu.close();
            slices.close();
        }
    }

    @Benchmark
    public void memPerCpuPool(Blocks s, Blackhole bh) {
        MemorySegment b = s.perCpu.allocate();
        bh.consume(b);
        s.perCpu.free(b);
    }

    @Benchmark
    public void memMpmcQueue(Blocks s, Blackhole bh) {
        segmentPool(s.mpmc, bh);
    }

    @Benchmark
    public void memConcurrentLinkedQueue(Blocks s, Blackhole bh) {
        segmentPool(s.clq, bh);
    }

    private static void segmentPool(Queue<MemorySegment> q, Blackhole bh) {
        MemorySegment b = q.poll();
        if (b == null) {
            throw new IllegalStateException("pool ran dry: more than " + PREFILL + " blocks out");
        }
        bh.consume(b);
        q.offer(b);
    }

    @Benchmark
    public void memArenaConfined(Blackhole bh) {
        try (Arena a = Arena.ofConfined()) {
            bh.consume(a.allocate(BLOCK));
        }
    }

    @Benchmark
    public void memArenaShared(Blackhole bh) {
        try (Arena a = Arena.ofShared()) {
            bh.consume(a.allocate(BLOCK));
        }
    }

    @Benchmark
    public void memMalloc(Blackhole bh) throws Throwable {
        MemorySegment b = (MemorySegment) Blocks.MALLOC.invokeExact(BLOCK);
        bh.consume(b);
        Blocks.FREE.invokeExact(b);
    }

    /**
     * The layers under {@code objPerCpuPool}, to attribute its cost: the free-list's pop and push (with
     * the per-handle state and the fences), and the core's array pop and push alone (two downcalls).
     */
    @State(Scope.Benchmark)
    public static class Layers {
        static final PerCpuOps OPS = PerCpuOps.cpuIndexed();
        PerCpuFreeList list;
        ArrayStack stack;

        @Setup
        public void setUp() {
            list = PerCpuFreeList.builder(64).batchSize(4).build();
            for (int h = 0; h < 64; h++) {
                list.push(h);
            }
            stack = new ArrayStack(PerCpuArea.forPossibleCpus(OPS.indexing(), 128), 8, 16, 8);
            for (int r = 0; r < stack.area().regions(); r++) {
                for (int e = 0; e < 4; e++) {
                    stack.area().setLongRelease(r, 16 + 8L * e, e);
                }
                stack.area().setLongRelease(r, 8, 4);
            }
        }
    }

    @Benchmark
    public void layerFreeListPopPush(Layers s, Blackhole bh) {
        int h = s.list.pop();
        bh.consume(h);
        s.list.push(h);
    }

    @Benchmark
    public void layerArrayPopPush(Layers s, Blackhole bh) {
        int e = Layers.OPS.arrayPop(s.stack);
        bh.consume(e);
        Layers.OPS.arrayPush(s.stack, e);
    }
}
