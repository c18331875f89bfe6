package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.TimeSliceExtension;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

/**
 * Run by {@link PoolForkedModesTest#anOperationThatThrowsLeavesNothingStranded} under strace with
 * membarrier failing from its fourth call and {@code sched_setaffinity} denied, so that every slow
 * path's fence fails and the operation throws {@link IllegalStateException}. Each structure runs on
 * operations that force a slow path about once in {@value #SLOW_PATH_EVERY} calls, from
 * {@value #THREADS} threads for {@value #MILLIS} ms; every call that throws is retried until it
 * succeeds (what a caller that handles the exception does), and then the accounting must be exact:
 * every handle, object and block back on a list, every element and record delivered once, every
 * counted add in the sum, no lock held. Prints
 * {@code STRANDED mode=.. freeList=PASS(thrown=N) objectPool=.. memoryPool=.. ring=.. recordRing=.. counter=.. perCpu=..}
 * ({@code FAIL(<reason>)} for a part that failed) and exits 0 when every part passed.
 */
public final class FenceDeniedProbe {
    static final int SLOW_PATH_EVERY = 16;
    static final int THREADS = 3;
    static final long MILLIS = 300;
    private static final int ITEMS = 64;

    public static void main(String[] args) throws Exception {
        StringBuilder line = new StringBuilder("STRANDED mode=").append(Rseq.status().mode());
        boolean pass = true;
        pass &= part(line, "freeList", FenceDeniedProbe::freeList);
        pass &= part(line, "objectPool", FenceDeniedProbe::objectPool);
        pass &= part(line, "memoryPool", FenceDeniedProbe::memoryPool);
        pass &= part(line, "ring", FenceDeniedProbe::ring);
        pass &= part(line, "recordRing", FenceDeniedProbe::recordRing);
        pass &= part(line, "counter", FenceDeniedProbe::counter);
        pass &= part(line, "perCpu", FenceDeniedProbe::perCpu);
        System.out.println(line);
        System.exit(pass ? 0 : 1);
    }

    /** Fresh operations whose slow paths, forced now and then, all need a fence. */
    private static PerCpuOps ops() {
        return OpsVariant.of(CpuIndexing.CPU).forcingSlowPathEvery(SLOW_PATH_EVERY).create();
    }

    /**
     * {@link #ops()} for the rings, whose producers act on the region {@code currentIndex} named: a
     * random one here, so that their slow paths fence other CPUs too (a slow path on the CPU the
     * thread runs on needs no fence, so under this injection it never throws).
     */
    private static PerCpuOps wanderingOps() {
        return new PinnedOps(ops(), 0) {
            @Override
            public int currentIndex(PerCpuArea area) {
                return ThreadLocalRandom.current().nextInt(area.regions());
            }
        };
    }

    @FunctionalInterface
    private interface Part {
        /** Runs the part and returns how many calls threw; throws if the accounting is not exact. */
        long run() throws Exception;
    }

    private static boolean part(StringBuilder line, String name, Part part) {
        try {
            long thrown = part.run();
            if (thrown == 0 && Rseq.possibleCpus() > 1) {
                throw new AssertionError("no call threw: the injection did not reach this structure");
            }
            line.append(' ').append(name).append("=PASS(thrown=").append(thrown).append(')');
            return true;
        } catch (Throwable t) {
            line.append(' ').append(name).append("=FAIL(").append(String.valueOf(t).replace('\n', ' ')).append(')');
            return false;
        }
    }

    /** Calls {@code call} until it returns without throwing {@link IllegalStateException}, counting the throws. */
    private static <T> T retry(LongAdder thrown, Supplier<T> call) {
        while (true) {
            try {
                return call.get();
            } catch (IllegalStateException noFence) {
                if (!String.valueOf(noFence.getMessage()).contains("fallback fence")) {
                    throw noFence;      // not the injected failure: a real defect, let the part fail
                }
                thrown.increment();
            }
        }
    }

    private static void retryRun(LongAdder thrown, Runnable call) {
        retry(thrown, () -> {
            call.run();
            return null;
        });
    }

    /** Runs {@code body} on {@value #THREADS} threads until {@value #MILLIS} ms have passed; rethrows the first failure. */
    private static void onThreads(int threads, Runnable body) throws InterruptedException {
        long end = System.nanoTime() + MILLIS * 1_000_000;
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            started.add(Thread.ofPlatform().start(() -> {
                try {
                    while (System.nanoTime() < end && error.get() == null) {
                        body.run();
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            }));
        }
        for (Thread t : started) {
            t.join();
        }
        if (error.get() != null) {
            throw new AssertionError(error.get());
        }
    }

    /** Marks {@code item} held (fails if another thread holds it), then unmarks it. */
    private static void holdOnce(AtomicIntegerArray owner, int item) {
        if (!owner.compareAndSet(item, 0, 1)) {
            throw new AssertionError("item " + item + " handed out twice");
        }
        Thread.onSpinWait();
        owner.set(item, 0);
    }

    private static long freeList() throws InterruptedException {
        PerCpuFreeList list = new PerCpuFreeList(ops(), ITEMS, true, 4);
        AtomicIntegerArray owner = new AtomicIntegerArray(ITEMS);
        LongAdder thrown = new LongAdder();
        for (int h = 0; h < ITEMS; h++) {
            int handle = h;
            retryRun(thrown, () -> list.push(handle));      // a new list is empty: every handle taken
        }
        onThreads(THREADS, () -> {
            int h = retry(thrown, list::pop);
            if (h >= 0) {
                holdOnce(owner, h);
                retryRun(thrown, () -> list.push(h));
            }
        });
        check(list.freeCount() == ITEMS, "freeCount=" + list.freeCount() + " of " + ITEMS
                + " (inDepot=" + list.inDepot() + ")");
        for (int h = 0; h < ITEMS; h++) {
            check(list.isFree(h), "handle " + h + " is not free");
        }
        return thrown.sum();
    }

    private static long objectPool() throws InterruptedException {
        PerCpuObjectPool<Object> pool = PerCpuObjectPool.builder(Object::new).maxSize(ITEMS)
                .build(new PerCpuFreeList(ops(), ITEMS, false, 4));
        AtomicIntegerArray owner = new AtomicIntegerArray(ITEMS);
        LongAdder thrown = new LongAdder();
        onThreads(THREADS, () -> {
            PerCpuObjectPool.Lease<Object> lease = retry(thrown, pool::acquire);
            if (lease.pooled()) {
                holdOnce(owner, lease.slot());
            }
            retryRun(thrown, lease::close);
        });
        check(pool.idle() == pool.created(), "idle=" + pool.idle() + " created=" + pool.created());
        return thrown.sum();
    }

    private static long memoryPool() throws InterruptedException {
        try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(64).maxBlocks(ITEMS).capacityPerCpu(8)
                .build(new PerCpuFreeList(ops(), ITEMS, true, 4))) {
            AtomicIntegerArray owner = new AtomicIntegerArray(ITEMS);
            LongAdder thrown = new LongAdder();
            onThreads(THREADS, () -> {
                MemorySegment block;
                try {
                    block = retry(thrown, pool::allocate);
                } catch (OutOfMemoryError allTaken) {
                    return;
                }
                holdOnce(owner, (int) pool.indexOf(block));
                retryRun(thrown, () -> pool.free(block));
            });
            check(pool.freeBlocks() == pool.carved(), "freeBlocks=" + pool.freeBlocks() + " carved=" + pool.carved());
            return thrown.sum();
        }
    }

    /** Producers offer distinct ids (retrying both a full ring and a throw), one consumer drains; each id once. */
    private static long ring() throws InterruptedException {
        PerCpuRingBuffer<Integer> ring = new PerCpuRingBuffer<>(wanderingOps(), 1024);
        return exactlyOnce((id, thrown) -> retry(thrown, () -> ring.offer(id)),
                seen -> ring.drain(seen::accept));
    }

    private static long recordRing() throws InterruptedException {
        PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(wanderingOps(), 4096);
        return exactlyOnce((id, thrown) -> retry(thrown,
                        () -> ring.write(1, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(0, id).array(), 0, 4)),
                seen -> ring.read((type, payload) -> seen.accept(payload.get(JAVA_INT_UNALIGNED, 0))));
    }

    private interface Producer {
        boolean offer(int id, LongAdder thrown);
    }

    private interface Consumer {
        int drain(java.util.function.IntConsumer seen);
    }

    /**
     * {@value #THREADS} producers offer ids {@code t, t + THREADS, ...} (retrying a full ring) for
     * {@value #MILLIS} ms (longer, until a call threw) while this thread consumes; then every offered
     * id must have been seen once.
     */
    private static long exactlyOnce(Producer producer, Consumer consumer) throws InterruptedException {
        int max = 1 << 22;
        AtomicIntegerArray seen = new AtomicIntegerArray(max);
        int[] next = new int[THREADS];
        LongAdder thrown = new LongAdder();
        AtomicBoolean producing = new AtomicBoolean(true);
        AtomicReference<Throwable> error = new AtomicReference<>();
        long end = System.nanoTime() + MILLIS * 1_000_000;
        // NOTE: at least MILLIS, and on (up to ten times as long) until some call threw: on a loaded
        // machine the producers may get through too few calls in MILLIS for a forced slow path on
        // another CPU's region, and a part that saw no throw proves nothing.
        long latest = end + 9 * MILLIS * 1_000_000;
        java.util.function.BooleanSupplier over = () -> {
            long now = System.nanoTime();
            return now - end > 0 && (thrown.sum() > 0 || now - latest > 0);
        };
        List<Thread> producers = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int me = t;
            producers.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int id = me; id < max && !over.getAsBoolean(); id += THREADS) {
                        while (!producer.offer(id, thrown)) {
                            if (over.getAsBoolean() || error.get() != null) {
                                return;             // full at the end, or the consumer failed: id not offered
                            }
                            Thread.yield();         // full: the consumer catches up
                        }
                        next[me] = id + THREADS;
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            }));
        }
        java.util.function.IntConsumer count = id -> seen.incrementAndGet(id);
        Thread watcher = Thread.ofPlatform().start(() -> {
            for (Thread p : producers) {
                try {
                    p.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            producing.set(false);
        });
        try {
            while (producing.get()) {
                if (consumer.drain(count) == 0) {
                    Thread.yield();
                }
            }
            watcher.join();
            while (consumer.drain(count) > 0) {
                // the rest
            }
        } catch (Throwable e) {
            error.compareAndSet(null, e);       // stops the producers
            watcher.join();
        }
        if (error.get() != null) {
            throw new AssertionError(error.get());
        }
        for (int t = 0; t < THREADS; t++) {
            for (int id = t; id < next[t]; id += THREADS) {
                check(seen.get(id) == 1, "id " + id + " seen " + seen.get(id) + " times");
            }
            for (int id = next[t]; id < max; id += THREADS) {
                check(seen.get(id) == 0, "id " + id + " never offered, seen " + seen.get(id) + " times");
            }
        }
        return thrown.sum();
    }

    private static long counter() throws InterruptedException {
        PerCpuCounter counter = PerCpuCounter.builder().arena(new PerCpuArena(ops())).build();
        LongAdder added = new LongAdder();
        LongAdder thrown = new LongAdder();
        onThreads(THREADS, () -> {
            retryRun(thrown, () -> counter.add(1));
            added.increment();
        });
        check(counter.sum() == added.sum(), "sum=" + counter.sum() + " added=" + added.sum());
        return thrown.sum();
    }

    /** The spin lock under PerCpu: each update once, and no region left locked. */
    private static long perCpu() throws InterruptedException {
        PerCpuSpinLock lock = new PerCpuSpinLock(ops(), TimeSliceExtension.forThisProcess());
        List<long[]> all = java.util.Collections.synchronizedList(new ArrayList<>());
        PerCpu<long[]> cells = PerCpu.over(lock, r -> {
            long[] cell = new long[1];
            all.add(cell);
            return cell;
        });
        LongAdder added = new LongAdder();
        LongAdder thrown = new LongAdder();
        onThreads(THREADS, () -> {
            retryRun(thrown, () -> cells.withCurrent(1, (cell, v) -> cell[0] += v));
            added.increment();
        });
        // NOTE: summed without forEach, whose lock of another CPU's region always takes the slow path,
        // which cannot succeed here; the joins order the updaters' writes before these reads.
        long sum = 0;
        for (long[] cell : all) {
            sum += cell[0];
        }
        check(sum == added.sum(), "sum=" + sum + " added=" + added.sum());
        for (int r = 0; r < lock.regions(); r++) {
            check(!lock.isLocked(r), "region " + r + " left locked");
        }
        return thrown.sum();
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }
}
