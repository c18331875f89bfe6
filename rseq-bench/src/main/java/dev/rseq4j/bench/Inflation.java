package dev.rseq4j.bench;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** Drives {@link LongAdder}s to full inflation: every cell of a cell table as large as it grows here. */
final class Inflation {
    private static final Field CELLS = cellsField();

    private Inflation() {
    }

    private static Field cellsField() {
        try {
            Field f = Class.forName("java.util.concurrent.atomic.Striped64").getDeclaredField("cells");
            f.setAccessible(true);   // needs --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** Whether full inflation can be verified (reflection allowed). */
    static boolean verifiable() {
        return CELLS != null;
    }

    /** Cells of {@code adder} that exist, or -1 when unverifiable. */
    static int cells(LongAdder adder) {
        if (CELLS == null) {
            return -1;
        }
        try {
            Object[] cells = (Object[]) CELLS.get(adder);
            int n = 0;
            if (cells != null) {
                for (Object c : cells) {
                    n += c == null ? 0 : 1;
                }
            }
            return n;
        } catch (IllegalAccessException e) {
            return -1;
        }
    }

    /** Cells a fully inflated adder has on this machine: the power of two at or above the CPU count. */
    static int fullCells() {
        int n = Runtime.getRuntime().availableProcessors();
        return n <= 1 ? 1 : Integer.highestOneBit(n - 1) << 1;
    }

    /**
     * Inflates every adder in turn: all threads (2 x CPUs) hammer the same adder until it has all
     * its cells (contention is what makes LongAdder add cells), then move to the next. An adder that
     * is still not full after a million increments per thread is left as it is (counted by the caller).
     */
    static void inflate(List<LongAdder> adders) throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < Math.max(2, 2 * Runtime.getRuntime().availableProcessors()); t++) {
            ts.add(Thread.ofPlatform().start(() -> {
                int spent = 0;
                for (int i; (i = next.get()) < adders.size(); ) {
                    LongAdder a = adders.get(i);
                    for (int k = 0; k < 256; k++) {
                        a.increment();
                    }
                    spent += 256;
                    boolean done = verifiable() ? cells(a) >= fullCells() : spent >= 10_000;
                    if (done || spent >= 1_000_000) {
                        if (next.compareAndSet(i, i + 1)) {
                            spent = 0;
                        }
                    }
                    if (next.get() != i) {
                        spent = 0;
                    }
                }
            }));
        }
        for (Thread t : ts) {
            t.join();
        }
    }

    /** Inflates one adder, running {@code alongside} in the same threads (to spread another counter over CPUs). */
    static void inflate(LongAdder adder, Runnable alongside) throws InterruptedException {
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < Math.max(2, 2 * Runtime.getRuntime().availableProcessors()); t++) {
            ts.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 200_000; i++) {
                    adder.increment();
                    alongside.run();
                }
            }));
        }
        for (Thread t : ts) {
            t.join();
        }
    }
}
