package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuObjectPool;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * Virtual threads that block while they hold a pooled buffer, as a service's request handlers do:
 * every invocation starts {@value #THREADS} virtual threads, each of which {@value #ROUNDS} times takes
 * a 256-byte buffer, writes its number into it, blocks ({@code hold=yield}: {@link Thread#yield()};
 * {@code hold=park}: {@link LockSupport#parkNanos} for {@value #PARK_NANOS} ns), reads its number back
 * and gives the buffer back. A virtual thread that blocks is usually resumed on another carrier, so
 * takes and gives happen on different CPUs: the case that drains one CPU's share of a pool and fills
 * another's. Throughput in leases per second.
 *
 * <p>Implementations ({@code impl}):
 * <ul>
 *   <li>{@code perCpu}: {@link PerCpuObjectPool}, {@code maxSize} {@value #MAX_SIZE} (as many buffers as
 *       leases can be outstanding at once, plus a few);</li>
 *   <li>{@code clq}: a {@link ConcurrentLinkedQueue} of buffers, a new one when it is empty (unbounded:
 *       it keeps every buffer it was ever given);</li>
 *   <li>{@code threadLocal}: a {@code ThreadLocal} stack of buffers: each virtual thread starts with an
 *       empty one, so it makes a buffer for its first round and reuses it for the others.</li>
 * </ul>
 * After every iteration the buffers each implementation made per lease are printed
 * ({@code created/lease}): the pools' retention. A buffer held by two threads at once fails the run
 * (a thread reads back another's number).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(LeaseBlockingBenchmark.LEASES)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class LeaseBlockingBenchmark {
    static final int THREADS = 1000;
    static final int ROUNDS = 10;
    static final int LEASES = THREADS * ROUNDS;
    static final int MAX_SIZE = THREADS + 24;
    static final int BUFFER = 256;
    static final long PARK_NANOS = 20_000;

    @Param({"perCpu", "clq", "threadLocal"})
    String impl;

    @Param({"yield", "park"})
    String hold;


    BufferPools.Pool<ByteBuffer> pool;
    final LongAdder created = new LongAdder();
    final LongAdder torn = new LongAdder();
    long leases;

    @Setup(Level.Trial)
    public void setUp() {
        pool = switch (impl) {
            case "perCpu" -> BufferPools.perCpu(this::newBuffer, MAX_SIZE);
            case "clq" -> BufferPools.queue(this::newBuffer);
            case "threadLocal" -> BufferPools.threadLocal(this::newBuffer);
            default -> throw new IllegalArgumentException("impl must be perCpu, clq or threadLocal, was " + impl);
        };
        if (!hold.equals("yield") && !hold.equals("park")) {
            throw new IllegalArgumentException("hold must be yield or park, was " + hold);
        }
    }

    private ByteBuffer newBuffer() {
        created.increment();
        return ByteBuffer.allocate(BUFFER);
    }

    @Benchmark
    public void leases() {
        boolean park = hold.equals("park");
        try (ExecutorService tasks = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < THREADS; t++) {
                int me = t;
                tasks.submit(() -> {
                    for (int r = 0; r < ROUNDS; r++) {
                        Object taken = pool.take();
                        ByteBuffer b = pool.buffer(taken);
                        b.putInt(0, me);
                        if (park) {
                            LockSupport.parkNanos(PARK_NANOS);
                        } else {
                            Thread.yield();
                        }
                        if (b.getInt(0) != me) {
                            torn.increment();       // another thread held this buffer meanwhile
                        }
                        pool.give(taken);
                    }
                });
            }
        }
        leases += LEASES;
    }

    @TearDown(Level.Iteration)
    public void check() {
        if (torn.sum() != 0) {
            throw new IllegalStateException(impl + ": " + torn.sum() + " buffers were held by two threads at once");
        }
        System.out.printf("%n[lease-blocking] impl=%s hold=%s leases=%d created=%d created/lease=%.4f%n", impl, hold,
                leases, created.sum(), leases == 0 ? 0.0 : (double) created.sum() / leases);
    }
}
