package dev.rseq4j.core.tools;

import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.percpu.ArrayStack;
import dev.rseq4j.core.percpu.NodePool;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.LongStream;

/**
 * The checks behind the diagnostics, shared with the tests: one checked call of every operation, and
 * a torture run per operation that counts operations, aborts and lost updates.
 *
 * <p>Torture region layout (one area, {@link #STRIDE} bytes per region):
 * <pre>
 *   +0   guard
 *   +8   word: the counter / list head / ring index / array stack's count
 *   +16  limit: the reservation's limit word (set high for the torture)
 *   +24  batch: the three words a batch adds 1, 2 and 3 to
 *   +64  ring: {@link #SLOTS} slots of 8 bytes (try-store) or records of {@link #RECORD} bytes (memcpy:
 *        the header word, length {@link #PAYLOAD} and a type id, then the payload); or the array
 *        stack's {@link #ELEMENTS} slots
 * </pre>
 * "Lost" means: increments missing from the sum of all regions, nodes missing from (or duplicated
 * in) the lists, elements missing from (or duplicated in) the array stacks, or committed ring slots
 * or records (header or payload) whose content does not match their index.
 */
public final class SelfTest {
    static final long WORD = 8;
    static final long LIMIT = 16;
    static final long BATCH = 24;
    static final long RING = 64;
    static final int SLOTS = 32;
    static final int PAYLOAD = 24;
    static final int RECORD = Operation.RECORD_HEADER_BYTES + PAYLOAD;
    static final long STRIDE = RING + SLOTS * RECORD;   // 1088, a multiple of 64
    static final int NODES = 256;
    /** Elements the array torture circulates; each region's stack can hold all of them. */
    static final int ELEMENTS = 64;
    /** Elements one array batch moves (copy out, then copy in). */
    static final int ARRAY_BATCH = 4;

    private SelfTest() {
    }

    /**
     * The outcome of one torture run.
     *
     * @param ops       operations called, whatever their outcome (a compare that failed, a pop of an
     *                  empty list count too), so that {@code slowPaths <= ops}; in lock mode every
     *                  operation is a slow path and the two are equal
     * @param aborts    sequences the kernel aborted
     * @param slowPaths operations completed under the guard
     * @param lost      updates lost (see the class notes)
     */
    public record Result(Operation operation, long ops, long aborts, long slowPaths, long lost) {
        @Override
        public String toString() {
            return String.format("op=%-28s ops=%d aborts=%d slowPaths=%d lost=%d", operation, ops, aborts, slowPaths, lost);
        }
    }

    /**
     * Whether {@link #torture} has a run of its own for {@code op}: the second half of a pair runs inside
     * the first's (LIST_PUSH inside LIST_POP, ARRAY_PUSH inside ARRAY_POP, ARRAY_COPY_IN inside ARRAY_COPY_OUT),
     * since each run puts back what it takes.
     */
    public static boolean hasOwnRun(Operation op) {
        return op != Operation.LIST_PUSH && op != Operation.ARRAY_PUSH && op != Operation.ARRAY_COPY_IN;
    }

    /** Runs every operation once on a fresh area and checks its result; returns the failures (empty = pass). */
    public static List<String> checkOnce(PerCpuOps ops) {
        List<String> failures = new ArrayList<>();
        PerCpuArea area = PerCpuArea.forPossibleCpus(ops.indexing(), STRIDE);
        ops.add(area, WORD, 5);
        expect(failures, "add: sum", 5, area.sumLongOpaque(WORD));
        int here = ops.currentIndex(area);
        expect(failures, "compareAndStore: mismatch", false, ops.compareAndStore(area, here, WORD, Long.MIN_VALUE, 1));
        expect(failures, "compareAndStore: unchanged sum", 5, area.sumLongOpaque(WORD));
        long v = area.getLongOpaque(here, WORD);
        expect(failures, "compareAndStore: commit", true, ops.compareAndStore(area, here, WORD, v, v + 1));
        expect(failures, "compareAndStore: sum", 6, area.sumLongOpaque(WORD));
        int missed = ops.compareAndStoreCurrent(area, WORD, Long.MIN_VALUE, 1);
        expect(failures, "compareAndStoreCurrent: mismatch names a region", true, missed < 0 && ~missed < area.regions());
        expect(failures, "compareAndStoreCurrent: unchanged sum", 6, area.sumLongOpaque(WORD));
        long[] stores = {0};
        expect(failures, "compareAndStoreCurrent: commit", true, retry(() -> {
            int r = ops.currentIndex(area);
            long w = area.getLongOpaque(r, WORD);
            int stored = ops.compareAndStoreCurrent(area, WORD, w, w + 1);   // another region if the thread moved
            if (stored >= 0) {
                stores[0]++;                            // an increment of whichever region held w
            }
            return stored == r;
        }));
        expect(failures, "compareAndStoreCurrent: sum", 6 + stores[0], area.sumLongOpaque(WORD));

        ops.addEach(area, BATCH, 3, 1, 2, 3);
        ops.addEach(area, BATCH, 2, 10, 20, 99);               // the third value is past the count: ignored
        expect(failures, "addEach: first word", 11, area.sumLongOpaque(BATCH));
        expect(failures, "addEach: second word", 22, area.sumLongOpaque(BATCH + 8));
        expect(failures, "addEach: third word", 3, area.sumLongOpaque(BATCH + 16));

        PerCpuArea slots = PerCpuArea.forPossibleCpus(ops.indexing(), STRIDE);
        for (int r = 0; r < slots.regions(); r++) {
            slots.setLongRelease(r, LIMIT, 3);                  // room for 3 on every region
        }
        long first = ops.reserveCurrent(slots, WORD, LIMIT, 2);
        expect(failures, "reserveCurrent: reserved from 0", true, first >= 0 && first >>> 32 == 0
                && (int) first < slots.regions());
        expect(failures, "reserveCurrent: full on a region", true, retry(() -> {
            long r = ops.reserveCurrent(slots, WORD, LIMIT, 2);   // full where 2 were taken, else reserves
            return r < 0 && slots.getLongOpaque((int) ~r, WORD) + 2 > 3;
        }));
        expect(failures, "reserveCurrent: sum is a multiple of 2", 0, slots.sumLongOpaque(WORD) % 2);

        PerCpuArea lists = PerCpuArea.forPossibleCpus(ops.indexing(), STRIDE);
        NodePool pool = new NodePool(2, 16, 8);
        expect(failures, "pop: empty", -1, ops.pop(lists, WORD, pool));
        expect(failures, "push then pop", true, retry(() -> {
            ops.push(lists, WORD, pool, 1);
            int popped = ops.pop(lists, WORD, pool);   // -1 if the thread moved to another CPU in between
            if (popped != -1 && popped != 1) {
                throw new IllegalStateException("pop returned node " + popped + ", never pushed");
            }
            return popped == 1;
        }));

        ArrayStack stack = new ArrayStack(PerCpuArea.forPossibleCpus(ops.indexing(), STRIDE), WORD, RING, 4);
        expect(failures, "arrayPop: empty", -1, ops.arrayPop(stack));
        expect(failures, "arrayPush then arrayPop", true, retry(() -> {
            boolean pushed = ops.arrayPush(stack, 7);
            int popped = ops.arrayPop(stack);      // -1 if the thread moved to another CPU in between
            if (!pushed || popped != -1 && popped != 7) {
                throw new IllegalStateException("arrayPop returned " + popped + ", never pushed (pushed " + pushed + ")");
            }
            return popped == 7;
        }));
        long[] batch = {1, 2, 3, 4, 5};
        long[] out = new long[4];
        expect(failures, "arrayCopyIn, arrayPush to full, arrayCopyOut", true, retry(() -> {
            drain(ops, stack);                     // every region empty (a retry after a migration)
            boolean none = !ops.arrayCopyOut(stack, out, 1);
            boolean in = ops.arrayCopyIn(stack, batch, 3);
            boolean noRoom = !ops.arrayCopyIn(stack, batch, 2);
            boolean pushed = ops.arrayPush(stack, 9);
            boolean full = !ops.arrayPush(stack, 10);
            boolean moved = ops.arrayCopyOut(stack, out, 4);
            return none && in && noRoom && pushed && full && moved
                    && out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 9;
        }));
        expect(failures, "arrayCopyOutFrom: a region's elements", true, retry(() -> {
            drain(ops, stack);
            if (!ops.arrayCopyIn(stack, batch, 2)) {
                return false;
            }
            return drain(ops, stack) == 2;          // wherever the copy landed
        }));

        PerCpuArea ring = PerCpuArea.forPossibleCpus(ops.indexing(), STRIDE);
        expect(failures, "storeThenCommit: mismatch", false, ops.storeThenCommit(ring, 0, WORD, 7, RING, 42, 8));
        expect(failures, "storeThenCommit: commit", true, ops.storeThenCommit(ring, 0, WORD, 0, RING, 42, 1));
        expect(failures, "storeThenCommit: counters", 1, ring.sumLongOpaque(WORD));
        expect(failures, "storeThenCommit: slot", 42, ring.sumLongOpaque(RING));

        PerCpuArea records = PerCpuArea.forPossibleCpus(ops.indexing(), STRIDE);
        long[] record = {11, 22, 33};
        MemorySegment heap = MemorySegment.ofArray(record);
        expect(failures, "copyThenCommit: mismatch", false, ops.copyThenCommit(records, 0, WORD, 3, RING, 9, heap, PAYLOAD, 4));
        expect(failures, "copyThenCommit: commit", true, ops.copyThenCommit(records, 0, WORD, 0, RING, 9, heap, PAYLOAD, 1));
        expect(failures, "copyThenCommit: counters", 1, records.sumLongOpaque(WORD));
        expect(failures, "copyThenCommit: header", 9L << 32 | PAYLOAD, records.sumLongOpaque(RING));
        expect(failures, "copyThenCommit: payload", 66, records.sumLongOpaque(RING + 8) + records.sumLongOpaque(RING + 16)
                + records.sumLongOpaque(RING + 24));
        return failures;
    }

    /**
     * Runs {@code operation} from {@code threads} platform threads for {@code millis} and counts. The
     * clock starts once every thread has started (starting thousands of threads takes longer than a
     * short run), and the threads start working together.
     */
    public static Result torture(PerCpuOps ops, Operation operation, int threads, long millis) {
        PerCpuArea area = PerCpuArea.forPossibleCpus(ops.indexing(), STRIDE);
        NodePool nodes = new NodePool(NODES, 16, 0);
        ArrayStack stack = new ArrayStack(area, WORD, RING, ELEMENTS);
        for (int r = 0; r < area.regions(); r++) {
            area.setLongRelease(r, LIMIT, Long.MAX_VALUE);        // the reservation never runs full
        }
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch ready = new CountDownLatch(threads);
        CountDownLatch go = new CountDownLatch(1);
        long[] calls = new long[threads];
        long[] commits = new long[threads];
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            workers.add(Thread.ofPlatform().name("rseq4j-selftest-" + t).start(() -> {
                if (operation == Operation.LIST_PUSH || operation == Operation.LIST_POP) {
                    for (int i = id; i < NODES; i += threads) {
                        ops.push(area, WORD, nodes, i);   // the nodes this run circulates; not counted
                    }
                }
                if (operation == Operation.ARRAY_POP || operation == Operation.ARRAY_PUSH
                        || operation == Operation.ARRAY_COPY_OUT || operation == Operation.ARRAY_COPY_IN) {
                    for (int e = id; e < ELEMENTS; e += threads) {
                        ops.arrayPush(stack, e);          // never full: a stack holds all ELEMENTS
                    }
                }
                ready.countDown();
                await(go);
                work(ops, operation, area, nodes, stack, stop, calls, commits, id);
            }));
        }
        await(ready);
        long abortsAtStart = ops.stats().aborts();
        long slowAtStart = ops.stats().slowPaths();
        go.countDown();
        sleep(millis);
        stop.set(true);
        for (Thread w : workers) {
            join(w);
        }
        long lost = lost(operation, area, nodes, stack, LongStream.of(commits).sum());
        // Counted from the start signal: the set-up pushes' aborts and slow paths are not the run's.
        return new Result(operation, LongStream.of(calls).sum(), ops.stats().aborts() - abortsAtStart,
                ops.stats().slowPaths() - slowAtStart, lost);
    }

    /** Calls the operation until {@code stop}; counts calls and commits (pop and push count one each). */
    private static void work(PerCpuOps ops, Operation operation, PerCpuArea area, NodePool nodes, ArrayStack stack,
                             AtomicBoolean stop, long[] callsOut, long[] commitsOut, int id) {
        long calls = 0;
        long commits = 0;
        long[] batch = new long[ARRAY_BATCH];
        long[] record = new long[PAYLOAD / 8];
        MemorySegment heap = MemorySegment.ofArray(record);
        while (!stop.get()) {
            calls++;
            switch (operation) {
                case LOAD_ADD_STORE -> {
                    ops.add(area, WORD, 1);
                    commits++;
                }
                case BATCH_LOAD_ADD_STORE -> {
                    ops.addEach(area, BATCH, 3, 1, 2, 3);
                    commits++;
                }
                case LOAD_COMPARE_STORE -> {
                    int region = ops.currentIndex(area);
                    long v = area.getLongOpaque(region, WORD);
                    if (ops.compareAndStore(area, region, WORD, v, v + 1)) {
                        commits++;
                    }
                }
                case CURRENT_LOAD_COMPARE_STORE -> {
                    // the value is read from the region the thread ran on a moment ago; a commit on
                    // another region that happened to hold the same value is an increment there too
                    long v = area.getLongOpaque(ops.currentIndex(area), WORD);
                    if (ops.compareAndStoreCurrent(area, WORD, v, v + 1) >= 0) {
                        commits++;
                    }
                }
                case CURRENT_LOAD_LIMIT_ADD_STORE -> {
                    if (ops.reserveCurrent(area, WORD, LIMIT, 1) >= 0) {
                        commits++;
                    }
                }
                case LIST_PUSH, LIST_POP -> {
                    int popped = ops.pop(area, WORD, nodes);   // throws if the list was corrupted
                    if (popped >= 0) {
                        ops.push(area, WORD, nodes, popped);
                        calls++;
                        commits += 2;
                    }
                }
                case ARRAY_POP, ARRAY_PUSH -> {
                    int popped = ops.arrayPop(stack);    // throws if a count was corrupted
                    if (popped >= 0) {
                        if (!ops.arrayPush(stack, popped)) {
                            throw new IllegalStateException("array stack full: it holds every element");
                        }
                        calls++;
                        commits += 2;
                    }
                }
                case ARRAY_COPY_OUT, ARRAY_COPY_IN -> {
                    if (ops.arrayCopyOut(stack, batch, ARRAY_BATCH)) {
                        if (!ops.arrayCopyIn(stack, batch, ARRAY_BATCH)) {
                            throw new IllegalStateException("array stack full: it holds every element");
                        }
                        calls++;
                        commits += 2;
                    }
                }
                case LOAD_COMPARE_TRYSTORE_STORE -> {
                    int region = ops.currentIndex(area);
                    long n = area.getLongOpaque(region, WORD);
                    if (ops.storeThenCommit(area, region, WORD, n, RING + (n % SLOTS) * 8, n + 1, n + 1)) {
                        commits++;
                    }
                }
                case LOAD_COMPARE_MEMCPY_STORE -> {
                    int region = ops.currentIndex(area);
                    long n = area.getLongOpaque(region, WORD);
                    record[0] = n;
                    record[1] = n * 31;
                    record[2] = ~n;
                    if (ops.copyThenCommit(area, region, WORD, n, RING + (n % SLOTS) * RECORD, typeId(n), heap, PAYLOAD,
                            n + 1)) {
                        commits++;
                    }
                }
            }
        }
        callsOut[id] = calls;
        commitsOut[id] = commits;
    }

    private static long lost(Operation operation, PerCpuArea area, NodePool nodes, ArrayStack stack, long total) {
        return switch (operation) {
            case LOAD_ADD_STORE, LOAD_COMPARE_STORE, CURRENT_LOAD_COMPARE_STORE, CURRENT_LOAD_LIMIT_ADD_STORE -> Math.abs(total - area.sumLongOpaque(WORD));
            case BATCH_LOAD_ADD_STORE -> Math.abs(total - area.sumLongOpaque(BATCH))
                    + Math.abs(2 * total - area.sumLongOpaque(BATCH + 8)) + Math.abs(3 * total - area.sumLongOpaque(BATCH + 16));
            case LIST_PUSH, LIST_POP -> NODES - distinctNodes(area, nodes);
            case ARRAY_POP, ARRAY_PUSH, ARRAY_COPY_OUT, ARRAY_COPY_IN -> ELEMENTS - distinctElements(stack);
            case LOAD_COMPARE_TRYSTORE_STORE, LOAD_COMPARE_MEMCPY_STORE ->
                    Math.abs(total - area.sumLongOpaque(WORD)) + badSlots(operation, area);
        };
    }

    /** Nodes reachable from all lists, counting a duplicate or a foreign address as a loss. */
    private static long distinctNodes(PerCpuArea area, NodePool nodes) {
        Set<Long> seen = new HashSet<>();
        long bad = 0;
        for (int r = 0; r < area.regions(); r++) {
            long p = area.getLongOpaque(r, WORD);
            for (int steps = 0; p != 0 && steps <= NODES; steps++) {
                long offset = p - nodes.firstAddress();
                if (offset < 0 || offset >= nodes.memory().byteSize() || offset % 16 != 0 || !seen.add(p)) {
                    bad++;
                    break;
                }
                p = nodes.memory().get(ValueLayout.JAVA_LONG, offset + nodes.nextOffset());
            }
        }
        return seen.size() - bad;
    }

    /** Elements held by all regions' stacks, counting a duplicate, a foreign element or a bad count as a loss. */
    private static long distinctElements(ArrayStack stack) {
        Set<Long> seen = new HashSet<>();
        long bad = 0;
        for (int r = 0; r < stack.area().regions(); r++) {
            long count = stack.area().getLongOpaque(r, stack.countOffset());
            if (count < 0 || count > stack.capacity()) {
                bad++;
                continue;
            }
            for (int i = 0; i < count; i++) {
                long e = stack.area().getLongOpaque(r, stack.slotsOffset() + (long) i * ArrayStack.SLOT_BYTES);
                if (e < 0 || e >= ELEMENTS || !seen.add(e)) {
                    bad++;
                }
            }
        }
        return seen.size() - bad;
    }

    /** Committed slots (the last SLOTS-1 of each region) whose content does not match their index. */
    private static long badSlots(Operation operation, PerCpuArea area) {
        long bad = 0;
        for (int r = 0; r < area.regions(); r++) {
            MemorySegment region = area.region(r);
            long count = area.getLongOpaque(r, WORD);
            for (long n = Math.max(0, count - SLOTS + 1); n < count; n++) {
                boolean ok;
                if (operation == Operation.LOAD_COMPARE_TRYSTORE_STORE) {
                    ok = region.get(ValueLayout.JAVA_LONG, RING + (n % SLOTS) * 8) == n + 1;
                } else {
                    long at = RING + (n % SLOTS) * RECORD;
                    ok = region.get(ValueLayout.JAVA_INT, at) == PAYLOAD
                            && region.get(ValueLayout.JAVA_INT, at + 4) == typeId(n)
                            && region.get(ValueLayout.JAVA_LONG, at + 8) == n
                            && region.get(ValueLayout.JAVA_LONG, at + 16) == n * 31
                            && region.get(ValueLayout.JAVA_LONG, at + 24) == ~n;
                }
                if (!ok) {
                    bad++;
                }
            }
        }
        return bad;
    }

    /** The type id of torture record {@code n}: negative for even {@code n}, so a sign-extended length shows. */
    private static int typeId(long n) {
        return (int) (n % 2 == 0 ? ~n : n);
    }

    /** Takes every element of every region's stack with {@link PerCpuOps#arrayCopyOutFrom}; returns how many. */
    private static int drain(PerCpuOps ops, ArrayStack stack) {
        long[] into = new long[stack.capacity()];
        int n = 0;
        for (int r = 0; r < stack.area().regions(); r++) {
            n += ops.arrayCopyOutFrom(stack, r, into, into.length);
        }
        return n;
    }

    /** Retries a step that may miss because the thread moved to another CPU between two calls. */
    private static boolean retry(java.util.function.BooleanSupplier step) {
        for (int i = 0; i < 1000; i++) {
            if (step.getAsBoolean()) {
                return true;
            }
        }
        return false;
    }

    private static void expect(List<String> failures, String what, long expected, long actual) {
        if (expected != actual) {
            failures.add(what + ": expected " + expected + ", got " + actual);
        }
    }

    private static void expect(List<String> failures, String what, boolean expected, boolean actual) {
        if (expected != actual) {
            failures.add(what + ": expected " + expected + ", got " + actual);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
