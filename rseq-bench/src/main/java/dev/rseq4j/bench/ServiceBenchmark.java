package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuCounter;
import dev.rseq4j.collections.PerCpuObjectPool;
import dev.rseq4j.collections.PerCpuRingBuffer;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpscArrayQueue;
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

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * A benchmark shaped like a user's service: every invocation starts {@value #TASKS_PER_BATCH} virtual
 * threads ({@link Executors#newVirtualThreadPerTaskExecutor()}, closed at the end: it waits for all),
 * each doing a small unit of work, and reports the throughput of the whole program in tasks per
 * second ({@link OperationsPerInvocation}): thread creation, scheduling, the work, the shared
 * structures and, in the full variant, the consumer catching up are all in the figure.
 *
 * <p>One task: {@value #ROUNDS} rounds of a 64-bit mix (a few hundred nanoseconds of computation, about
 * 250 ns on a 2-core x86_64 test machine,
 * whose result feeds the counters, so it cannot be removed); three counters updated together (requests,
 * bytes, a checksum of the result: ours as one {@link PerCpuCounter.Group} call, the peers as three adds); and with {@code work=full}, a 256-byte buffer taken from a pool, 16 bytes
 * of it filled, an event built from it handed to a ring that one consumer thread drains, and the buffer
 * given back. An offer to a full ring yields the virtual thread and retries: nothing is dropped.
 *
 * <p>Implementations ({@code impl}):
 * <ul>
 *   <li>{@code rseq}: a {@link PerCpuCounter.Group} of three, {@link PerCpuObjectPool}, {@link PerCpuRingBuffer}
 *       ({@value #RING} per CPU);</li>
 *   <li>{@code jdk}: {@link LongAdder}, a {@link ConcurrentLinkedQueue} of buffers (new on empty) and JCTools'
 *       {@link MpscArrayQueue} ({@value #RING}), the queue ours replaces. A {@code ThreadLocal} pool is
 *       no peer here: every task is a new virtual thread, so it would never reuse a buffer;</li>
 *   <li>{@code atomic}: the simplest code: {@link AtomicLong}, {@code new byte[256]} per task,
 *       {@link ConcurrentLinkedQueue} as the ring.</li>
 *   <li>attribution runs, not in the default list (pass {@code -p impl=...}): {@code countersOnly},
 *       {@code poolOnly}, {@code ringOnly}: {@code jdk} with one structure ours, so that
 *       {@code x / jdk} is that structure's share of the service's ratio.</li>
 * </ul>
 *
 * <p>The benchmark cannot cheat: at the end of every iteration each counter must hold exactly what the
 * tasks of all invocations so far added (requests = tasks, bytes and checksum precomputed), and in the
 * full variant the consumer must have received every event exactly once with the bytes its task wrote
 * into the buffer (a buffer held by two tasks at once would show there); otherwise the run fails.
 *
 * <p>{@code carriers}: the virtual-thread scheduler's parallelism, which only a JVM flag sets;
 * {@code CounterReport --service} runs each value in a JVM started with
 * {@code -Djdk.virtualThreadScheduler.parallelism=N}. 0 (the default, for plain JMH runs) keeps the
 * JDK's default (one carrier per CPU); any other value must match the flag, or the run fails.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(ServiceBenchmark.TASKS_PER_BATCH)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class ServiceBenchmark {
    /** Virtual threads (tasks) per invocation. */
    public static final int TASKS_PER_BATCH = 10_000;
    /** Rounds of the mix per task: a few hundred nanoseconds. */
    static final int ROUNDS = 100;
    /** Buffer size of the pools. */
    static final int BUFFER = 256;
    /** Bytes of the buffer a task fills. */
    static final int FILLED = 16;
    /** Capacity of the bounded rings (per CPU for ours, as in {@link RingBenchmarks}). */
    static final int RING = 4096;
    /** The implementations, ours first. */
    static final String[] IMPLS = {"rseq", "jdk", "atomic"};

    @Param({"rseq", "jdk", "atomic"})
    String impl;

    @Param({"counters", "full"})
    String work;

    @Param({"0"})
    int carriers;

    /** The three counters as the tasks see them: one update of all three, and each one's sum. */
    interface Counters {
        void add(long requests, long bytes, long checksum);

        long sum(int counter);
    }

    /** A multi-producer, single-consumer queue. */
    interface Ring {
        boolean offer(Event e);

        int drain(Consumer<Event> c, int limit);
    }

    /** What a task hands to the consumer: its number, its result and one byte read back from its buffer. */
    record Event(int task, long hash, byte fromBuffer) {
    }

    /** Requests (0), bytes (1) and the checksum (2). */
    Counters counters;
    BufferPools.Pool<byte[]> pool;
    Ring ring;
    boolean full;

    /** Per batch: the sum of the bytes counter and of the checksum counter. */
    long bytesPerBatch;
    long checksumPerBatch;
    /** Invocations completed (the JMH thread only). */
    long batches;

    Thread consumer;
    volatile boolean running;
    /** Events consumed and the consumer's checksum of their results; written by the consumer only. */
    volatile long consumed;
    volatile long consumedChecksum;
    /** Events whose byte from the buffer is not the one their task wrote. */
    volatile long torn;

    @Setup(Level.Trial)
    public void setUp() {
        String flag = System.getProperty("jdk.virtualThreadScheduler.parallelism");
        if (carriers != 0 && !String.valueOf(carriers).equals(flag)) {
            throw new IllegalStateException("carriers=" + carriers + " needs -Djdk.virtualThreadScheduler.parallelism="
                    + carriers + " (CounterReport --service passes it), got " + flag);
        }
        full = work.equals("full");
        switch (impl) {
            case "rseq" -> use(perCpuGroup(), perCpuPool(), perCpuRing());
            case "jdk" -> use(longAdders(), queuePool(), mpscRing());
            // NOTE: the attribution runs (not in the default list): the jdk version with one of our
            // structures, so that each structure's share of the service gap is a number (x / jdk).
            case "countersOnly" -> use(perCpuGroup(), queuePool(), mpscRing());
            case "poolOnly" -> use(longAdders(), perCpuPool(), mpscRing());
            case "ringOnly" -> use(longAdders(), queuePool(), perCpuRing());
            case "atomic" -> use(atomics(), newBuffers(), linkedRing());
            default -> throw new IllegalArgumentException("impl must be one of rseq, jdk, atomic, countersOnly,"
                    + " poolOnly, ringOnly; was " + impl);
        }
        for (int t = 0; t < TASKS_PER_BATCH; t++) {
            bytesPerBatch += length(t);
            checksumPerBatch += compute(t) & 0xFF;
        }
        if (full) {
            running = true;
            consumer = Thread.ofPlatform().name("service-consumer").daemon().start(this::consume);
        }
    }

    /** Both MPSC queues implement JCTools' {@link MessagePassingQueue}: one adapter serves them. */
    private static Ring ring(MessagePassingQueue<Event> q) {
        return new Ring() {
            @Override
            public boolean offer(Event e) {
                return q.offer(e);
            }

            @Override
            public int drain(Consumer<Event> c, int limit) {
                return q.drain(c::accept, limit);
            }
        };
    }

    private void use(Counters c, BufferPools.Pool<byte[]> p, Ring r) {
        counters = c;
        pool = p;
        ring = r;
    }

    /**
     * Ours: {@link PerCpuObjectPool} of 256-byte buffers, sized for a batch's tasks. A task holds its
     * buffer while it waits for room in the ring, so up to a batch of buffers are in use at once; the
     * jdk pool grows to that by itself. With the default size (8 per CPU) nearly every acquire would
     * make a buffer beyond the size, and the run would compare allocation with pooling.
     */
    private static BufferPools.Pool<byte[]> perCpuPool() {
        return BufferPools.perCpu(() -> new byte[BUFFER], TASKS_PER_BATCH);
    }

    /** The jdk pool: a {@link ConcurrentLinkedQueue} of buffers, a new one when it is empty. */
    private static BufferPools.Pool<byte[]> queuePool() {
        return BufferPools.queue(() -> new byte[BUFFER]);
    }

    /** No pool: a new buffer per task, left to the collector. */
    private static BufferPools.Pool<byte[]> newBuffers() {
        return BufferPools.unpooled(() -> new byte[BUFFER]);
    }

    private static Ring perCpuRing() {
        return ring(new PerCpuRingBuffer<>(RING));
    }

    private static Ring mpscRing() {
        return ring(new MpscArrayQueue<>(RING));
    }

    /** An unbounded {@link ConcurrentLinkedQueue} as the ring. */
    private static Ring linkedRing() {
        ConcurrentLinkedQueue<Event> q = new ConcurrentLinkedQueue<>();
        return new Ring() {
            @Override
            public boolean offer(Event e) {
                return q.offer(e);
            }

            @Override
            public int drain(Consumer<Event> c, int limit) {
                int n = 0;
                Event e;
                while (n < limit && (e = q.poll()) != null) {
                    c.accept(e);
                    n++;
                }
                return n;
            }
        };
    }

    /** Ours: the three counters as one group, updated in one call (one downcall). */
    private static Counters perCpuGroup() {
        PerCpuCounter.Group g = PerCpuCounter.group(3);
        return new Counters() {
            @Override
            public void add(long requests, long bytes, long checksum) {
                g.add(requests, bytes, checksum);
            }

            @Override
            public long sum(int counter) {
                return g.counter(counter).sum();
            }
        };
    }

    private static Counters longAdders() {
        LongAdder[] c = {new LongAdder(), new LongAdder(), new LongAdder()};
        return new Counters() {
            @Override
            public void add(long requests, long bytes, long checksum) {
                c[0].add(requests);
                c[1].add(bytes);
                c[2].add(checksum);
            }

            @Override
            public long sum(int counter) {
                return c[counter].sum();
            }
        };
    }

    private static Counters atomics() {
        AtomicLong[] c = {new AtomicLong(), new AtomicLong(), new AtomicLong()};
        return new Counters() {
            @Override
            public void add(long requests, long bytes, long checksum) {
                c[0].addAndGet(requests);
                c[1].addAndGet(bytes);
                c[2].addAndGet(checksum);
            }

            @Override
            public long sum(int counter) {
                return c[counter].get();
            }
        };
    }

    /** The unit of computation: {@value #ROUNDS} rounds of a 64-bit mix (MurmurHash3's finaliser steps). */
    static long compute(int task) {
        long h = task * 0x9E3779B97F4A7C15L;
        for (int r = 0; r < ROUNDS; r++) {
            h ^= h >>> 33;
            h *= 0xFF51AFD7ED558CCDL;
        }
        return h;
    }

    /** The request's size, as the bytes counter counts it. */
    static int length(int task) {
        return 100 + (task & 63);
    }

    /** One task: the work of one request. */
    void task(int t) {
        long h = compute(t);
        counters.add(1, length(t), h & 0xFF);
        if (full) {
            Object taken = pool.take();
            byte[] b = pool.buffer(taken);
            for (int i = 0; i < FILLED; i++) {
                b[i] = (byte) (h >>> (8 * (i & 7)));
            }
            Event e = new Event(t, h, b[t & (FILLED - 1)]);
            while (!ring.offer(e)) {
                Thread.yield();   // ring full: let the consumer (and other tasks) run
            }
            pool.give(taken);
        }
    }

    /** The consumer: drains the ring, checks each event, spins briefly then parks when idle. */
    private void consume() {
        long n = 0;
        long sum = 0;
        long bad = 0;
        long[] acc = new long[3];
        Consumer<Event> check = e -> {
            acc[0]++;
            acc[1] += e.hash() & 0xFF;
            if (e.fromBuffer() != (byte) (e.hash() >>> (8 * ((e.task() & (FILLED - 1)) & 7)))) {
                acc[2]++;
            }
        };
        int idle = 0;
        while (running) {
            int got = ring.drain(check, 256);
            if (got > 0) {
                n = acc[0];
                sum = acc[1];
                bad = acc[2];
                consumedChecksum = sum;
                torn = bad;
                consumed = n;   // last: a reader that sees n sees the checksum of those n
                idle = 0;
            } else if (++idle < 200) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
    }

    @Benchmark
    public void batch() {
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < TASKS_PER_BATCH; i++) {
                int t = i;
                ex.execute(() -> task(t));
            }
        }   // close() waits for every task
        batches++;
        if (full) {
            long want = batches * TASKS_PER_BATCH;
            while (consumed < want) {   // the program's work ends when the consumer has every event
                Thread.onSpinWait();
            }
        }
    }

    /** Every counter exact, every event delivered once and intact: else the figure is void. */
    @TearDown(Level.Iteration)
    public void check() {
        long tasks = batches * TASKS_PER_BATCH;
        expect("requests", counters.sum(0), tasks);
        expect("bytes", counters.sum(1), batches * bytesPerBatch);
        expect("checksum", counters.sum(2), batches * checksumPerBatch);
        if (full) {
            long n = consumed;
            expect("events consumed", n, tasks);
            expect("consumer checksum", consumedChecksum, batches * checksumPerBatch);
            expect("events with a byte not written by their task", torn, 0);
        }
    }

    private void expect(String what, long got, long want) {
        if (got != want) {
            throw new IllegalStateException(impl + "/" + work + ": " + what + " = " + got + ", expected " + want
                    + " after " + batches + " batches of " + TASKS_PER_BATCH);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        running = false;
        if (consumer != null) {
            consumer.join();
        }
        if (pool != null && !pool.stats().isEmpty()) {
            System.out.println("pool: " + pool.stats());
        }
    }

    /** The legend label of an implementation in the service charts and tables. */
    static String label(String impl, String work) {
        boolean full = work.equals("full");
        return switch (impl) {
            case "rseq" -> full ? "rseq: PerCpuCounter.Group, PerCpuObjectPool, PerCpuRingBuffer (ours)"
                    : "rseq: PerCpuCounter.Group (ours)";
            case "jdk" -> full ? "jdk: LongAdder, ConcurrentLinkedQueue pool, JCTools MpscArrayQueue" : "jdk: LongAdder";
            case "atomic" -> full ? "atomic: AtomicLong, new byte[], ConcurrentLinkedQueue" : "atomic: AtomicLong";
            default -> impl;
        };
    }
}
