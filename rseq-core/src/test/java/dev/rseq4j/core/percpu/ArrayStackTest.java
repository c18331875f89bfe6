package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The array stacks under many threads: a fixed set of distinct elements circulates through the regions' stacks
 * by {@link PerCpuOps#arrayPop}/{@link PerCpuOps#arrayPush}, {@link PerCpuOps#arrayCopyOut}/{@link PerCpuOps#arrayCopyIn}
 * (batches of up to {@value #BATCH}) and {@link PerCpuOps#arrayCopyOutFrom} of random regions (stealing), from 8
 * platform threads and from 10,000 virtual threads. Each thread keeps what it took for a while and gives back
 * its oldest elements, so every stack's contents keep changing. Checked: no element is ever taken by two threads
 * at once (online, by an owner table), and at the end every element is on exactly one stack, once (none lost,
 * none duplicated). The production operations, a variant with a busy loop inside every section (which must
 * abort: {@code aborts > 0}), the same with slow paths forced on random regions racing the fast paths, and lock
 * mode. The negative control runs the same workload and checker over a Java stack of the same layout updated
 * with plain loads and stores, which must be caught losing or duplicating elements.
 */
class ArrayStackTest {
    /** Elements in circulation: each region's stack can hold all of them, so a give-back never finds it full. */
    static final int ELEMENTS = 256;
    static final long COUNT = 8;
    static final long SLOTS = 64;
    static final long STRIDE = 4096;            // 64 + 8 * ELEMENTS = 2112 bytes used
    /** The largest batch moved at once (copy out, copy in, copy out from another region). */
    static final int BATCH = 4;
    /** A thread gives back its oldest elements while it holds more than this. */
    static final int KEEP = 4;
    static final int PLATFORM_THREADS = 8;
    static final int VIRTUAL_THREADS = 10_000;
    static final long MILLIS = 400;
    static final int DELAY = 20_000;
    static final int SLOW_EVERY = 20;

    /** The operations of the workload, on one layout: the library's, or the negative control's. */
    interface Stacks {
        int regions();

        /** An element, or -1 when the current region's stack is empty. */
        int pop();

        boolean push(int element);

        boolean copyOut(long[] into, int n);

        boolean copyIn(long[] from, int n);

        int copyOutFrom(int region, long[] into, int max);
    }

    /** The library's operations on {@code stack}. */
    static Stacks library(PerCpuOps ops, ArrayStack stack) {
        return new Stacks() {
            @Override
            public int regions() {
                return stack.area().regions();
            }

            @Override
            public int pop() {
                return ops.arrayPop(stack);
            }

            @Override
            public boolean push(int element) {
                return ops.arrayPush(stack, element);
            }

            @Override
            public boolean copyOut(long[] into, int n) {
                return ops.arrayCopyOut(stack, into, n);
            }

            @Override
            public boolean copyIn(long[] from, int n) {
                return ops.arrayCopyIn(stack, from, n);
            }

            @Override
            public int copyOutFrom(int region, long[] into, int max) {
                return ops.arrayCopyOutFrom(stack, region, into, max);
            }
        };
    }

    /** What one run did and what the checker found. */
    record Outcome(long ops, long pops, long pushes, long copiesOut, long copiesIn, long steals, long heldTwice,
                   long invalid, long putsRefused, long lost, long duplicated, List<Throwable> errors) {
        boolean exact() {
            return heldTwice == 0 && invalid == 0 && putsRefused == 0 && lost == 0 && duplicated == 0 && errors.isEmpty();
        }

        @Override
        public String toString() {
            return "ops=" + ops + " pops=" + pops + " pushes=" + pushes + " copiesOut=" + copiesOut + " copiesIn="
                    + copiesIn + " steals=" + steals + " heldTwice=" + heldTwice + " invalid=" + invalid
                    + " putsRefused=" + putsRefused + " lost=" + lost + " duplicated=" + duplicated
                    + (errors.isEmpty() ? "" : " errors=" + errors);
        }
    }

    /** An area whose regions' stacks hold the elements between them, written before any thread runs. */
    static ArrayStack seeded(CpuIndexing indexing) {
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing, STRIDE);
        ArrayStack stack = new ArrayStack(area, COUNT, SLOTS, ELEMENTS);
        int regions = area.regions();
        int[] count = new int[regions];
        for (int e = 0; e < ELEMENTS; e++) {
            int r = e % regions;
            area.setLongRelease(r, SLOTS + 8L * count[r]++, e);
        }
        for (int r = 0; r < regions; r++) {
            area.setLongRelease(r, COUNT, count[r]);
        }
        return stack;
    }

    /** The checker's end: every element on exactly one stack, once; counts within the capacity. */
    static long[] lostAndDuplicated(ArrayStack stack) {
        PerCpuArea area = stack.area();
        int[] seen = new int[ELEMENTS];
        long invalid = 0;
        for (int r = 0; r < area.regions(); r++) {
            long count = area.getLongOpaque(r, COUNT);
            if (count < 0 || count > stack.capacity()) {
                invalid++;
                continue;
            }
            for (int i = 0; i < count; i++) {
                long e = area.getLongOpaque(r, SLOTS + 8L * i);
                if (e < 0 || e >= ELEMENTS) {
                    invalid++;
                } else {
                    seen[(int) e]++;
                }
            }
        }
        long lost = 0;
        long duplicated = 0;
        for (int n : seen) {
            lost += n == 0 ? 1 : 0;
            duplicated += Math.max(0, n - 1);
        }
        return new long[] {lost, duplicated, invalid};
    }

    /** One thread's part of the workload; counts into the shared adders. */
    static final class Worker implements Runnable {
        final Stacks stacks;
        final AtomicIntegerArray owner;
        final AtomicBoolean stop;
        final CountDownLatch go;
        final boolean yield;
        final Counts counts;
        final Queue<Throwable> errors;
        private final ArrayDeque<Integer> hand = new ArrayDeque<>();
        private final long[] batch = new long[BATCH];

        Worker(Stacks stacks, AtomicIntegerArray owner, AtomicBoolean stop, CountDownLatch go, boolean yield,
               Counts counts, Queue<Throwable> errors) {
            this.stacks = stacks;
            this.owner = owner;
            this.stop = stop;
            this.go = go;
            this.yield = yield;
            this.counts = counts;
            this.errors = errors;
        }

        @Override
        public void run() {
            try {
                go.await();
                ThreadLocalRandom random = ThreadLocalRandom.current();
                while (!stop.get()) {
                    if (hand.size() <= 2 * KEEP) {
                        take(random);
                    }
                    if (hand.size() > KEEP) {
                        give(random.nextBoolean() ? 1 : Math.min(BATCH, hand.size() - KEEP));
                    }
                    counts.ops.increment();
                    if (yield) {
                        Thread.yield();     // a virtual thread gives its carrier to the next one
                    }
                }
                while (!hand.isEmpty()) {
                    give(Math.min(BATCH, hand.size()));
                }
            } catch (Throwable t) {
                errors.add(t);
            }
        }

        private void take(ThreadLocalRandom random) {
            int choice = random.nextInt(10);
            if (choice < 5) {
                int e = stacks.pop();
                if (e >= 0) {
                    counts.pops.increment();
                    took(e);
                }
            } else if (choice < 8) {
                int n = 1 + random.nextInt(BATCH);
                if (stacks.copyOut(batch, n)) {
                    counts.copiesOut.increment();
                    for (int i = 0; i < n; i++) {
                        took(batch[i]);
                    }
                }
            } else {
                int k = stacks.copyOutFrom(random.nextInt(stacks.regions()), batch, 1 + random.nextInt(BATCH));
                if (k > 0) {
                    counts.steals.increment();
                }
                for (int i = 0; i < k; i++) {
                    took(batch[i]);
                }
            }
        }

        private void took(long e) {
            if (e < 0 || e >= ELEMENTS) {
                counts.invalid.increment();
                return;
            }
            if (owner.getAndSet((int) e, 1) != 0) {
                counts.heldTwice.increment();   // taken while another thread holds it: a duplicate
                return;
            }
            hand.add((int) e);
        }

        /** Gives back the {@code n} oldest elements held: a push for one, a copy in for more. */
        private void give(int n) {
            for (int i = 0; i < n; i++) {
                batch[i] = hand.poll();
                owner.set((int) batch[i], 0);    // before the put: another thread may take it at once
            }
            boolean put = n == 1 ? stacks.push((int) batch[0]) : stacks.copyIn(batch, n);
            if (!put) {
                counts.putsRefused.increment(); // no stack fills while every element fits in one: dropped, lost
            } else if (n == 1) {
                counts.pushes.increment();
            } else {
                counts.copiesIn.increment();
            }
        }
    }

    static final class Counts {
        final LongAdder ops = new LongAdder();
        final LongAdder pops = new LongAdder();
        final LongAdder pushes = new LongAdder();
        final LongAdder copiesOut = new LongAdder();
        final LongAdder copiesIn = new LongAdder();
        final LongAdder steals = new LongAdder();
        final LongAdder heldTwice = new LongAdder();
        final LongAdder invalid = new LongAdder();
        final LongAdder putsRefused = new LongAdder();
    }

    /**
     * Runs the workload over {@code stacks} (laid out on {@code stack}) from {@code threads} threads, virtual or
     * platform, for {@code millis} after all of them started, then checks. With virtual threads, two platform
     * threads spin meanwhile, so that the carriers are preempted (inside sections, where the variant aborts).
     */
    static Outcome circulate(ArrayStack stack, Stacks stacks, int threads, boolean virtual, long millis)
            throws InterruptedException {
        AtomicIntegerArray owner = new AtomicIntegerArray(ELEMENTS);
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch go = new CountDownLatch(1);
        Counts counts = new Counts();
        Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Worker w = new Worker(stacks, owner, stop, go, virtual, counts, errors);
            all.add(virtual ? Thread.ofVirtual().start(w) : Thread.ofPlatform().start(w));
        }
        List<Thread> hogs = new ArrayList<>();
        if (virtual) {
            for (int i = 0; i < 2; i++) {
                hogs.add(Thread.ofPlatform().daemon().start(() -> {
                    while (!stop.get()) {
                        Thread.onSpinWait();
                    }
                }));
            }
        }
        go.countDown();
        Thread.sleep(millis);
        stop.set(true);
        for (Thread t : all) {
            t.join();
        }
        for (Thread t : hogs) {
            t.join();
        }
        long[] end = lostAndDuplicated(stack);
        return new Outcome(counts.ops.sum(), counts.pops.sum(), counts.pushes.sum(), counts.copiesOut.sum(),
                counts.copiesIn.sum(), counts.steals.sum(), counts.heldTwice.sum(), counts.invalid.sum() + end[2],
                counts.putsRefused.sum(), end[0], end[1], List.copyOf(errors));
    }

    static List<Arguments> variants() {
        RseqRuntime rt = RseqRuntime.get();
        List<Arguments> variants = new ArrayList<>();
        for (CpuIndexing index : CpuIndexing.values()) {
            if (!rt.rseqMode() || (index == CpuIndexing.CONCURRENCY_ID && !rt.status().mmCid())) {
                continue;
            }
            variants.add(Arguments.of("production " + index, false,
                    (Supplier<PerCpuOps>) () -> GuardedPerCpuOps.production(index)));
            variants.add(Arguments.of("delay " + DELAY + " " + index, true,
                    (Supplier<PerCpuOps>) () -> OpsVariant.of(index).withDelay(DELAY).create()));
            variants.add(Arguments.of("delay " + DELAY + " + slow paths 1/" + SLOW_EVERY + " " + index, true,
                    (Supplier<PerCpuOps>) () -> OpsVariant.of(index).withDelay(DELAY).forcingSlowPathEvery(SLOW_EVERY)
                            .create()));
        }
        if (!rt.rseqMode()) {
            variants.add(Arguments.of("production (lock mode process)", false,
                    (Supplier<PerCpuOps>) PerCpuOps::cpuIndexed));
        }
        variants.add(Arguments.of("lock mode", false, (Supplier<PerCpuOps>) OpsVariant::lockMode));
        return variants;
    }

    private static void check(String what, PerCpuOps ops, boolean mustAbort, Outcome o) {
        PerCpuStats stats = ops.stats();
        System.out.println("torture array-stack " + what + " " + o + " aborts=" + stats.aborts() + " slowPaths="
                + stats.slowPaths() + " guarded=" + stats.guarded());
        assertTrue(o.exact(), what + ": every element exactly once, never held twice: " + o);
        assertTrue(o.pops() > 0 && o.pushes() > 0 && o.copiesOut() > 0 && o.copiesIn() > 0 && o.steals() > 0,
                what + ": every operation ran: " + o);
        if (mustAbort) {
            assertTrue(stats.aborts() > 0, what + ": the busy loop inside the sections must have been aborted: " + stats);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void eightPlatformThreadsCirculateEveryElementExactlyOnce(String what, boolean mustAbort, Supplier<PerCpuOps> variant)
            throws InterruptedException {
        PerCpuOps ops = variant.get();
        ArrayStack stack = seeded(ops.indexing());
        check(what + " platform x" + PLATFORM_THREADS, ops, mustAbort,
                circulate(stack, library(ops, stack), PLATFORM_THREADS, false, MILLIS));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void tenThousandVirtualThreadsCirculateEveryElementExactlyOnce(String what, boolean mustAbort,
                                                                     Supplier<PerCpuOps> variant)
            throws InterruptedException {
        PerCpuOps ops = variant.get();
        // NOTE: virtual threads' sections abort only when the kernel preempts a carrier, less often than with 8
        // platform threads: each round is checked, and another runs (at most 5 in all) while none has aborted.
        for (int round = 1; ; round++) {
            ArrayStack stack = seeded(ops.indexing());
            Outcome o = circulate(stack, library(ops, stack), VIRTUAL_THREADS, true, MILLIS);
            boolean last = !mustAbort || ops.stats().aborts() > 0 || round == 5;
            check(what + " virtual x" + VIRTUAL_THREADS + " round " + round, ops, mustAbort && last, o);
            if (last) {
                break;
            }
        }
    }

    /**
     * The negative control: the same layout, workload and checker over a stack updated with plain Java loads and
     * stores (read the count, then the slots, a short spin, then write the count: no section, no guard), every
     * thread on region 0. The checker must see an element held twice, lost or duplicated. Runs rounds until it
     * does (at most 6).
     */
    @Test
    void negativeControlWithPlainLoadsAndStoresIsCaught() throws InterruptedException {
        Outcome caught = null;
        int rounds = 0;
        while (caught == null && rounds++ < 6) {
            ArrayStack stack = seeded(CpuIndexing.CPU);
            Outcome o = circulate(stack, new Racy(stack), PLATFORM_THREADS, false, MILLIS);
            if (!o.exact()) {
                caught = o;
            }
        }
        System.out.println("torture array-stack negative-control rounds=" + rounds + " " + caught);
        assertTrue(caught != null, "plain loads and stores from " + PLATFORM_THREADS
                + " threads on one region must lose or duplicate elements, and the checker must see it");
        assertTrue(caught.heldTwice() + caught.lost() + caught.duplicated() > 0, caught.toString());
    }

    /** A non-atomic array stack on region 0 of the same layout: what the sections prevent. */
    static final class Racy implements Stacks {
        private final ArrayStack stack;
        private final MemorySegment region;

        Racy(ArrayStack stack) {
            this.stack = stack;
            this.region = stack.area().region(0);
        }

        private static void window() {
            for (int i = 0; i < 20; i++) {
                Thread.onSpinWait();
            }
        }

        private long slot(long i) {
            return SLOTS + 8 * i;
        }

        @Override
        public int regions() {
            return stack.area().regions();
        }

        @Override
        public int pop() {
            long n = region.get(JAVA_LONG, COUNT);
            if (n <= 0 || n > stack.capacity()) {
                return -1;
            }
            long e = region.get(JAVA_LONG, slot(n - 1));
            window();
            region.set(JAVA_LONG, COUNT, n - 1);
            return (int) e;
        }

        @Override
        public boolean push(int element) {
            long n = region.get(JAVA_LONG, COUNT);
            if (n < 0 || n >= stack.capacity()) {
                return false;
            }
            region.set(JAVA_LONG, slot(n), element);
            window();
            region.set(JAVA_LONG, COUNT, n + 1);
            return true;
        }

        @Override
        public boolean copyOut(long[] into, int n) {
            long c = region.get(JAVA_LONG, COUNT);
            if (c < n || c > stack.capacity()) {
                return false;
            }
            MemorySegment.copy(region, JAVA_LONG, slot(c - n), into, 0, n);
            window();
            region.set(JAVA_LONG, COUNT, c - n);
            return true;
        }

        @Override
        public boolean copyIn(long[] from, int n) {
            long c = region.get(JAVA_LONG, COUNT);
            if (c < 0 || c + n > stack.capacity()) {
                return false;
            }
            MemorySegment.copy(from, 0, region, JAVA_LONG, slot(c), n);
            window();
            region.set(JAVA_LONG, COUNT, c + n);
            return true;
        }

        @Override
        public int copyOutFrom(int ignored, long[] into, int max) {
            long c = region.get(JAVA_LONG, COUNT);
            int k = (int) Math.min(Math.max(c, 0), max);
            if (k == 0 || c > stack.capacity()) {
                return 0;
            }
            MemorySegment.copy(region, JAVA_LONG, slot(c - k), into, 0, k);
            window();
            region.set(JAVA_LONG, COUNT, c - k);
            return k;
        }
    }
}
