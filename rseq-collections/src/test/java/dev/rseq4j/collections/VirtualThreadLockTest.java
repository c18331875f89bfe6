package dev.rseq4j.collections;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 10,000 virtual threads update per-CPU shards under the lock; one in ten sleeps while it holds it.
 * A sleeping holder unmounts, so the other threads of its region must wait parked (unmounted too),
 * and the carriers keep running everything else: the run finishes well within the timeout, with
 * exact totals. With waiters that spun instead of parking, the carriers (2 here) would be occupied by
 * spinners while the sleepers could not be remounted to unlock.
 */
class VirtualThreadLockTest {
    private static final int THREADS = 10_000;
    private static final int INCREMENTS = 20;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void tenThousandVirtualThreadsSomeSleepingInsideCountExactly() throws Exception {
        for (boolean shards : new boolean[] {false, true}) {
            PerCpuSpinLock lock = new PerCpuSpinLock();
            PerCpu<LockSelfTest.Shard> perCpu = PerCpu.over(lock, r -> new LockSelfTest.Shard());
            LockSelfTest.Shard[] all = LockSelfTest.shards(perCpu);
            AtomicReference<Throwable> error = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            long start = System.nanoTime();
            for (int t = 0; t < THREADS; t++) {
                boolean sleeper = t % 10 == 0;
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        for (int n = 0; n < INCREMENTS; n++) {
                            boolean sleep = sleeper && n == 0;
                            if (shards) {
                                perCpu.withCurrent(s -> {
                                    LockSelfTest.increment(s);
                                    sleepIf(sleep);
                                    return null;
                                });
                            } else {
                                int r = lock.lock();
                                try {
                                    LockSelfTest.increment(all[r]);
                                    sleepIf(sleep);
                                } finally {
                                    lock.unlock(r);
                                }
                            }
                        }
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                    }
                }));
            }
            for (Thread t : threads) {
                t.join();
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            if (error.get() != null) {
                throw new AssertionError("a virtual thread failed", error.get());
            }
            long total = perCpu.reduce(0L, (sum, s) -> sum + s.count);
            long overlaps = perCpu.reduce(0L, (sum, s) -> sum + s.overlaps);
            System.out.println("virtual-threads lock " + (shards ? "withCurrent" : "lock/unlock") + " threads=" + THREADS
                    + " sleepers=" + THREADS / 10 + " total=" + total + " overlaps=" + overlaps + " millis=" + millis
                    + " " + lock.lockStats());
            assertEquals((long) THREADS * INCREMENTS, total, "every increment counted once");
            assertEquals(0, overlaps);
            assertTrue(lock.lockStats().parks() > 0, "holders slept: waiters must have parked " + lock.lockStats());
        }
    }

    private static void sleepIf(boolean sleep) {
        if (sleep) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
