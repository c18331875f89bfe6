package dev.rseq4j.collections;

import dev.rseq4j.core.Rseq;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Run in forked JVMs by {@link ChurnTest}: create-use-drop counters in the shared arena, as a user
 * would, with a fixed number of live counters, and record the most ranges the arena ever had mapped.
 *
 * <p>Arguments: {@code label threads livePerThread maxCreations maxSeconds [stopAboveRanges]}.
 * Each thread keeps a ring of {@code livePerThread} counters (each with sum 3) and replaces one per
 * step by {@code new PerCpuCounter()}, adds 3 and checks that the new counter's sum is 3; every 256
 * steps it also checks another live counter of its ring (a chunk zeroed while one of its counters is
 * live reads 0, a word handed out without zeroing reads 6). The run stops at {@code maxCreations} in
 * all, after {@code maxSeconds}, or (negative control) as soon as the arena has more than
 * {@code stopAboveRanges} ranges. A sampler thread reads {@link PerCpuArena#ranges()} every 2 ms.
 *
 * <p>Prints one line
 * {@code CHURN gc=<label> mode=<RSEQ|LOCK> threads=.. live=.. creations=.. seconds=.. perSecond=.. maxRanges=.. threshold0=.. thresholdMax=.. finalRanges=.. wrongSums=.. error=.. thresholds=..}
 * and exits 0 when nothing was wrong (the test compares maxRanges with its bound).
 */
public final class ChurnProbe {
    public static void main(String[] args) throws Exception {
        String label = args[0];
        int threads = Integer.parseInt(args[1]);
        int livePerThread = Integer.parseInt(args[2]);
        long maxCreations = Long.parseLong(args[3]);
        long maxNanos = (long) (Double.parseDouble(args[4]) * 1e9);
        int stopAboveRanges = args.length > 5 ? Integer.parseInt(args[5]) : Integer.MAX_VALUE;

        PerCpuArena arena = PerCpuArena.shared();
        int threshold0 = arena.gcThreshold();
        AtomicLong creations = new AtomicLong();
        AtomicLong wrongSums = new AtomicLong();
        AtomicReference<Throwable> error = new AtomicReference<>();
        int[] maxRanges = {arena.ranges()};
        int[] maxThreshold = {threshold0};
        // The thresholds seen, in order (the first 40 changes): how the valve moved.
        StringBuilder thresholds = new StringBuilder().append(threshold0);
        int[] lastThreshold = {threshold0};
        int[] thresholdChanges = {0};
        long start = System.nanoTime();
        long deadline = start + maxNanos;
        // Set by the sampler for the negative control, or by any thread on error: every worker stops.
        boolean[] stop = {false};
        Object stopLock = new Object();

        Thread sampler = Thread.ofPlatform().daemon().name("churn-sampler").start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                int r = arena.ranges();
                int t = arena.gcThreshold();
                synchronized (stopLock) {
                    maxRanges[0] = Math.max(maxRanges[0], r);
                    maxThreshold[0] = Math.max(maxThreshold[0], t);
                    if (t != lastThreshold[0] && thresholdChanges[0]++ < 40) {
                        thresholds.append(',').append(t);
                    }
                    lastThreshold[0] = t;
                    if (r > stopAboveRanges) {
                        stop[0] = true;
                    }
                }
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });

        CountDownLatch done = new CountDownLatch(threads);
        long quota = maxCreations / threads;   // creations per thread
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            workers[t] = Thread.ofPlatform().name("churn-" + t).start(() -> {
                try {
                    PerCpuCounter[] ring = new PerCpuCounter[livePerThread];
                    for (int i = 0; i < livePerThread; i++) {
                        ring[i] = new PerCpuCounter();
                        ring[i].add(3);
                    }
                    long made = livePerThread;
                    long local = 0;
                    while (made < quota) {
                        PerCpuCounter c = new PerCpuCounter();
                        c.add(3);
                        if (c.sum() != 3) {
                            wrongSums.incrementAndGet();
                        }
                        ring[(int) (made % livePerThread)] = c;
                        made++;
                        if ((made & 255) == 0) {
                            PerCpuCounter other = ring[(int) ((made * 31) % livePerThread)];
                            if (other.sum() != 3) {
                                wrongSums.incrementAndGet();
                            }
                        }
                        if ((made & 0xFFFF) == 0) {
                            creations.addAndGet(made - local);
                            local = made;
                            boolean s;
                            synchronized (stopLock) {
                                s = stop[0];
                            }
                            if (s || System.nanoTime() > deadline) {
                                break;
                            }
                        }
                    }
                    creations.addAndGet(made - local);
                    for (PerCpuCounter c : ring) {
                        if (c.sum() != 3) {
                            wrongSums.incrementAndGet();
                        }
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                    synchronized (stopLock) {
                        stop[0] = true;
                    }
                } finally {
                    done.countDown();
                }
            });
        }
        done.await();
        double seconds = (System.nanoTime() - start) / 1e9;
        sampler.interrupt();
        sampler.join();
        int finalRanges = arena.ranges();
        int mr;
        int mt;
        String thresholdTrace;
        synchronized (stopLock) {
            thresholdTrace = thresholds.toString();
            mr = Math.max(maxRanges[0], finalRanges);
            mt = Math.max(maxThreshold[0], arena.gcThreshold());
        }
        Throwable e = error.get();
        if (e != null) {
            e.printStackTrace(System.out);
        }
        System.out.printf("CHURN gc=%s mode=%s threads=%d live=%d creations=%d seconds=%.2f perSecond=%.0f"
                        + " maxRanges=%d threshold0=%d thresholdMax=%d finalRanges=%d wrongSums=%d error=%s thresholds=%s%n",
                label, Rseq.status().mode(), threads, threads * livePerThread, creations.get(), seconds,
                creations.get() / seconds, mr, threshold0, mt, finalRanges, wrongSums.get(),
                e == null ? "none" : e.toString().replace(' ', '_'), thresholdTrace);
        System.exit(e == null && wrongSums.get() == 0 ? 0 : 1);
    }
}
