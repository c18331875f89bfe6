package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.TimeSliceExtension;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The lock's use of the time-slice extension, over a simulated kernel (one {@code struct rseq} image
 * per thread; no kernel we can run offers the extension, see {@code TimeSliceExtensionTest} in the
 * core): a take requests an extension, the unlock clears the request, and a grant made while the lock
 * was held is given back with one yield and counted in {@link PerCpuSpinLock#lockStats()}; a waiter
 * gives its request back before it parks. What this does not prove: that a real kernel grants and
 * that the yield reaches it (see the README's support matrix).
 */
class LockTimeSliceTest {
    /** slice_ctrl bits and the flags' "enabled" bit of the kernel ABI (struct rseq +28, +16). */
    private static final int REQUEST = 1;
    private static final int GRANTED = 2;
    private static final int ENABLED = 1 << 5;

    static final class PerThreadKernel implements TimeSliceExtension.Kernel {
        final Map<Thread, MemorySegment> areas = new ConcurrentHashMap<>();
        final AtomicInteger yields = new AtomicInteger();

        @Override
        public MemorySegment currentRseqArea() {
            return areas.computeIfAbsent(Thread.currentThread(), t -> Arena.ofAuto().allocate(32, 32));
        }

        @Override
        public Optional<String> enable() {
            MemorySegment rseq = currentRseqArea();
            rseq.set(JAVA_INT, 16, rseq.get(JAVA_INT, 16) | ENABLED);
            return Optional.empty();
        }

        @Override
        public boolean yield() {
            yields.incrementAndGet();
            return true;
        }

        int ctrl(Thread t) {
            MemorySegment rseq = areas.get(t);
            return rseq == null ? 0 : rseq.get(JAVA_INT, 28);
        }
    }

    @Test
    void aHolderRequestsAndGivesBackAGrantedExtension() {
        PerThreadKernel kernel = new PerThreadKernel();
        PerCpuSpinLock lock = new PerCpuSpinLock(PerCpuOps.cpuIndexed(), TimeSliceExtension.over(kernel));
        Thread me = Thread.currentThread();

        int r = lock.lock();
        assertEquals(REQUEST, kernel.ctrl(me), "requested on taking the lock");
        lock.unlock(r);
        assertEquals(0, kernel.ctrl(me), "cleared on unlock");
        assertEquals(0, kernel.yields.get(), "no grant, no yield");

        r = lock.lock();
        kernel.currentRseqArea().set(JAVA_INT, 28, GRANTED);    // the kernel grants at an interrupt
        lock.unlock(r);
        assertEquals(1, kernel.yields.get());
        assertEquals(1, lock.lockStats().sliceGrants());
        assertEquals(1, lock.lockStats().sliceYields());

        if (lock.tryLock(0)) {
            assertEquals(REQUEST, kernel.ctrl(me), "tryLock requests too");
            lock.unlock(0);
        }
        assertEquals(0, kernel.ctrl(me));
    }

    @Test
    void aWaiterGivesItsRequestBackBeforeParking() throws Exception {
        PerThreadKernel kernel = new PerThreadKernel();
        PerCpuSpinLock lock = new PerCpuSpinLock(PerCpuOps.cpuIndexed(), TimeSliceExtension.over(kernel));
        lock.lock(0);
        Thread waiter = Thread.ofPlatform().start(() -> {
            lock.lock(0);
            lock.unlock(0);
        });
        PerCpuSpinLockTest.awaitParked(waiter);
        assertEquals(0, kernel.ctrl(waiter), "a parked waiter holds no request");
        lock.unlock(0);
        waiter.join();
        assertEquals(0, kernel.ctrl(waiter));
        assertFalse(lock.isLocked(0));
    }

    /**
     * A take whose slow path throws (no fence to be had) gives its request back: a failed lock() or
     * tryLock() leaves the thread without a pending extension request, as if it had not been called.
     */
    @Test
    void aTakeThatThrowsGivesItsRequestBack() {
        PerThreadKernel kernel = new PerThreadKernel();
        PerCpuOps real = PerCpuOps.cpuIndexed();
        PerCpuOps failing = (PerCpuOps) Proxy.newProxyInstance(PerCpuOps.class.getClassLoader(),
                new Class<?>[] {PerCpuOps.class}, (proxy, method, args) -> {
                    if (method.getName().startsWith("compareAndStore")) {   // and compareAndStoreCurrent
                        throw new IllegalStateException("injected: no fence to be had");
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        PerCpuSpinLock lock = new PerCpuSpinLock(failing, TimeSliceExtension.over(kernel));
        Thread me = Thread.currentThread();

        assertThrows(IllegalStateException.class, lock::lock);
        assertEquals(0, kernel.ctrl(me), "lock(): the request was given back");
        assertThrows(IllegalStateException.class, () -> lock.tryLock(0));
        assertEquals(0, kernel.ctrl(me), "tryLock(): the request was given back");
        for (int r = 0; r < lock.regions(); r++) {
            assertFalse(lock.isLocked(r), "region " + r);
        }
    }
}
