package dev.rseq4j.collections;

import dev.rseq4j.core.Rseq;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The headline: 100,000 virtual threads, all alive at once, each acquiring and releasing 10 times.
 * A per-CPU pool retains at most its configured size; a {@code ThreadLocal} cache, the usual pool for
 * platform threads, retains one object per thread. Both run the same workload (short leases, a
 * {@code Thread.yield()} between some of them so that the threads interleave), and every thread
 * stays alive until the retained objects are counted (as 100,000 live connections would).
 *
 * <p>Prints one line each, for the docs:
 * <pre>
 * VIRTUAL-THREADS threads=100000 iterations=10 PerCpuObjectPool retained=16 (maxSize=16) ThreadLocal pool retained=100000
 * VIRTUAL-THREADS threads=100000 iterations=10 PerCpuMemoryPool carved=32 blocks (maxBlocks=64, committed=...)
 * </pre>
 */
class VirtualThreadPoolTest {
    private static final int THREADS = 100_000;
    private static final int ITERATIONS = 10;

    /** A pooled object with an ownership flag, as in {@link PerCpuObjectPoolTest}. */
    private static final class Buffer {
        final AtomicInteger holder = new AtomicInteger(-1);
        final byte[] bytes = new byte[64];
    }

    /** The pool a platform-thread program would write: one cache per thread. */
    private static final class ThreadLocalPool {
        final Supplier<Buffer> factory;
        /** Objects resting in the caches of threads: what the pool retains. */
        final AtomicInteger retained = new AtomicInteger();
        final ThreadLocal<ArrayDeque<Buffer>> cache = ThreadLocal.withInitial(ArrayDeque::new);

        ThreadLocalPool(Supplier<Buffer> factory) {
            this.factory = factory;
        }

        Buffer acquire() {
            Buffer b = cache.get().pollFirst();
            if (b == null) {
                return factory.get();
            }
            retained.decrementAndGet();
            return b;
        }

        void release(Buffer b) {
            cache.get().addFirst(b);
            retained.incrementAndGet();
        }
    }

    /** A workload step per virtual thread; every thread then waits on {@code hold} until counted. */
    @FunctionalInterface
    private interface Step {
        void run(int thread, int iteration) throws Exception;
    }

    /**
     * Starts {@link #THREADS} virtual threads that run {@code step} {@link #ITERATIONS} times, waits
     * until all have finished their steps (all still alive), runs {@code whileAlive}, then lets them end.
     */
    private static void runAllAlive(Step step, Runnable whileAlive) throws InterruptedException {
        CountDownLatch stepped = new CountDownLatch(THREADS);
        CountDownLatch hold = new CountDownLatch(1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>(THREADS);
        try {
            for (int t = 0; t < THREADS; t++) {
                int me = t;
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        for (int i = 0; i < ITERATIONS && error.get() == null; i++) {
                            step.run(me, i);
                        }
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                    } finally {
                        stepped.countDown();
                    }
                    try {
                        hold.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }));
            }
            stepped.await();
            assertNull(error.get(), () -> "a virtual thread failed: " + error.get());
            whileAlive.run();
        } finally {
            hold.countDown();
            for (Thread t : threads) {
                t.join();
            }
        }
    }

    private static Buffer take(Buffer b, int me) {
        if (!b.holder.compareAndSet(-1, me)) {
            throw new AssertionError("buffer leased to thread " + me + " while held by thread " + b.holder.get());
        }
        return b;
    }

    private static void give(Buffer b, int me) {
        if (!b.holder.compareAndSet(me, -1)) {
            throw new AssertionError("buffer of thread " + me + " taken by thread " + b.holder.get());
        }
    }

    @Test
    void perCpuObjectPoolRetainsItsSizeWhereAThreadLocalPoolRetainsAnObjectPerThread() throws Exception {
        AtomicInteger factoryCalls = new AtomicInteger();
        Supplier<Buffer> factory = () -> {
            factoryCalls.incrementAndGet();
            return new Buffer();
        };
        PerCpuObjectPool<Buffer> pool = PerCpuObjectPool.builder(factory).onRelease(b -> b.bytes[0] = 0).build();
        int maxSize = pool.maxSize();
        assertEquals(8 * Rseq.possibleCpus(), maxSize, "default size");
        long start = System.nanoTime();
        int[] perCpu = new int[2];
        runAllAlive((me, i) -> {
            try (PerCpuObjectPool.Lease<Buffer> lease = pool.acquire()) {
                Buffer b = take(lease.get(), me);
                b.bytes[0]++;
                give(b, me);
            }
            if (i % 4 == 3) {
                Thread.yield();     // let the other virtual threads interleave with this one's iterations
            }
        }, () -> {
            perCpu[0] = pool.created();
            perCpu[1] = pool.idle();
        });
        double perCpuSeconds = (System.nanoTime() - start) / 1e9;
        int perCpuFactoryCalls = factoryCalls.getAndSet(0);

        ThreadLocalPool local = new ThreadLocalPool(factory);
        start = System.nanoTime();
        int[] tl = new int[1];
        runAllAlive((me, i) -> {
            Buffer b = take(local.acquire(), me);
            b.bytes[0]++;
            give(b, me);
            b.bytes[0] = 0;
            local.release(b);
            if (i % 4 == 3) {
                Thread.yield();
            }
        }, () -> tl[0] = local.retained.get());
        double localSeconds = (System.nanoTime() - start) / 1e9;

        System.out.printf("VIRTUAL-THREADS threads=%d iterations=%d PerCpuObjectPool retained=%d (maxSize=%d), "
                        + "ThreadLocal pool retained=%d%n", THREADS, ITERATIONS, perCpu[0], maxSize, tl[0]);
        System.out.printf("VIRTUAL-THREADS detail: PerCpuObjectPool idle=%d factoryCalls=%d seconds=%.2f; "
                        + "ThreadLocal pool factoryCalls=%d seconds=%.2f%n", perCpu[1], perCpuFactoryCalls, perCpuSeconds,
                factoryCalls.get(), localSeconds);
        assertTrue(perCpu[0] <= maxSize, "created() never exceeds maxSize: " + perCpu[0]);
        assertEquals(perCpu[0], perCpu[1], "every pooled object back in the pool");
        assertEquals(THREADS, tl[0], "a ThreadLocal cache keeps one object per live thread");
        assertTrue(tl[0] >= 1000L * perCpu[0], "the ThreadLocal pool retained far more: " + tl[0] + " vs " + perCpu[0]);
        assertTrue(perCpuFactoryCalls < THREADS / 10, "short leases are served by the pool, not the factory: "
                + perCpuFactoryCalls);
    }

    @Test
    void perCpuMemoryPoolCarvesAFewBlocksFor100000VirtualThreads() throws Exception {
        int maxBlocks = 64;
        try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(4096).maxBlocks(maxBlocks).build()) {
            long[] seen = new long[3];
            long start = System.nanoTime();
            runAllAlive((me, i) -> {
                // No yield while holding: more holders than maxBlocks would (rightly) be an OutOfMemoryError.
                MemorySegment block = pool.allocate();
                long prev = (long) PerCpuMemoryPoolTest.TAG.compareAndExchange(block, 0L, 0L, me + 1L);
                if (prev != 0) {
                    throw new AssertionError("block held by " + (prev - 1) + " allocated to " + me);
                }
                block.set(ValueLayout.JAVA_INT, 8, me);
                if (block.get(ValueLayout.JAVA_INT, 8) != me
                        || !PerCpuMemoryPoolTest.TAG.compareAndSet(block, 0L, me + 1L, 0L)) {
                    throw new AssertionError("block of " + me + " taken");
                }
                pool.free(block);
                if (i % 4 == 3) {
                    Thread.yield();
                }
            }, () -> {
                seen[0] = pool.carved();
                seen[1] = pool.freeBlocks();
                seen[2] = pool.committedBytes();
            });
            System.out.printf("VIRTUAL-THREADS threads=%d iterations=%d PerCpuMemoryPool carved=%d blocks "
                            + "(maxBlocks=%d, blockSize=4096, committed=%d bytes) seconds=%.2f%n", THREADS, ITERATIONS,
                    seen[0], maxBlocks, seen[2], (System.nanoTime() - start) / 1e9);
            assertTrue(seen[0] <= maxBlocks, "carved blocks stay within maxBlocks: " + seen[0]);
            assertEquals(seen[0], seen[1], "every carved block is free again");
        }
    }
}
