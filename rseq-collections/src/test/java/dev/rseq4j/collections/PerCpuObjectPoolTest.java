package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.percpu.OpsVariant;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static dev.rseq4j.collections.PerCpuFreeListTest.rejects;
import static dev.rseq4j.collections.PerCpuFreeListTest.rejectsNull;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The object pool's contract: leases, misuse of a lease, the size bound, onRelease and factory
 * failures; under eight threads no object is leased twice, and at the end every created object rests
 * in the pool.
 */
class PerCpuObjectPoolTest {

    /** A pooled object with an ownership flag: set while leased. */
    static final class Owned {
        final AtomicBoolean leased = new AtomicBoolean();
        final int serial;
        long uses;

        Owned(int serial) {
            this.serial = serial;
        }
    }

    static Supplier<Owned> counting(AtomicInteger made) {
        return () -> new Owned(made.getAndIncrement());
    }

    private static void assertIllegalState(String mustMention, org.junit.jupiter.api.function.Executable call) {
        IllegalStateException e = assertThrows(IllegalStateException.class, call);
        assertTrue(e.getMessage().contains(mustMention), "message '" + e.getMessage() + "' should mention " + mustMention);
    }

    @Test
    void acquireCreatesOnDemandAndCloseReturnsTheObject() {
        AtomicInteger made = new AtomicInteger();
        PerCpuObjectPool<Owned> pool = PerCpuObjectPool.builder(counting(made)).maxSize(4).build();
        assertEquals(4, pool.maxSize());
        assertEquals(0, pool.created(), "created on demand");
        assertEquals(0, pool.idle());
        Owned first;
        try (PerCpuObjectPool.Lease<Owned> lease = pool.acquire()) {
            assertTrue(lease.pooled());
            first = lease.get();
            assertNotNull(first);
            assertSame(first, lease.get());
            assertEquals(1, pool.created());
            assertEquals(0, pool.idle(), "leased, not idle");
        }
        assertEquals(1, pool.idle());
        try (PerCpuObjectPool.Lease<Owned> lease = pool.acquire()) {
            assertSame(first, lease.get(), "the only idle object is reused (stolen if this thread moved CPU)");
        }
        assertEquals(1, made.get());
        assertEquals(1, pool.created());
        assertTrue(pool.toString().contains("maxSize=4"), pool.toString());
    }

    @Test
    void defaultSizeIsCapacityPerCpuTimesPossibleCpus() {
        assertEquals(8 * Rseq.possibleCpus(), PerCpuObjectPool.builder(Object::new).build().maxSize());
        assertEquals(3 * Rseq.possibleCpus(), PerCpuObjectPool.builder(Object::new).capacityPerCpu(3).build().maxSize());
        assertEquals(5, PerCpuObjectPool.builder(Object::new).capacityPerCpu(3).maxSize(5).build().maxSize());
    }

    @Test
    void getAfterCloseAndDoubleCloseThrow() {
        for (boolean checked : new boolean[] {false, true}) {
            PerCpuObjectPool.Builder<Owned> b = PerCpuObjectPool.builder(counting(new AtomicInteger())).maxSize(2);
            PerCpuObjectPool<Owned> pool = (checked ? b.checked() : b).build();
            PerCpuObjectPool.Lease<Owned> lease = pool.acquire();
            lease.close();
            assertIllegalState("get() after close()", lease::get);
            assertIllegalState("closed twice", lease::close);
            assertEquals(1, pool.idle(), "the refused close pushed nothing");
            assertTrue(lease.toString().contains("closed"), lease.toString());
            // not pooled: the same misuse checks
            PerCpuObjectPool<Owned> tiny = PerCpuObjectPool.builder(counting(new AtomicInteger())).maxSize(1).build();
            PerCpuObjectPool.Lease<Owned> kept = tiny.acquire();
            PerCpuObjectPool.Lease<Owned> extra = tiny.acquire();
            assertFalse(extra.pooled());
            extra.close();
            assertIllegalState("get() after close()", extra::get);
            assertIllegalState("closed twice", extra::close);
            kept.close();
        }
    }

    /** A stale second close after the object was leased again: caught only in checked mode, and harmless there. */
    @Test
    void checkedModeCatchesAStaleCloseAfterReLease() {
        PerCpuObjectPool<Owned> pool = PerCpuObjectPool.builder(counting(new AtomicInteger())).maxSize(1).checked().build();
        PerCpuObjectPool.Lease<Owned> stale = pool.acquire();
        Owned o = stale.get();
        stale.close();
        PerCpuObjectPool.Lease<Owned> current = pool.acquire();
        assertSame(o, current.get());
        assertNotSame(stale, current, "checked: a lease per acquire");
        assertIllegalState("closed twice", stale::close);
        assertEquals(0, pool.idle(), "the stale close did not return the object the current holder has");
        assertSame(o, current.get(), "the current lease is still open");
        current.close();
        assertEquals(1, pool.idle());

        // default mode reuses the lease object: the stale close is the documented blind spot
        PerCpuObjectPool<Owned> plain = PerCpuObjectPool.builder(counting(new AtomicInteger())).maxSize(1).build();
        PerCpuObjectPool.Lease<Owned> l1 = plain.acquire();
        l1.close();
        assertSame(l1, plain.acquire(), "default: the slot's lease is reused");
    }

    @Test
    void objectsBeyondMaxSizeAreNotPooled() {
        AtomicInteger made = new AtomicInteger();
        PerCpuObjectPool<Owned> pool = PerCpuObjectPool.builder(counting(made)).maxSize(3).build();
        for (int round = 0; round < 3; round++) {
            List<PerCpuObjectPool.Lease<Owned>> leases = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                leases.add(pool.acquire());
            }
            assertEquals(3, leases.stream().filter(PerCpuObjectPool.Lease::pooled).count(), "round " + round);
            assertEquals(3, pool.created(), "created() never exceeds maxSize");
            assertTrue(leases.stream().filter(l -> !l.pooled()).allMatch(l -> l.toString().contains("not pooled")));
            leases.forEach(PerCpuObjectPool.Lease::close);
            assertEquals(3, pool.idle(), "only pooled objects come back");
        }
        assertEquals(3 + 3 * 7, made.get(), "the pooled 3 made once, the 7 extra made every round");
    }

    @Test
    void onReleaseRunsAndAThrowingOneReplacesTheObject() {
        AtomicInteger made = new AtomicInteger();
        AtomicInteger released = new AtomicInteger();
        AtomicBoolean fail = new AtomicBoolean();
        PerCpuObjectPool<Owned> pool = PerCpuObjectPool.builder(counting(made)).maxSize(1)
                .onRelease(o -> {
                    released.incrementAndGet();
                    o.uses = 0;
                    if (fail.get()) {
                        throw new IllegalArgumentException("reset failed");
                    }
                }).build();
        PerCpuObjectPool.Lease<Owned> lease = pool.acquire();
        Owned first = lease.get();
        first.uses = 7;
        lease.close();
        assertEquals(1, released.get());
        assertEquals(0, first.uses, "onRelease reset it");

        lease = pool.acquire();
        assertSame(first, lease.get());
        fail.set(true);
        PerCpuObjectPool.Lease<Owned> failing = lease;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, failing::close);
        assertEquals("reset failed", e.getMessage());
        assertIllegalState("get() after close()", failing::get);
        assertEquals(1, pool.idle(), "the slot is free again, its object dropped");
        assertEquals(1, pool.created());
        fail.set(false);

        try (PerCpuObjectPool.Lease<Owned> fresh = pool.acquire()) {
            assertTrue(fresh.pooled());
            assertNotSame(first, fresh.get(), "the dropped object is not leased again");
            assertEquals(1, fresh.get().serial);
        }
        assertEquals(2, made.get());
        assertEquals(1, pool.created(), "a replacement fills the same slot");
        assertEquals(1, pool.idle());
    }

    @Test
    void factoryReturningNullOrThrowingLeavesThePoolConsistent() {
        PerCpuObjectPool<Object> nulls = PerCpuObjectPool.builder(() -> null).maxSize(2).build();
        NullPointerException npe = assertThrows(NullPointerException.class, nulls::acquire);
        assertTrue(npe.getMessage().contains("factory returned null"), npe.getMessage());
        assertEquals(0, nulls.created());

        AtomicBoolean broken = new AtomicBoolean(true);
        AtomicInteger made = new AtomicInteger();
        AtomicBoolean failRelease = new AtomicBoolean();
        PerCpuObjectPool<Owned> pool = PerCpuObjectPool.<Owned>builder(() -> {
                    if (broken.get()) {
                        throw new IllegalStateException("factory down");
                    }
                    return new Owned(made.getAndIncrement());
                }).maxSize(2)
                .onRelease(o -> {
                    if (failRelease.get()) {
                        throw new RuntimeException("drop");
                    }
                }).build();
        assertIllegalState("factory down", pool::acquire);
        assertEquals(0, pool.created(), "nothing taken when the factory throws");
        assertEquals(0, pool.idle());
        broken.set(false);
        PerCpuObjectPool.Lease<Owned> a = pool.acquire();
        PerCpuObjectPool.Lease<Owned> b = pool.acquire();
        assertEquals(2, pool.created());
        failRelease.set(true);
        assertThrows(RuntimeException.class, a::close);    // a's object dropped, its slot free
        failRelease.set(false);
        b.close();
        broken.set(true);
        // Two idle slots, one without an object: acquires alternate between refill failures and the
        // intact object; the slot survives the failed refill.
        int failures = 0;
        List<PerCpuObjectPool.Lease<Owned>> leases = new ArrayList<>();
        for (int i = 0; i < 2 && failures < 5; ) {
            try {
                leases.add(pool.acquire());
                i++;
            } catch (IllegalStateException e) {
                assertEquals("factory down", e.getMessage());
                failures++;
                broken.set(failures < 3);
            }
        }
        assertEquals(2, leases.size());
        assertTrue(failures >= 1, "the dropped slot's refill failed at least once");
        assertTrue(leases.stream().allMatch(PerCpuObjectPool.Lease::pooled));
        assertNotSame(leases.get(0).get(), leases.get(1).get());
        leases.forEach(PerCpuObjectPool.Lease::close);
        assertEquals(2, pool.created());
        assertEquals(2, pool.idle(), "every slot back, none lost to the factory's failures");
    }

    @Test
    void builderBadInput() {
        rejectsNull("factory", () -> PerCpuObjectPool.builder(null));
        PerCpuObjectPool.Builder<Object> b = PerCpuObjectPool.builder(Object::new);
        int max = PerCpuObjectPool.MAX_SIZE;
        rejects("maxSize must be in [1, " + max + "], was 0", () -> b.maxSize(0));
        rejects("maxSize must be in [1, " + max + "], was -1", () -> b.maxSize(-1));
        rejects("maxSize must be in [1, " + max + "], was " + (max + 1), () -> b.maxSize(max + 1));
        int batch = PerCpuFreeList.Builder.MAX_BATCH_SIZE;
        rejects("capacityPerCpu must be in [1, " + batch + "], was 0", () -> b.capacityPerCpu(0));
        rejects("capacityPerCpu must be in [1, " + batch + "], was " + (batch + 1), () -> b.capacityPerCpu(batch + 1));
        rejectsNull("onRelease", () -> b.onRelease(null));
        rejectsNull("indexing", () -> b.indexing(null));
        assertEquals(8 * Rseq.possibleCpus(), b.build().maxSize(), "the refused calls changed nothing");
    }

    /**
     * Eight threads acquire and close as fast as they can, each holding up to three leases; the
     * flag in each object is set on get and cleared before close, so a failed set is an object
     * leased twice. At the end every created object is idle.
     */
    @Test
    void eightThreadsNeverLeaseAnObjectTwice() throws Exception {
        for (boolean checked : new boolean[] {false, true}) {
            PerCpuObjectPool.Builder<Owned> b = PerCpuObjectPool.builder(counting(new AtomicInteger())).maxSize(12)
                    .capacityPerCpu(4);
            PerCpuObjectPool<Owned> pool = (checked ? b.checked() : b).build();
            long ops = hammer(pool, 8, 400);
            System.out.println("object-pool hammer checked=" + checked + " ops=" + ops + " created=" + pool.created());
        }
    }

    /**
     * Runs {@code threads} threads leasing from {@code pool} for {@code millis}; fails on an object
     * leased twice or any error; checks {@code created() <= maxSize()} and {@code idle() == created()}
     * after. Returns the operations done.
     */
    static long hammer(PerCpuObjectPool<Owned> pool, int threads, long millis) throws InterruptedException {
        AtomicReference<Throwable> error = new AtomicReference<>();
        AtomicLong ops = new AtomicLong();
        CountDownLatch go = new CountDownLatch(1);
        long deadline = System.nanoTime() + millis * 1_000_000;
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(Thread.ofPlatform().start(() -> {
                List<PerCpuObjectPool.Lease<Owned>> held = new ArrayList<>();
                long n = 0;
                try {
                    go.await();
                    for (int i = 0; error.get() == null && ((i & 63) != 0 || System.nanoTime() < deadline); i++) {
                        if (held.size() < 3 && (i % 5) != 4) {
                            PerCpuObjectPool.Lease<Owned> lease = pool.acquire();
                            Owned o = lease.get();
                            if (!o.leased.compareAndSet(false, true)) {
                                throw new AssertionError("object " + o.serial + " leased twice");
                            }
                            o.uses++;
                            held.add(lease);
                        } else if (!held.isEmpty()) {
                            PerCpuObjectPool.Lease<Owned> lease = held.removeLast();
                            Owned o = lease.get();
                            if (!o.leased.compareAndSet(true, false)) {
                                throw new AssertionError("object " + o.serial + " lost its lease while held");
                            }
                            lease.close();
                        }
                        n++;
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                } finally {
                    for (PerCpuObjectPool.Lease<Owned> lease : held) {
                        lease.get().leased.set(false);
                        lease.close();
                    }
                    ops.addAndGet(n);
                }
            }));
        }
        go.countDown();
        for (Thread w : workers) {
            w.join();
        }
        if (error.get() != null) {
            throw new AssertionError("worker failed: " + error.get(), error.get());
        }
        assertTrue(pool.created() <= pool.maxSize(), pool.toString());
        assertEquals(pool.created(), pool.idle(), "every created object rests in the pool: " + pool);
        // Exact accounting with leases held: every pooled object made is outstanding, in a magazine
        // or in the depot; objects made beyond the size are dropped.
        List<PerCpuObjectPool.Lease<Owned>> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            held.add(pool.acquire());
        }
        long outstanding = held.stream().filter(PerCpuObjectPool.Lease::pooled).count();
        PoolStats st = pool.stats();
        System.out.println("object-pool accounting: created " + st.created() + " = outstanding " + outstanding
                + " + inMagazines " + st.inMagazines() + " + inDepot " + st.inDepot() + "; dropped " + st.dropped());
        assertEquals(st.created(), outstanding + st.inMagazines() + st.inDepot(), st.toString());
        held.forEach(PerCpuObjectPool.Lease::close);
        assertEquals(pool.created(), PerCpuFreeListTest.drain(pool.freeList()).cardinality(), "each slot free once");
        return ops.get();
    }

    @Test
    void leaseHandedToAnotherThreadIsClosedThere() throws Exception {
        PerCpuObjectPool<Owned> pool = PerCpuObjectPool.builder(counting(new AtomicInteger())).maxSize(2).build();
        PerCpuObjectPool.Lease<Owned> lease = pool.acquire();
        AtomicReference<Throwable> error = new AtomicReference<>();
        Thread.ofVirtual().start(() -> {
            try {
                lease.close();
            } catch (Throwable t) {
                error.set(t);
            }
        }).join();
        assertNull(error.get());
        assertEquals(1, pool.idle());
    }

    /**
     * A pool at its maximum size whose magazine and depot are empty steals a batch from another
     * magazine at most once per {@link PerCpuObjectPool#STEAL_INTERVAL_NANOS}: in between, it makes an
     * object beyond the size (not pooled, dropped on close) rather than take another CPU's guard again.
     */
    @Test
    void aPoolAtItsMaximumStealsAtMostOncePerInterval() throws InterruptedException {
        for (int round = 0; ; round++) {
            PerCpuFreeList list = new PerCpuFreeList(new PerCpuFreeListTest.EmptyHereOps(
                    OpsVariant.of(CpuIndexing.CPU).create(), 0), 8, false, 4);
            PerCpuObjectPool<Object> pool = PerCpuObjectPool.builder(Object::new).maxSize(8).build(list);
            List<PerCpuObjectPool.Lease<Object>> leases = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                leases.add(pool.acquire());     // the magazine looks empty: each one is made
            }
            leases.forEach(PerCpuObjectPool.Lease::close);   // all 8 rest in region 0's magazine
            assertEquals(8, pool.stats().created(), pool.stats().toString());
            long start = System.nanoTime();
            PerCpuObjectPool.Lease<Object> stolen = pool.acquire();
            PerCpuObjectPool.Lease<Object> beyond = pool.acquire();
            long elapsed = System.nanoTime() - start;
            assertTrue(stolen.pooled(), "the first miss at the maximum steals: " + pool.stats());
            if (elapsed >= PerCpuObjectPool.STEAL_INTERVAL_NANOS) {
                assertTrue(round < 5, "two acquires never ran within the interval in 5 rounds");
                continue;       // too slow to tell (a cold path, a loaded machine): again
            }
            assertEquals(1, pool.stats().steals(), pool.stats().toString());
            assertFalse(beyond.pooled(), "a second miss within the interval makes an object: " + pool.stats());
            assertEquals(1, pool.stats().steals(), pool.stats().toString());
            beyond.close();
            assertEquals(1, pool.stats().dropped(), pool.stats().toString());
            Thread.sleep(PerCpuObjectPool.STEAL_INTERVAL_NANOS / 1_000_000 + 1);
            PerCpuObjectPool.Lease<Object> later = pool.acquire();
            assertTrue(later.pooled(), "after the interval a miss steals again: " + pool.stats());
            assertEquals(2, pool.stats().steals(), pool.stats().toString());
            later.close();
            stolen.close();
            assertEquals(8, pool.stats().inMagazines() + pool.stats().inDepot(), "every pooled object rests: "
                    + pool.stats());
            return;
        }
    }
}
