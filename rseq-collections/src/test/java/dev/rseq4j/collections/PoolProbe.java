package dev.rseq4j.collections;

import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.RseqStatus;
import dev.rseq4j.core.percpu.PerCpuStats;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Run in forked JVMs by {@link PoolForkedModesTest}: the three structures through their public
 * builders (production operations, whatever mode the JVM chose) under 4 platform threads each, with
 * 4 platform threads started before the library initialises (unregistered under self-registration)
 * leasing from one object pool, then the ownership checkers and exact accounting of {@link PerCpuFreeListTest#hammer},
 * {@link PerCpuObjectPoolTest#hammer} and {@link PerCpuMemoryPoolTest#hammer}, then 10,000 virtual
 * threads on an object pool, then both rings under 4 producers (exactly once, records whole). Its
 * threads are new, so under self-registration each registers on its first operation.
 *
 * <p>Prints one line
 * {@code POOLS mode=<RSEQ|LOCK> registrant=.. earlyThreads=PASS freeList=PASS objectPool=PASS memoryPool=PASS virtualThreads=PASS ring=PASS recordRing=PASS lock=PASS shards=PASS aborts=.. slowPaths=.. invalidIndex=.. fallbackFences=..}
 * (a failing part prints {@code FAIL(<exception>)}) and exits 0 when every part passed.
 */
public final class PoolProbe {
    public static void main(String[] args) throws InterruptedException {
        // NOTE: started before the library touches rseq: under self-registration these threads are
        // not registered (glibc registers only the children of registered threads), so their first
        // operation must see INDEX_INVALID and register.
        CountDownLatch initialised = new CountDownLatch(1);
        AtomicReference<PerCpuObjectPool<PerCpuObjectPoolTest.Owned>> shared = new AtomicReference<>();
        AtomicReference<Throwable> earlyError = new AtomicReference<>();
        List<Thread> early = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            early.add(Thread.ofPlatform().start(() -> {
                try {
                    initialised.await();
                    leaseLoop(shared.get(), 20_000, false);
                } catch (Throwable e) {
                    earlyError.compareAndSet(null, e);
                }
            }));
        }
        RseqStatus status = Rseq.status();
        StringBuilder line = new StringBuilder("POOLS mode=").append(status.mode()).append(" registrant=")
                .append(status.registrant());
        boolean pass = true;
        PerCpuFreeList list = PerCpuFreeList.builder(128).batchSize(4).build();
        shared.set(PerCpuObjectPool.builder(PerCpuObjectPoolTest.counting(new AtomicInteger())).maxSize(6).build());
        initialised.countDown();
        pass &= part(line, "earlyThreads", () -> {
            for (Thread t : early) {
                t.join();
            }
            if (earlyError.get() != null) {
                throw new AssertionError(earlyError.get());
            }
            checkAccounting(shared.get());
        });
        pass &= part(line, "freeList", () -> PerCpuFreeListTest.hammer(list, 4, 300));
        pass &= part(line, "objectPool", () -> PerCpuObjectPoolTest.hammer(PerCpuObjectPool
                .builder(PerCpuObjectPoolTest.counting(new AtomicInteger())).maxSize(12).capacityPerCpu(4).build(), 4, 300));
        pass &= part(line, "memoryPool", () -> {
            try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(64).maxBlocks(256).capacityPerCpu(8).build()) {
                PerCpuMemoryPoolTest.hammer(pool, 4, 300);
            }
        });
        pass &= part(line, "virtualThreads", PoolProbe::virtualThreads);
        pass &= part(line, "ring", () -> PerCpuRingBufferTest.hammer(new PerCpuRingBuffer<>(64), 4, 300));
        pass &= part(line, "recordRing", () -> {
            RingSelfTest.Result r = RingSelfTest.recordRing(dev.rseq4j.core.percpu.PerCpuOps.cpuIndexed(), 4, 300);
            if (!r.ok() || r.ops() == 0) {
                throw new AssertionError(r.toString());
            }
        });
        for (boolean shards : new boolean[] {false, true}) {
            pass &= part(line, shards ? "shards" : "lock", () -> {
                LockSelfTest.Result r = LockSelfTest.hammer(dev.rseq4j.core.percpu.PerCpuOps.cpuIndexed(), shards, 4, 300,
                        false);
                if (!r.ok()) {
                    throw new AssertionError(r.toString());
                }
            });
        }
        PerCpuStats stats = list.opsStats();      // the shared production operations: every structure's counts
        line.append(" aborts=").append(stats.aborts()).append(" slowPaths=").append(stats.slowPaths())
                .append(" invalidIndex=").append(stats.invalidIndex())
                .append(" fallbackFences=").append(dev.rseq4j.core.internal.runtime.RseqRuntime.get().fallbackFences());
        System.out.println(line);
        System.exit(pass ? 0 : 1);
    }

    @FunctionalInterface
    private interface Part {
        void run() throws Exception;
    }

    private static boolean part(StringBuilder line, String name, Part part) {
        try {
            part.run();
            line.append(' ').append(name).append("=PASS");
            return true;
        } catch (Throwable t) {
            line.append(' ').append(name).append("=FAIL(").append(String.valueOf(t).replace('\n', ' ')).append(')');
            return false;
        }
    }

    private static void virtualThreads() throws InterruptedException {
        PerCpuObjectPool<PerCpuObjectPoolTest.Owned> pool = PerCpuObjectPool
                .builder(PerCpuObjectPoolTest.counting(new AtomicInteger())).maxSize(8).build();
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 10_000; t++) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    leaseLoop(pool, 5, true);
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        if (error.get() != null) {
            throw new AssertionError(error.get());
        }
        checkAccounting(pool);
    }

    /** {@code n} leases, each checked with the object's ownership flag, yielding inside some. */
    private static void leaseLoop(PerCpuObjectPool<PerCpuObjectPoolTest.Owned> pool, int n, boolean yield) {
        for (int i = 0; i < n; i++) {
            try (PerCpuObjectPool.Lease<PerCpuObjectPoolTest.Owned> lease = pool.acquire()) {
                PerCpuObjectPoolTest.Owned o = lease.get();
                if (!o.leased.compareAndSet(false, true)) {
                    throw new AssertionError("object " + o.serial + " leased twice");
                }
                if (yield) {
                    Thread.yield();
                }
                o.leased.set(false);
            }
        }
    }

    private static void checkAccounting(PerCpuObjectPool<?> pool) {
        if (pool.created() > pool.maxSize() || pool.idle() != pool.created()) {
            throw new AssertionError("accounting: " + pool + " idle=" + pool.idle());
        }
    }
}
