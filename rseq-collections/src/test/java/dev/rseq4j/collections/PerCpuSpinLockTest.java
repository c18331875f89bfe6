package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.TimeSliceExtension;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contract of {@link PerCpuSpinLock} and {@link PerCpu}: arguments, ownership errors, release from
 * another CPU, exceptions, waiting parked (not spinning) and being woken, interrupts, and exact counts
 * under 8 threads with production operations, lock mode and instrumented ones ({@link LockSelfTest#hammer},
 * also run by diagnose and the torture test).
 */
class PerCpuSpinLockTest {
    private static final long MILLIS = 500;

    private static PerCpuSpinLock lockMode(int here) {
        return new PerCpuSpinLock(PinnedOps.lockMode(here), TimeSliceExtension.forThisProcess());
    }

    @Test
    void badRegionsAreRejectedWithTheLimit() {
        PerCpuSpinLock lock = new PerCpuSpinLock();
        int n = lock.regions();
        assertTrue(n >= 1);
        for (int bad : new int[] {-1, n, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            String m = assertThrows(IndexOutOfBoundsException.class, () -> lock.lock(bad)).getMessage();
            assertTrue(m.contains("region must be in [0, " + n + "), was " + bad), m);
            assertThrows(IndexOutOfBoundsException.class, () -> lock.tryLock(bad));
            assertThrows(IndexOutOfBoundsException.class, () -> lock.unlock(bad));
            assertThrows(IndexOutOfBoundsException.class, () -> lock.isLocked(bad));
            assertThrows(IndexOutOfBoundsException.class, () -> lock.isHeldByCurrentThread(bad));
        }
        assertThrows(NullPointerException.class, () -> PerCpuSpinLock.builder().indexing(null));
        for (int r = 0; r < n; r++) {
            assertFalse(lock.isLocked(r), "nothing was locked by the failed calls");
        }
    }

    @Test
    void lockReturnsTheRegionItLockedAndUnlockFreesIt() {
        PerCpuSpinLock lock = new PerCpuSpinLock();
        int r = lock.lock();
        assertTrue(r >= 0 && r < lock.regions());
        assertTrue(lock.isLocked(r));
        assertTrue(lock.isHeldByCurrentThread(r));
        lock.unlock(r);
        assertFalse(lock.isLocked(r));
        assertFalse(lock.isHeldByCurrentThread(r));
    }

    @Test
    void everyRegionCanBeLockedByIndexFromAnyCpu() {
        PerCpuSpinLock lock = new PerCpuSpinLock();
        for (int r = 0; r < lock.regions(); r++) {
            lock.lock(r);       // most of them from another CPU: the core's slow path
        }
        for (int r = 0; r < lock.regions(); r++) {
            assertTrue(lock.isHeldByCurrentThread(r));
            lock.unlock(r);
            assertTrue(lock.tryLock(r));
            lock.unlock(r);
            assertFalse(lock.isLocked(r));
        }
    }

    @Test
    void unlockOfARegionNotHeldThrowsAndChangesNothing() throws Exception {
        PerCpuSpinLock lock = new PerCpuSpinLock();
        String never = assertThrows(IllegalMonitorStateException.class, () -> lock.unlock(0)).getMessage();
        assertTrue(never.contains("region 0 is not locked by this thread (it is free)"), never);

        int r = lock.lock();
        lock.unlock(r);
        assertThrows(IllegalMonitorStateException.class, () -> lock.unlock(r), "unlocked twice");

        lock.lock(r);
        AtomicReference<Throwable> other = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                lock.unlock(r);
            } catch (Throwable e) {
                other.set(e);
            }
        });
        t.join();
        assertTrue(other.get() instanceof IllegalMonitorStateException, "another thread's unlock: " + other.get());
        assertTrue(other.get().getMessage().contains("held by thread id " + Thread.currentThread().threadId()),
                other.get().getMessage());
        assertTrue(lock.isHeldByCurrentThread(r), "a failed unlock leaves the lock with its holder");
        lock.unlock(r);
    }

    @Test
    void theLockIsNotReentrantAndSaysSoInsteadOfDeadlocking() {
        PerCpuSpinLock lock = new PerCpuSpinLock();
        int r = lock.lock();
        String m = assertThrows(IllegalMonitorStateException.class, () -> lock.lock(r)).getMessage();
        assertTrue(m.contains("already locked by this thread: PerCpuSpinLock is not reentrant"), m);
        assertThrows(IllegalMonitorStateException.class, () -> lock.tryLock(r));
        assertTrue(lock.isHeldByCurrentThread(r), "still held once");
        lock.unlock(r);
        assertFalse(lock.isLocked(r));
    }

    @Test
    void aLockTakenOnOneCpuIsReleasedFromAnother() {
        PinnedOps ops = PinnedOps.lockMode(0);
        PerCpuSpinLock lock = new PerCpuSpinLock(ops, TimeSliceExtension.forThisProcess());
        assertEquals(0, lock.lock());
        ops.here = lock.regions() - 1;      // the holder "migrates"
        lock.unlock(0);
        assertFalse(lock.isLocked(0));
        assertEquals(lock.regions() - 1, lock.lock());
        lock.unlock(lock.regions() - 1);
    }

    @Test
    void tryLockFailsWhileAnotherThreadHoldsTheLock() throws Exception {
        PerCpuSpinLock lock = new PerCpuSpinLock();
        lock.lock(0);
        AtomicBoolean got = new AtomicBoolean(true);
        Thread.ofPlatform().start(() -> got.set(lock.tryLock(0))).join();
        assertFalse(got.get());
        lock.unlock(0);
        Thread.ofPlatform().start(() -> {
            got.set(lock.tryLock(0));
            lock.unlock(0);
        }).join();
        assertTrue(got.get());
    }

    /**
     * tryLock() on the current region: the region when free, -1 while another thread holds it, and a
     * second take by the holder is refused as lock() refuses it (the lock is not reentrant).
     */
    @Test
    void tryLockOfTheCurrentRegionTakesItOnlyWhenFree() throws Exception {
        PinnedOps ops = PinnedOps.lockMode(0);
        PerCpuSpinLock lock = new PerCpuSpinLock(ops, TimeSliceExtension.forThisProcess());
        assertEquals(0, lock.tryLock());
        assertTrue(lock.isLocked(0));
        assertThrows(IllegalMonitorStateException.class, lock::tryLock, "held by the caller");
        AtomicInteger other = new AtomicInteger(7);
        Thread.ofPlatform().start(() -> other.set(lock.tryLock())).join();
        assertEquals(-1, other.get(), "held by another thread: -1, nothing taken");
        lock.unlock(0);
        Thread.ofPlatform().start(() -> {
            other.set(lock.tryLock());
            lock.unlock(0);
        }).join();
        assertEquals(0, other.get());
        assertFalse(lock.isLocked(0));
        PerCpuSpinLock real = new PerCpuSpinLock();
        int region = real.tryLock();
        assertTrue(region >= 0 && real.isLocked(region), "free: taken, region " + region);
        real.unlock(region);
    }

    /** A waiter parks (it does not spin), is woken by the unlock, and then holds the lock. */
    @Test
    void waitersParkAndTheUnlockWakesThem() throws Exception {
        for (PerCpuSpinLock lock : List.of(new PerCpuSpinLock(), lockMode(0))) {
            lock.lock(0);
            AtomicBoolean held = new AtomicBoolean();
            Thread waiter = Thread.ofPlatform().start(() -> {
                lock.lock(0);
                held.set(true);
                lock.unlock(0);
            });
            awaitParked(waiter);
            assertFalse(held.get());
            assertTrue(lock.lockStats().parks() >= 1, lock.toString());
            lock.unlock(0);
            waiter.join(10_000);
            assertFalse(waiter.isAlive(), "the unlock must wake the waiter: " + lock);
            assertTrue(held.get());
            assertTrue(lock.lockStats().wakeups() >= 1, lock.toString());
            assertTrue(lock.lockStats().contended() >= 1, lock.toString());
        }
    }

    /** An interrupt does not abort the wait (nor turn it into a busy loop); the status is kept. */
    @Test
    void anInterruptedWaiterKeepsWaitingAndKeepsItsInterruptStatus() throws Exception {
        PerCpuSpinLock lock = new PerCpuSpinLock();
        lock.lock(0);
        AtomicBoolean interruptedWhileHolding = new AtomicBoolean();
        Thread waiter = Thread.ofPlatform().start(() -> {
            lock.lock(0);
            interruptedWhileHolding.set(Thread.currentThread().isInterrupted());
            lock.unlock(0);
        });
        awaitParked(waiter);
        waiter.interrupt();
        Thread.sleep(50);
        long parks = lock.lockStats().parks();
        Thread.sleep(100);
        assertTrue(lock.lockStats().parks() - parks < 5, "an interrupted waiter must park again, not spin: " + lock);
        assertTrue(waiter.isAlive(), "still waiting");
        lock.unlock(0);
        waiter.join(10_000);
        assertTrue(interruptedWhileHolding.get(), "the interrupt status is restored once the lock is held");
    }

    @Test
    void withCurrentReleasesTheLockWhenTheActionThrows() {
        PerCpu<int[]> shards = PerCpu.of(r -> new int[1]);
        IllegalStateException boom = new IllegalStateException("boom");
        assertSame(boom, assertThrows(IllegalStateException.class, () -> shards.withCurrent(a -> {
            throw boom;
        })));
        shards.forEach(a -> a[0]++);        // every region's lock is free again
        assertEquals(shards.regions(), (int) shards.reduce(0, (sum, a) -> sum + a[0]));
    }

    @Test
    void perCpuValidatesItsArguments() {
        assertThrows(NullPointerException.class, () -> PerCpu.of(null));
        String m = assertThrows(NullPointerException.class, () -> PerCpu.of(r -> r == 0 ? new Object() : null))
                .getMessage();
        assertTrue(m.contains("factory returned null for region 1") || new PerCpuSpinLock().regions() == 1, m);
        PerCpu<int[]> shards = PerCpu.of(r -> new int[1]);
        assertThrows(NullPointerException.class, () -> shards.withCurrent(null));
        assertThrows(NullPointerException.class, () -> shards.withCurrent(1, null));
        shards.withCurrent(5, (a, v) -> a[0] += (int) v);
        assertEquals(5, (int) shards.reduce(0, (sum, a) -> sum + a[0]));
        assertThrows(NullPointerException.class, () -> shards.forEach(null));
        assertThrows(NullPointerException.class, () -> shards.reduce(0, null));
        assertThrows(NullPointerException.class, () -> PerCpu.of(null, r -> 1));
    }

    @Test
    void forEachAndReduceVisitEveryRegionOnceInOrder() {
        List<Integer> made = new ArrayList<>();
        PerCpu<Integer> shards = PerCpu.of(r -> {
            made.add(r);
            return r;
        });
        List<Integer> seen = new ArrayList<>();
        shards.forEach(seen::add);
        assertEquals(made, seen);
        assertEquals(shards.regions(), seen.size());
        assertEquals(seen, shards.reduce(new ArrayList<Integer>(), (list, r) -> {
            list.add(r);
            return list;
        }));
    }

    @Test
    void aNestedCallOnAHeldRegionThrowsInsteadOfDeadlocking() {
        PerCpu<int[]> shards = PerCpu.of(r -> new int[1]);
        assertThrows(IllegalMonitorStateException.class, () -> shards.withCurrent(a -> {
            shards.forEach(b -> b[0]++);     // reaches the region this thread holds
            return null;
        }));
        shards.forEach(a -> a[0] = 0);      // and everything was released on the way out
    }

    @Test
    void theConcurrencyIdBuilderWorksWhereMmCidExists() {
        try {
            PerCpuSpinLock lock = PerCpuSpinLock.builder().indexing(CpuIndexing.CONCURRENCY_ID).build();
            int r = lock.lock();
            lock.unlock(r);
            PerCpu<int[]> shards = PerCpu.of(CpuIndexing.CONCURRENCY_ID, x -> new int[1]);
            shards.withCurrent(a -> a[0]++);
            assertEquals(1, (int) shards.reduce(0, (s, a) -> s + a[0]));
        } catch (UnsupportedOperationException e) {
            assertTrue(e.getMessage().contains("mm_cid"), e.getMessage());
        }
    }

    /** 8 threads, exact totals and no overlap: production operations, then lock mode, both APIs. */
    @Test
    void eightThreadsCountExactlyUnderTheLock() {
        for (PerCpuOps ops : List.of(PerCpuOps.cpuIndexed(), OpsVariant.lockMode())) {
            for (boolean shards : new boolean[] {false, true}) {
                LockSelfTest.Result r = LockSelfTest.hammer(ops, shards, 8, MILLIS, false);
                System.out.println("lock " + (ops.restartable() ? "rseq " : "lock-mode ") + r);
                assertTrue(r.ok(), r.toString());
            }
        }
    }

    /**
     * The checker can fail: two threads running the critical section with no lock at all are seen
     * inside at once. (The negative control of the lock itself, an acquire without the restartable
     * sequence, is in {@link LockTortureTest}.)
     */
    @Test
    void theCheckerSeesTwoThreadsInsideAtOnce() {
        LockSelfTest.Shard s = new LockSelfTest.Shard();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch go = new CountDownLatch(1);
        Runnable racer = () -> {
            try {
                go.await();
            } catch (InterruptedException e) {
                return;
            }
            while (!stop.get()) {
                LockSelfTest.increment(s);     // no lock at all
            }
        };
        Thread a = Thread.ofPlatform().start(racer);
        Thread b = Thread.ofPlatform().start(racer);
        go.countDown();
        try {
            Thread.sleep(MILLIS);
            stop.set(true);
            a.join();
            b.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertTrue(s.overlaps > 0, "two unsynchronised threads must be seen inside at once");
    }

    static void awaitParked(Thread t) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (t.getState() != Thread.State.WAITING && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(Thread.State.WAITING, t.getState(), "the waiter must park (WAITING), not spin (RUNNABLE)");
    }
}
