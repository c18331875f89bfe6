package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.RseqStatus;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The pools' part of {@code ./rseq4j diagnose} (run after the core's, with the same options): tortures
 * {@link PerCpuFreeList}, {@link PerCpuObjectPool} and {@link PerCpuMemoryPool} over operations with
 * a busy loop inside every critical section (so that the kernel aborts many of them) and slow paths
 * forced on random regions, from more threads than CPUs, and prints one line per structure:
 * <pre>
 *   op=PerCpuObjectPool             ops=N aborts=N slowPaths=N heldTwice=0 lost=0
 * </pre>
 * {@code ops} counts takes (pop, acquire, allocate) and returns; {@code heldTwice} counts takes of
 * something another thread held at that moment (a per-item ownership flag, set with a CAS);
 * {@code lost} counts items neither held nor free at the end. Then the rings ({@link RingSelfTest}) and
 * the locks ({@link LockSelfTest}).
 * Exits 1 if anything was held twice, duplicated, torn or lost.
 *
 * <p>Package-private with a {@code main}, launched as
 * {@code -m dev.rseq4j.collections/dev.rseq4j.collections.PoolSelfTest}: it builds the structures
 * over instrumented operations through package-private constructors, and is no public API.
 */
final class PoolSelfTest {
    /** Items each structure circulates: fewer than threads times a few, so that lists run empty and steal. */
    static final int ITEMS = 64;
    /**
     * One operation in about this many takes the slow path on a random region, racing that region's
     * fast paths (the protocol's hardest case), besides the steals of lists that ran empty.
     */
    static final int SLOW_PATH_EVERY = 64;

    private PoolSelfTest() {
    }

    /** One structure's torture outcome. */
    record Result(String structure, long ops, long aborts, long slowPaths, long heldTwice, long lost) {
        @Override
        public String toString() {
            return String.format("op=%-28s ops=%d aborts=%d slowPaths=%d heldTwice=%d lost=%d", structure, ops, aborts,
                    slowPaths, heldTwice, lost);
        }

        boolean ok() {
            return heldTwice == 0 && lost == 0;
        }
    }

    /** Arguments as {@code Diagnostics}: {@code --seconds S --threads N --delay LOOPS --index cpu|mmcid} (validated there first). */
    public static void main(String[] args) {
        double seconds = 2;
        int threads = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
        int delay = 20_000;
        CpuIndexing index = CpuIndexing.CPU;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--seconds" -> seconds = Double.parseDouble(args[i + 1]);
                case "--threads" -> threads = Integer.parseInt(args[i + 1]);
                case "--delay" -> delay = Integer.parseInt(args[i + 1]);
                case "--index" -> index = args[i + 1].equals("mmcid") ? CpuIndexing.CONCURRENCY_ID : CpuIndexing.CPU;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        boolean ok = true;
        for (Result r : run(index, delay, threads, (long) (seconds * 1000))) {
            System.out.println(r);
            ok &= r.ok();
        }
        System.out.println(ok ? "pools=PASS" : "pools=FAIL");
        boolean rings = true;
        for (RingSelfTest.Result r : RingSelfTest.run(index, delay, threads, (long) (seconds * 1000))) {
            System.out.println(r);
            rings &= r.ok();
        }
        System.out.println(rings ? "rings=PASS" : "rings=FAIL");
        boolean locks = true;
        for (LockSelfTest.Result r : LockSelfTest.run(index, delay, threads, (long) (seconds * 1000))) {
            System.out.println(r);
            locks &= r.ok();
        }
        System.out.println(locks ? "locks=PASS" : "locks=FAIL");
        System.exit(ok && rings && locks ? 0 : 1);
    }

    /** Tortures the three structures, one after the other, each over fresh operations (own stats). */
    static List<Result> run(CpuIndexing index, int delay, int threads, long millis) {
        List<Result> results = new ArrayList<>();
        results.add(freeList(ops(index, delay, PerCpuStats.Kind.FREE_LIST), threads, millis));
        results.add(objectPool(ops(index, delay, PerCpuStats.Kind.FREE_LIST), threads, millis));
        results.add(memoryPool(ops(index, delay, PerCpuStats.Kind.FREE_LIST), threads, millis));
        return results;
    }

    /**
     * Delayed operations with forced slow paths in rseq mode; a fresh lock-mode instance otherwise (as the core's
     * torture). Counted under {@code kind}, the structure they torture (the pools count as free lists, whose
     * operations they use).
     */
    static PerCpuOps ops(CpuIndexing index, int delay, PerCpuStats.Kind kind) {
        return Rseq.status().mode() == RseqStatus.Mode.RSEQ
                ? OpsVariant.of(index).withDelay(delay).forcingSlowPathEvery(SLOW_PATH_EVERY).create(kind)
                : OpsVariant.lockMode(kind);
    }

    /** What one thread does per round: take an item (or -1), later give it back. */
    private interface Workload {
        int take();

        void give(int item);
    }

    static Result freeList(PerCpuOps ops, int threads, long millis) {
        PerCpuFreeList list = new PerCpuFreeList(ops, ITEMS, false, 8);
        for (int h = 0; h < ITEMS; h++) {
            list.push(h);
        }
        Result r = torture("PerCpuFreeList", ops.stats(), threads, millis, new Workload() {
            @Override
            public int take() {
                return list.pop();
            }

            @Override
            public void give(int item) {
                list.push(item);
            }
        });
        return withLost(r, ITEMS - distinct(list));
    }

    static Result objectPool(PerCpuOps ops, int threads, long millis) {
        PerCpuFreeList list = new PerCpuFreeList(ops, ITEMS, false, 4);
        PerCpuObjectPool<Object> pool = PerCpuObjectPool.builder(Object::new).build(list);
        ThreadLocal<PerCpuObjectPool.Lease<Object>> held = new ThreadLocal<>();
        Result r = torture("PerCpuObjectPool", ops.stats(), threads, millis, new Workload() {
            @Override
            public int take() {
                PerCpuObjectPool.Lease<Object> lease = pool.acquire();
                if (!lease.pooled()) {
                    lease.close();      // beyond maxSize: not tracked
                    return -1;
                }
                held.set(lease);
                return lease.slot();
            }

            @Override
            public void give(int item) {
                held.get().close();
            }
        });
        return withLost(r, pool.created() - pool.idle());
    }

    static Result memoryPool(PerCpuOps ops, int threads, long millis) {
        PerCpuFreeList list = new PerCpuFreeList(ops, ITEMS, false, 4);
        try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(64).capacityPerCpu(8).build(list)) {
            ThreadLocal<MemorySegment> held = new ThreadLocal<>();
            Result r = torture("PerCpuMemoryPool", ops.stats(), threads, millis, new Workload() {
                @Override
                public int take() {
                    MemorySegment block = pool.tryAllocate();
                    if (block == null) {
                        return -1;      // every block out
                    }
                    held.set(block);
                    return (int) pool.indexOf(block);
                }

                @Override
                public void give(int item) {
                    pool.free(held.get());
                }
            });
            return withLost(r, pool.carved() - pool.freeBlocks());
        }
    }

    /**
     * Runs {@code work} from {@code threads} threads for {@code millis}: take, mark the item held (a
     * CAS 0 to 1 that fails means another thread holds it: heldTwice), spin briefly, unmark, give back.
     */
    private static Result torture(String name, PerCpuStats stats, int threads, long millis, Workload work) {
        AtomicIntegerArray owner = new AtomicIntegerArray(ITEMS);
        LongAdder ops = new LongAdder();
        LongAdder heldTwice = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        SelfTestWorkers workers = new SelfTestWorkers(threads, "rseq4j-pool-selftest", false, me -> {
            long n = 0;
            while (!stop.get()) {
                int item = work.take();
                n++;
                if (item < 0) {
                    continue;
                }
                if (!owner.compareAndSet(item, 0, 1)) {
                    heldTwice.increment();
                    continue;       // do not give back what another thread holds
                }
                Thread.onSpinWait();
                owner.set(item, 0);
                work.give(item);
                n++;
            }
            ops.add(n);
        });
        long aborts = stats.aborts();
        long slow = stats.slowPaths();
        workers.go();
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stop.set(true);
        workers.join();
        return new Result(name, ops.sum(), stats.aborts() - aborts, stats.slowPaths() - slow, heldTwice.sum(), 0);
    }

    private static Result withLost(Result r, long lost) {
        return new Result(r.structure(), r.ops(), r.aborts(), r.slowPaths(), r.heldTwice(), lost);
    }

    /** Pops every handle and counts distinct ones (a duplicate counts once); leaves the list empty. */
    private static int distinct(PerCpuFreeList list) {
        boolean[] seen = new boolean[list.capacity()];
        int n = 0;
        for (int h = list.pop(); h >= 0; h = list.pop()) {
            if (!seen[h]) {
                seen[h] = true;
                n++;
            }
        }
        return n;
    }

}
