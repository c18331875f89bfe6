package dev.rseq4j.collections;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.IntConsumer;

/**
 * The worker threads of the collections' self-tests ({@code ./rseq4j diagnose}): all started first,
 * each waiting at a gate, then let go together by {@link #go()}. Started one by one while the earlier
 * ones already spin, 10,000 threads on two CPUs took minutes to start (each start competes with the
 * spinners); parked at the gate they start in about a second, and the timed phase measures them all.
 */
final class SelfTestWorkers {
    private final CountDownLatch ready;
    private final CountDownLatch gate = new CountDownLatch(1);
    private final List<Thread> threads;

    /** Starts {@code count} threads ({@code name-i}; virtual if {@code virtual}) that run {@code body.accept(i)} once let go. */
    SelfTestWorkers(int count, String name, boolean virtual, IntConsumer body) {
        ready = new CountDownLatch(count);
        threads = new ArrayList<>(count);
        for (int t = 0; t < count; t++) {
            int me = t;
            Runnable run = () -> {
                ready.countDown();
                awaitUninterruptibly(gate);
                body.accept(me);
            };
            threads.add(virtual ? Thread.ofVirtual().name(name + "-" + t).start(run)
                    : Thread.ofPlatform().name(name + "-" + t).start(run));
        }
    }

    /** Waits until every thread is at the gate, then opens it. */
    void go() {
        awaitUninterruptibly(ready);
        gate.countDown();
    }

    /** Waits for every thread to finish (the caller told them to stop); keeps the interrupt status. */
    void join() {
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;     // keep waiting: the run must finish
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                latch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
