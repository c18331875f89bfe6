package dev.rseq4j.core.percpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.Executors;
import java.util.concurrent.atomic.LongAdder;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** 10,000 virtual threads (on a handful of carriers) using the operations: totals are exact. */
class VirtualThreadsTest {
    private static final int THREADS = 10_000;
    private static final int PER_THREAD = 100;

    @Test
    void exactTotalsFromTenThousandVirtualThreads() {
        PerCpuOps ops = PerCpuOps.cpuIndexed();
        PerCpuArea area = PerCpuArea.forPossibleCpus(ops.indexing(), 128);
        NodePool nodes = new NodePool(THREADS, 16, 0);
        LongAdder casCommits = new LongAdder();
        try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < THREADS; t++) {
                int id = t;
                executor.submit(() -> {
                    for (int i = 0; i < PER_THREAD; i++) {
                        ops.add(area, 8, 1);
                        int region = ops.currentIndex(area);
                        long v = area.getLongOpaque(region, 16);
                        if (ops.compareAndStore(area, region, 16, v, v + 1)) {
                            casCommits.increment();
                        }
                        if (i % 10 == 0) {
                            Thread.yield(); // unmount: the next operation may run on another carrier
                        }
                    }
                    ops.push(area, 24, nodes, id);
                });
            }
        }
        assertEquals((long) THREADS * PER_THREAD, sum(area, 8));
        assertEquals(casCommits.sum(), sum(area, 16));
        long onLists = 0;
        for (int r = 0; r < area.regions(); r++) {
            for (long p = area.region(r).get(JAVA_LONG, 24); p != 0; p = nodes.node(nodes.indexOf(p)).get(JAVA_LONG, 0)) {
                onLists++;
            }
        }
        assertEquals(THREADS, onLists);
    }

    private static long sum(PerCpuArea area, long offset) {
        long s = 0;
        for (int r = 0; r < area.regions(); r++) {
            s += area.region(r).get(JAVA_LONG, offset);
        }
        return s;
    }
}
