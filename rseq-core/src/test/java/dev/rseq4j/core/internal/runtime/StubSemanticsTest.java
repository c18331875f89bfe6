package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.platform.RseqAbi;
import dev.rseq4j.core.internal.codegen.StubStatus;
import dev.rseq4j.core.percpu.NodePool;
import dev.rseq4j.core.percpu.PerCpuArea;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Each stub, called directly and single-threaded, against {@link PortableOperations}: the result
 * and the memory after the stub must equal the portable form applied to one region of the memory
 * before it (the region of the CPU the stub ran on). Also the paths that must not write: index out
 * of range (what an unregistered thread's -1/-2 looks like), a held guard, and a compare operation
 * whose {@code expectedIndex} names another region than the one its section ran on (MOVED).
 */
class StubSemanticsTest {
    private static final long STRIDE = 256;
    /** The nodeMask argument of LIST_POP for the 32-byte nodes used here. */
    private static final long MASK_32 = 31;

    @BeforeAll
    static void rseqOnly() {
        assumeTrue(RseqRuntime.get().rseqMode(), "stubs exist in RSEQ mode only");
    }

    static StubHandles stubs(RseqAbi.Field index) {
        assumeTrue(index == RseqAbi.Field.CPU_ID || RseqRuntime.get().status().mmCid(), "mm_cid unavailable");
        return RseqRuntime.get().stubs(index);
    }

    /** Runs {@code stub} until it commits or fails (retrying aborts), then checks the region it used against the portable form. */
    private interface Call {
        long run(long descriptor) throws Throwable;
    }

    private interface Reference {
        long apply(MemorySegment region);
    }

    /** A compare stub called with {@code expectedIndex} first. */
    private interface CompareCall {
        long run(long descriptor, long expectedIndex) throws Throwable;
    }

    /** The region index the calling thread reads now (cpu_id or mm_cid, as the stubs do). */
    private static long currentIndex(StubHandles h) throws Throwable {
        return (long) (h.options().index() == RseqAbi.Field.MM_CID ? h.mmCid() : h.cpuId()).invokeExact();
    }

    /**
     * Calls {@code stub} with the index the thread reads right before the call: the right
     * {@code expectedIndex}. A migration between the probe and the section gives MOVED: probe again.
     */
    private static Call onCurrentRegion(StubHandles h, CompareCall stub) {
        return d -> {
            for (int attempt = 0; attempt < 1000; attempt++) {
                long r = stub.run(d, currentIndex(h));
                if (r != StubStatus.MOVED) {
                    return r;
                }
            }
            throw new AssertionError("1000 consecutive MOVED with the index just read");
        };
    }

    /**
     * A wrong {@code expectedIndex} returns MOVED and stores nothing, even where the operation
     * would succeed on every region: a never-valid index (negative, {@code count}, one whose low 32
     * bits are the right index), and another region's valid index.
     */
    private static void assertMovedWithWrongIndex(StubHandles h, PerCpuArea area, CompareCall stub) throws Throwable {
        long[] neverValid = {-1, area.regions(), Long.MIN_VALUE, 1L << 32};
        for (long wrong : neverValid) {
            assertMoved(area, d -> stub.run(d, wrong == 1L << 32 ? wrong | currentIndex(h) : wrong), "expectedIndex " + wrong);
        }
        if (area.regions() > 1) {
            // Another region's index; if the thread migrates onto that region in between, the
            // operation may commit there: restore the memory and try again.
            byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
            for (int attempt = 0; ; attempt++) {
                long here = currentIndex(h);
                long r = stub.run(area.descriptorAddress(), (here + 1) % area.regions());
                if (r == StubStatus.MOVED) {
                    assertArrayEquals(before, area.memory().toArray(ValueLayout.JAVA_BYTE), "MOVED stores nothing");
                    break;
                }
                assertTrue(attempt < 1000, "another region's index never returned MOVED: " + StubStatus.name(r));
                MemorySegment.copy(MemorySegment.ofArray(before), 0, area.memory(), 0, before.length);
            }
        }
        java.lang.ref.Reference.reachabilityFence(area);
    }

    private static void assertMoved(PerCpuArea area, Call stub, String what) throws Throwable {
        byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
        long r;
        do {
            r = stub.run(area.descriptorAddress());
        } while (r == StubStatus.ABORTED);
        assertEquals(StubStatus.MOVED, r, what);
        assertArrayEquals(before, area.memory().toArray(ValueLayout.JAVA_BYTE), what + ": nothing stored");
    }

    private static long callAndCompare(PerCpuArea area, Call stub, Reference portable) throws Throwable {
        for (int attempt = 0; attempt < 1000; attempt++) {
            byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
            long r = stub.run(area.descriptorAddress());
            if (r == StubStatus.ABORTED) {
                continue;
            }
            byte[] after = area.memory().toArray(ValueLayout.JAVA_BYTE);
            // The stub used one region; the portable form applied to that region of the "before"
            // state must give the same result and the same memory.
            for (int i = 0; i < area.regions(); i++) {
                MemorySegment copy = Arena.ofAuto().allocate(before.length, 4096).copyFrom(MemorySegment.ofArray(before));
                long expected = portable.apply(copy.asSlice(i * STRIDE, STRIDE));
                if (expected == r && Arrays.equals(after, copy.toArray(ValueLayout.JAVA_BYTE))) {
                    return r;
                }
            }
            throw new AssertionError("stub result " + StubStatus.name(r) + " and memory match no region's portable result");
        }
        throw new AssertionError("1000 consecutive aborts");
    }

    /**
     * Calls an operation that returns its region (retrying aborts) and checks the result against the
     * portable form on the region it names, whose indexed result has index 0: the same value once the
     * region is added, and the same memory, changed on that region only.
     */
    private static long callOnCurrentRegion(PerCpuArea area, Call stub, Reference portable) throws Throwable {
        for (int attempt = 0; attempt < 1000; attempt++) {
            byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
            long r = stub.run(area.descriptorAddress());
            if (r == StubStatus.ABORTED) {
                continue;
            }
            assertTrue(StubStatus.isIndexed(r), "an indexed result, was " + StubStatus.name(r));
            int region = StubStatus.indexOf(r);
            assertTrue(region < area.regions(), StubStatus.name(r));
            MemorySegment copy = Arena.ofAuto().allocate(before.length, 4096).copyFrom(MemorySegment.ofArray(before));
            long expected = portable.apply(copy.asSlice(region * STRIDE, STRIDE)) | region;
            assertEquals(Long.toHexString(expected), Long.toHexString(r), "stub and portable form agree");
            assertArrayEquals(copy.toArray(ValueLayout.JAVA_BYTE), area.memory().toArray(ValueLayout.JAVA_BYTE),
                    "only region " + region + " changed, as the portable form says");
            return r;
        }
        throw new AssertionError("1000 consecutive aborts");
    }

    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void loadAddStore(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        long r = callAndCompare(area, d -> (long) h.loadAddStore().invokeExact(d, area.address(8L), 41L),
                region -> PortableOperations.loadAddStore(region, 8, 41));
        assertEquals(StubStatus.COMMITTED, r);
        assertEquals(41, total(area, 8));
    }

    /**
     * The batch: every section's add lands once (summed over the regions: a migration between sections
     * may move the next one), values past the count are ignored, and a partial result names how many
     * sections committed, so that resuming from there, as GuardedPerCpuOps does, ends exact. Delayed stubs
     * from more threads than CPUs, until some call was aborted after a section had committed.
     */
    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void batchLoadAddStoreCommitsEachSectionOnce(RseqAbi.Field index) throws Throwable {
        stubs(index);
        StubHandles h = RseqRuntime.get().stubs(RseqRuntime.get().productionOptions(index).withDelay(20_000));
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        long[] values = {1, 20, 300};
        int threads = 2 * Math.max(2, Runtime.getRuntime().availableProcessors());
        AtomicLong partial = new AtomicLong();
        AtomicLong[] added = {new AtomicLong(), new AtomicLong(), new AtomicLong()};
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> workers = new ArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int round = 0; !stop.get(); round++) {
                        int count = 1 + round % 3;
                        int done = 0;
                        while (done < count) {
                            long r = (long) h.batchLoadAddStore().invokeExact(area.descriptorAddress(),
                                    area.address(8L + 8L * done), (long) (count - done), values[done],
                                    done + 1 < 3 ? values[done + 1] : 0L, done + 2 < 3 ? values[done + 2] : 0L);
                            if (r == StubStatus.COMMITTED) {
                                break;
                            }
                            assertEquals(StubStatus.ABORTED, StubStatus.batchStatusOf(r), StubStatus.name(r));
                            int d = StubStatus.doneOf(r);
                            assertTrue(d < count - done, "done " + d + " of " + (count - done));
                            partial.addAndGet(d > 0 ? 1 : 0);
                            done += d;
                        }
                        for (int i = 0; i < count; i++) {
                            added[i].addAndGet(values[i]);
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (partial.get() == 0 && System.nanoTime() < deadline && errors.isEmpty()) {
            Thread.sleep(50);
        }
        Thread.sleep(200);
        stop.set(true);
        for (Thread w : workers) {
            w.join();
        }
        assertEquals(List.of(), errors);
        assertTrue(partial.get() > 0, "no call was aborted after a committed section");
        for (int i = 0; i < 3; i++) {
            assertEquals(added[i].get(), total(area, 8 + 8 * i), "word " + i);
        }
        assertEquals(0, total(area, 32), "the word after the largest batch is untouched");
        System.out.println("batch stub " + index + ": " + added[0].get() + " calls, " + partial + " aborted after a commit");
        java.lang.ref.Reference.reachabilityFence(area);
    }

    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void loadCompareStore(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        assertMovedWithWrongIndex(h, area, (d, e) -> (long) h.loadCompareStore().invokeExact(d, e, area.address(16L), 0L, 9L));
        assertEquals(StubStatus.FAILED, callAndCompare(area,
                onCurrentRegion(h, (d, e) -> (long) h.loadCompareStore().invokeExact(d, e, area.address(16L), 5L, 9L)),
                region -> PortableOperations.loadCompareStore(region, 16, 5, 9)));
        assertEquals(StubStatus.COMMITTED, callAndCompare(area,
                onCurrentRegion(h, (d, e) -> (long) h.loadCompareStore().invokeExact(d, e, area.address(16L), 0L, 9L)),
                region -> PortableOperations.loadCompareStore(region, 16, 0, 9)));
        assertEquals(9, total(area, 16));
    }

    /**
     * The take: the result names the region the section ran on, with COMMITTED or FAILED, and only
     * that region's word changed, as the portable compare-and-store on it says.
     */
    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void currentLoadCompareStoreReturnsTheRegionItRanOn(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        // expected, newValue, outcome: no region holds 5; every region holds 0 at first; after that the
        // thread's region holds 9 or 0 (it may have moved), so either outcome is right (-1)
        long[][] cases = {{5, 9, StubStatus.FAILED}, {0, 9, StubStatus.COMMITTED}, {9, 0, -1}};
        for (long[] c : cases) {
            long expected = c[0];
            long newValue = c[1];
            long r = callOnCurrentRegion(area, d -> (long) h.currentLoadCompareStore().invokeExact(d, area.address(16L),
                    expected, newValue),
                    region -> StubStatus.indexed(PortableOperations.loadCompareStore(region, 16, expected, newValue), 0));
            if (c[2] >= 0) {
                assertEquals(StubStatus.name(c[2]), StubStatus.name(StubStatus.statusOf(r)), "outcome");
            }
        }
        for (int i = 0; i < area.regions(); i++) {
            long w = area.region(i).get(JAVA_LONG, 16);
            assertTrue(w == 0 || w == 9, "region " + i + " holds " + w);
        }
        java.lang.ref.Reference.reachabilityFence(area);
    }

    /**
     * The reservation: the result names the region, carries the low 32 bits of the word before the add, and
     * says "full" (FAILED, nothing stored) when the add would pass the limit word; the memory changes as
     * the portable form says, on that region only.
     */
    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void currentLoadLimitAddStoreReservesBelowTheLimit(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        long start = 0x1_0000_0005L;            // the low 32 bits (5) come back, the high ones do not
        for (int i = 0; i < area.regions(); i++) {
            area.region(i).set(JAVA_LONG, 24, start);
            area.region(i).set(JAVA_LONG, 32, start + 4);
        }
        // n, outcome: 3 fits (5 + 3 <= 9); then 2 fits only where 3 were not taken; 5 never fits.
        long[][] cases = {{3, StubStatus.COMMITTED}, {2, -1}, {5, StubStatus.FAILED}};
        for (long[] c : cases) {
            long n = c[0];
            long r = callOnCurrentRegion(area, d -> (long) h.currentLoadLimitAddStore().invokeExact(d, area.address(24L),
                    area.address(32L), n), region -> PortableOperations.loadLimitAddStore(region, 24, 32, n));
            if (c[1] >= 0) {
                assertEquals(StubStatus.name(c[1]), StubStatus.name(StubStatus.statusOf(r)), "n=" + n);
            }
            if (StubStatus.statusOf(r) == StubStatus.COMMITTED) {
                assertEquals(area.region(StubStatus.indexOf(r)).get(JAVA_LONG, 24) - n & 0xFFFF_FFFFL, StubStatus.valueOf(r),
                        "the old word's low 32 bits");
            }
        }
        java.lang.ref.Reference.reachabilityFence(area);
    }

    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void listPushAndPop(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        NodePool pool = new NodePool(4, 32, 16);
        long first = pool.firstAddress();
        long last = pool.lastAddress();
        long node = pool.address(2);
        assertEquals(StubStatus.FAILED, callAndCompare(area, d -> (long) h.listPop().invokeExact(d, area.address(8L), 16L, first, last, MASK_32),
                region -> PortableOperations.listPop(region, 8, 16, pool.memory(), last - first, MASK_32)), "pop of an empty list");
        pool.node(2).set(JAVA_LONG, 16, 0xdeadL);
        assertEquals(StubStatus.COMMITTED, callAndCompare(area, d -> (long) h.listPush().invokeExact(d, area.address(8L), node, 16L),
                region -> PortableOperations.listPush(region, 8, pool.memory(), node - first, 16)));
        assertEquals(0, pool.node(2).get(JAVA_LONG, 16), "next of the first node is the old (empty) head");
        assertEquals(node, total(area, 8));
        // Pop from the region that holds it (retry until the thread runs on that CPU).
        long popped = 0;
        for (int i = 0; i < 100_000 && popped != node; i++) {
            popped = (long) h.listPop().invokeExact(area.descriptorAddress(), area.address(8L), 16L, first, last, MASK_32);
        }
        assertEquals(node, popped);
        assertEquals(0, total(area, 8));
    }

    /** A forged or corrupted head outside the pool is reported as CORRUPT and never dereferenced. */
    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void listPopRefusesHeadsOutsideThePool(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        NodePool pool = new NodePool(4, 32, 16);
        long first = pool.firstAddress();
        long last = pool.lastAddress();
        for (long forged : new long[] {0x1000, 1, first - 8, last + 8, -1L, Long.MIN_VALUE}) {
            assertPopRefuses(index, h, pool, forged, "head 0x" + Long.toHexString(forged));
        }
    }

    /** Pops from an area whose every region's head is {@code forged}: CORRUPT from stub and portable form, nothing stored. */
    private static void assertPopRefuses(RseqAbi.Field index, StubHandles h, NodePool pool, long forged, String what)
            throws Throwable {
        long first = pool.firstAddress();
        long last = pool.lastAddress();
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        for (int i = 0; i < area.regions(); i++) {
            area.region(i).set(JAVA_LONG, 8, forged);
        }
        assertEquals(StubStatus.CORRUPT, callAndCompare(area,
                d -> (long) h.listPop().invokeExact(d, area.address(8L), 16L, first, last, MASK_32),
                region -> PortableOperations.listPop(region, 8, 16, pool.memory(), last - first, MASK_32)), what);
        for (int i = 0; i < area.regions(); i++) {
            assertEquals(forged, area.region(i).get(JAVA_LONG, 8), what + ": head unchanged in region " + i);
        }
    }

    /**
     * A head inside the pool but not at a node boundary is CORRUPT too, refused before the load:
     * nothing is stored (before the alignment check, the stub loaded {@code head + nextOffset} and
     * committed it as the new head).
     */
    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void listPopRefusesHeadsBetweenNodes(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        NodePool pool = new NodePool(4, 32, 16);
        long first = pool.firstAddress();
        long last = pool.lastAddress();
        for (int node = 0; node < 4; node++) {
            pool.node(node).set(JAVA_LONG, 16, pool.address((node + 1) % 4));   // plausible next pointers
        }
        for (long forged : new long[] {first + 8, first + 1, first + 16, first + 24, first + 32 + 8, last - 8,
                last - 16, last - 1}) {
            assertPopRefuses(index, h, pool, forged, "head first + 0x" + Long.toHexString(forged - first));
        }
    }

    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void loadCompareTrystoreStore(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        assertMovedWithWrongIndex(h, area,
                (d, e) -> (long) h.loadCompareTrystoreStore().invokeExact(d, e, area.address(8L), 0L, area.address(64L), 77L, 1L));
        assertEquals(StubStatus.FAILED, callAndCompare(area,
                onCurrentRegion(h, (d, e) -> (long) h.loadCompareTrystoreStore().invokeExact(d, e, area.address(8L), 1L, area.address(64L), 77L, 2L)),
                region -> PortableOperations.loadCompareTrystoreStore(region, 8, 1, 64, 77, 2)));
        assertEquals(StubStatus.COMMITTED, callAndCompare(area,
                onCurrentRegion(h, (d, e) -> (long) h.loadCompareTrystoreStore().invokeExact(d, e, area.address(8L), 0L, area.address(64L), 77L, 1L)),
                region -> PortableOperations.loadCompareTrystoreStore(region, 8, 0, 64, 77, 1)));
        assertEquals(1, total(area, 8));
        assertEquals(77, total(area, 64));
    }

    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void loadCompareMemcpyStoreFromHeapAndNative(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        byte[] bytes = new byte[37];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 7 + 1);
        }
        MemorySegment heap = MemorySegment.ofArray(bytes);
        MemorySegment nativeSrc = Arena.ofAuto().allocate(37).copyFrom(heap);
        // a negative type id: the length must come from the low 32 bits alone (zero-extended)
        long header = (long) 0xCAFEBABE << 32 | 37;
        long empty = (long) -1 << 32;   // type id -1, length 0: the header alone
        assertMovedWithWrongIndex(h, area,
                (d, e) -> (long) h.loadCompareMemcpyStore().invokeExact(d, e, area.address(8L), 0L, area.address(96L), header, heap, 1L));
        assertMovedWithWrongIndex(h, area,
                (d, e) -> (long) h.loadCompareMemcpyStore().invokeExact(d, e, area.address(8L), 0L, area.address(96L), header, nativeSrc, 1L));
        assertEquals(StubStatus.FAILED, callAndCompare(area,
                onCurrentRegion(h, (d, e) -> (long) h.loadCompareMemcpyStore().invokeExact(d, e, area.address(8L), 3L, area.address(96L), header, heap, 4L)),
                region -> PortableOperations.loadCompareMemcpyStore(region, 8, 3, 96, header, heap, 4)));
        assertEquals(StubStatus.COMMITTED, callAndCompare(area,
                onCurrentRegion(h, (d, e) -> (long) h.loadCompareMemcpyStore().invokeExact(d, e, area.address(8L), 0L, area.address(96L), header, heap, 1L)),
                region -> PortableOperations.loadCompareMemcpyStore(region, 8, 0, 96, header, heap, 1)));
        assertEquals(StubStatus.COMMITTED, callAndCompare(area,
                onCurrentRegion(h, (d, e) -> (long) h.loadCompareMemcpyStore().invokeExact(d, e, area.address(16L), 0L, area.address(160L), header, nativeSrc, 1L)),
                region -> PortableOperations.loadCompareMemcpyStore(region, 16, 0, 160, header, nativeSrc, 1)));
        assertEquals(StubStatus.COMMITTED, callAndCompare(area,
                onCurrentRegion(h, (d, e) -> (long) h.loadCompareMemcpyStore().invokeExact(d, e, area.address(24L), 0L, area.address(216L), empty, nativeSrc, 1L)),
                region -> PortableOperations.loadCompareMemcpyStore(region, 24, 0, 216, empty, nativeSrc, 1)));
        boolean found = false;
        for (int i = 0; i < area.regions(); i++) {
            MemorySegment region = area.region(i);
            found |= region.get(ValueLayout.JAVA_INT, 96) == 37 && region.get(ValueLayout.JAVA_INT, 100) == 0xCAFEBABE
                    && Arrays.equals(bytes, region.asSlice(104, 37).toArray(ValueLayout.JAVA_BYTE));
        }
        assertTrue(found, "record (int length at byte 0, int type id at byte 4, then the payload) written into some region");
    }

    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void indexOutOfRangeIsReportedNotUsed(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        // A descriptor over the same memory with count 0: every index is out of range, as -1/-2 are.
        MemorySegment d = Arena.ofAuto().allocate(32, 32);
        d.set(JAVA_LONG, 0, area.memory().address());   // region 0's guard (at offset 0)
        d.set(JAVA_LONG, 8, STRIDE);
        d.set(ValueLayout.JAVA_INT, 16, 0);
        byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
        assertEquals(StubStatus.INDEX_INVALID, (long) h.loadAddStore().invokeExact(d.address(), area.address(8L), 1L));
        assertEquals(StubStatus.INDEX_INVALID, (long) h.listPop().invokeExact(d.address(), area.address(8L), 0L, 4096L, 4096L, 15L));
        assertEquals(StubStatus.INDEX_INVALID, (long) h.currentLoadCompareStore().invokeExact(d.address(), area.address(8L),
                0L, 1L));
        assertEquals(StubStatus.INDEX_INVALID, (long) h.batchLoadAddStore().invokeExact(d.address(), area.address(8L),
                3L, 1L, 2L, 3L));
        assertArrayEquals(before, area.memory().toArray(ValueLayout.JAVA_BYTE), "nothing written");
        java.lang.ref.Reference.reachabilityFence(area);
    }

    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void heldGuardIsReportedNotOverwritten(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        for (int i = 0; i < area.regions(); i++) {
            assertTrue(area.casGuard(i));
        }
        long r;
        do {
            r = (long) h.loadAddStore().invokeExact(area.descriptorAddress(), area.address(8L), 1L);
        } while (r == StubStatus.ABORTED);
        assertEquals(StubStatus.GUARDED, r);
        do {
            r = (long) h.currentLoadCompareStore().invokeExact(area.descriptorAddress(), area.address(8L), 0L, 1L);
        } while (r == StubStatus.ABORTED);
        assertEquals(StubStatus.GUARDED, r, "a held guard is a plain status, not indexed");
        do {
            r = (long) h.batchLoadAddStore().invokeExact(area.descriptorAddress(), area.address(8L), 3L, 1L, 2L, 3L);
        } while (r == StubStatus.ABORTED);
        assertEquals(StubStatus.GUARDED, r, "a held guard stops a batch before its first add: the plain status");
        assertEquals(0, total(area, 8));
        assertEquals(0, total(area, 16) + total(area, 24), "no add of the batch landed");
        for (int i = 0; i < area.regions(); i++) {
            area.releaseGuard(i);
        }
    }

    // ---- the array stack operations ------------------------------------------------------------------

    /** The array stacks here: the count word, the first slot and the capacity (the slots end at 128 of 256). */
    private static final long COUNT = 8;
    private static final long SLOTS = 64;
    private static final long CAP = 8;

    /** Region {@code r}'s slot {@code i}. */
    private static long slot(PerCpuArea area, int r, long i) {
        return area.region(r).get(JAVA_LONG, SLOTS + 8 * i);
    }

    /**
     * An area whose every region's stack holds {@code elements} (bottom first), every other slot and the word past the
     * last slot holding -1, so that a store anywhere shows.
     */
    private static PerCpuArea arrayArea(RseqAbi.Field index, long count, long... elements) {
        PerCpuArea area = PerCpuArea.forPossibleCpus(indexing(index), STRIDE);
        for (int r = 0; r < area.regions(); r++) {
            MemorySegment region = area.region(r);
            region.set(JAVA_LONG, COUNT, count);
            for (int i = 0; i <= CAP; i++) {
                region.set(JAVA_LONG, SLOTS + 8L * i, i < elements.length ? elements[i] : -1);
            }
        }
        return area;
    }

    /** A batch stub: the descriptor and the batch's segment (the copy's dst or src). */
    private interface BatchCall {
        long run(long descriptor, MemorySegment batch) throws Throwable;
    }

    /** The portable form of a batch operation on one region, with its own copy of the batch. */
    private interface BatchReference {
        long apply(MemorySegment region, MemorySegment batch);
    }

    /**
     * As {@link #callAndCompare}, for the array copies: the batch ({@code initial}, as a heap array or as native
     * memory) must also come out as the portable form leaves its own copy of it. An abort may have copied part of a
     * batch out (the elements are the caller's only at the commit), so the batch is laid anew before each attempt.
     * Returns the result; {@code batchAfter} receives the stub's batch.
     */
    private static long callAndCompareBatch(PerCpuArea area, long[] initial, boolean heap, long[] batchAfter,
                                            BatchCall stub, BatchReference portable) throws Throwable {
        MemorySegment batch = heap ? MemorySegment.ofArray(initial.clone())
                : Arena.ofAuto().allocate(8L * initial.length, 8);
        for (int attempt = 0; attempt < 1000; attempt++) {
            MemorySegment.copy(MemorySegment.ofArray(initial), 0, batch, 0, 8L * initial.length);
            byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
            long r = stub.run(area.descriptorAddress(), batch);
            if (r == StubStatus.ABORTED) {
                continue;
            }
            byte[] after = area.memory().toArray(ValueLayout.JAVA_BYTE);
            long[] got = batch.toArray(JAVA_LONG);
            for (int i = 0; i < area.regions(); i++) {
                MemorySegment copy = Arena.ofAuto().allocate(before.length, 4096).copyFrom(MemorySegment.ofArray(before));
                long[] expectedBatch = initial.clone();
                long expected = portable.apply(copy.asSlice(i * STRIDE, STRIDE), MemorySegment.ofArray(expectedBatch));
                if (expected == r && Arrays.equals(after, copy.toArray(ValueLayout.JAVA_BYTE))
                        && Arrays.equals(got, expectedBatch)) {
                    System.arraycopy(got, 0, batchAfter, 0, got.length);
                    return r;
                }
            }
            throw new AssertionError("stub result " + StubStatus.name(r) + ", memory and batch " + Arrays.toString(got)
                    + " match no region's portable result");
        }
        throw new AssertionError("1000 consecutive aborts");
    }

    /** The one region whose count is not {@code base}; fails unless there is exactly one. */
    private static int changedRegion(PerCpuArea area, long base) {
        int which = -1;
        for (int r = 0; r < area.regions(); r++) {
            if (area.region(r).get(JAVA_LONG, COUNT) != base) {
                assertEquals(-1, which, "one region changed, not " + which + " and " + r);
                which = r;
            }
        }
        assertTrue(which >= 0, "a region's count changed");
        return which;
    }

    private static long arrayPop(StubHandles h, PerCpuArea area) throws Throwable {
        return callOnCurrentRegion(area, d -> (long) h.arrayPop().invokeExact(d, area.address(COUNT), area.address(SLOTS), CAP),
                region -> PortableOperations.arrayPop(region, COUNT, SLOTS, CAP));
    }

    private static long arrayPush(StubHandles h, PerCpuArea area, long value) throws Throwable {
        return callAndCompare(area, d -> (long) h.arrayPush().invokeExact(d, area.address(COUNT), area.address(SLOTS), CAP,
                        value),
                region -> PortableOperations.arrayPush(region, COUNT, SLOTS, CAP, value));
    }

    /**
     * Push and pop against the portable form: pushes land on the region the section ran on, a push onto a full
     * stack (every region full) fails and stores nothing, a pop returns the region's top element with its region
     * (the indexed form), so the elements come back LIFO, and an empty stack's pop is FAILED, indexed, with no value.
     */
    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void arrayPushAndPop(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = arrayArea(index, 0);
        long empty = arrayPop(h, area);
        assertEquals(StubStatus.FAILED, StubStatus.statusOf(empty), StubStatus.name(empty));
        assertEquals(0, StubStatus.valueOf(empty), "an empty pop carries no value");
        long[] pushed = {0, 0x7FFF_FFFF, 1, 12_345};       // 0 is an element, not "empty"
        for (long e : pushed) {
            assertEquals(StubStatus.COMMITTED, arrayPush(h, area, e), "push " + e);
        }
        assertEquals(pushed.length, total(area, COUNT));
        // Pop until every pushed element came back (a migration may have spread them): each pop returns its
        // region's top, the slot just above the count it committed.
        List<Long> popped = new ArrayList<>();
        for (int i = 0; i < 100_000 && popped.size() < pushed.length; i++) {
            long r = arrayPop(h, area);
            if (StubStatus.statusOf(r) == StubStatus.COMMITTED) {
                int region = StubStatus.indexOf(r);
                long count = area.region(region).get(JAVA_LONG, COUNT);
                assertEquals(slot(area, region, count), StubStatus.valueOf(r), "the top of region " + region);
                popped.add(StubStatus.valueOf(r));
            }
        }
        assertEquals(List.of(0L, 1L, 12_345L, 0x7FFF_FFFFL), popped.stream().sorted().toList());
        assertEquals(0, total(area, COUNT));

        // LIFO on one stack: every region holds the same elements, and pops on whichever region return its top.
        PerCpuArea stacked = arrayArea(index, 4, 10, 11, 12, 0x1_0000_0005L);   // a slot's high bits are not returned
        long first = arrayPop(h, stacked);
        assertEquals(StubStatus.COMMITTED, StubStatus.statusOf(first));
        assertEquals(5, StubStatus.valueOf(first), "the low 32 bits of the slot");
        for (int i = 0; i < 3; i++) {
            long r = arrayPop(h, stacked);
            if (StubStatus.statusOf(r) == StubStatus.COMMITTED) {
                long count = stacked.region(StubStatus.indexOf(r)).get(JAVA_LONG, COUNT);
                assertEquals(count == 3 ? 5 : 10 + count, StubStatus.valueOf(r), "LIFO");
            }
        }

        // Full on every region: FAILED, nothing stored.
        PerCpuArea full = arrayArea(index, CAP, 1, 2, 3, 4, 5, 6, 7, 8);
        byte[] before = full.memory().toArray(ValueLayout.JAVA_BYTE);
        assertEquals(StubStatus.FAILED, arrayPush(h, full, 99));
        assertArrayEquals(before, full.memory().toArray(ValueLayout.JAVA_BYTE), "a full stack is left alone");
        // One below full: the last slot, and nothing past it.
        PerCpuArea almost = arrayArea(index, CAP - 1, 1, 2, 3, 4, 5, 6, 7);
        assertEquals(StubStatus.COMMITTED, arrayPush(h, almost, 8));
        int r = changedRegion(almost, CAP - 1);
        assertEquals(CAP, almost.region(r).get(JAVA_LONG, COUNT));
        assertEquals(8, slot(almost, r, CAP - 1));
        assertEquals(-1, slot(almost, r, CAP), "the word past the array");
        java.lang.ref.Reference.reachabilityFence(area);
    }

    private static long copyOut(StubHandles h, PerCpuArea area, long n, boolean heap, long[] dst) throws Throwable {
        long[] initial = new long[(int) CAP + 2];
        Arrays.fill(initial, -7);
        return callAndCompareBatch(area, initial, heap, dst,
                (d, b) -> (long) h.arrayCopyOut().invokeExact(d, area.address(COUNT), area.address(SLOTS), CAP, n, b),
                (region, b) -> PortableOperations.arrayCopyOut(region, COUNT, SLOTS, CAP, n, b));
    }

    /** Region {@code r}'s {@value #CAP} slots and the word past them, bottom first. */
    private static List<Long> slotsAndOnePast(PerCpuArea area, int r) {
        return Arrays.stream(area.region(r).asSlice(SLOTS, 8 * (CAP + 1)).toArray(JAVA_LONG)).boxed().toList();
    }

    private static long copyIn(StubHandles h, PerCpuArea area, long n, boolean heap, long... src) throws Throwable {
        return callAndCompareBatch(area, src, heap, new long[src.length],
                (d, b) -> (long) h.arrayCopyIn().invokeExact(d, area.address(COUNT), area.address(SLOTS), CAP, n, b),
                (region, b) -> PortableOperations.arrayCopyIn(region, COUNT, SLOTS, CAP, n, b));
    }

    /**
     * Copy out against the portable form, into a Java array and into native memory: the top {@code n}, bottom
     * first, into the batch's first {@code n} words (the rest untouched), {@code count - n} committed; FAILED with
     * fewer than {@code n}, nothing copied or stored; the whole array at once.
     */
    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void arrayCopyOut(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        for (boolean heap : new boolean[] {true, false}) {
            String what = heap ? "into a Java array" : "into native memory";
            long[] dst = new long[(int) CAP + 2];
            PerCpuArea area = arrayArea(index, 6, 100, 101, 102, 103, 104, 105);
            assertEquals(StubStatus.COMMITTED, copyOut(h, area, 4, heap, dst), what);
            assertArrayEquals(new long[] {102, 103, 104, 105, -7, -7, -7, -7, -7, -7}, dst, what);
            int r = changedRegion(area, 6);
            assertEquals(2, area.region(r).get(JAVA_LONG, COUNT), what);
            assertEquals(List.of(100L, 101L, 102L, 103L, 104L, 105L, -1L, -1L, -1L),
                    slotsAndOnePast(area, r),
                    what + ": a copy out leaves the slots as they were");

            PerCpuArea fewer = arrayArea(index, 3, 100, 101, 102);
            byte[] before = fewer.memory().toArray(ValueLayout.JAVA_BYTE);
            assertEquals(StubStatus.FAILED, copyOut(h, fewer, 4, heap, dst), what);
            assertArrayEquals(new long[] {-7, -7, -7, -7, -7, -7, -7, -7, -7, -7}, dst, what + ": nothing copied");
            assertArrayEquals(before, fewer.memory().toArray(ValueLayout.JAVA_BYTE), what + ": nothing stored");

            PerCpuArea empty = arrayArea(index, 0);
            assertEquals(StubStatus.FAILED, copyOut(h, empty, 1, heap, dst), what);

            PerCpuArea full = arrayArea(index, CAP, 1, 2, 3, 4, 5, 6, 7, 8);
            assertEquals(StubStatus.COMMITTED, copyOut(h, full, CAP, heap, dst), what);
            assertArrayEquals(new long[] {1, 2, 3, 4, 5, 6, 7, 8, -7, -7}, dst, what + ": the whole array");
            assertEquals(0, full.region(changedRegion(full, CAP)).get(JAVA_LONG, COUNT), what);
            java.lang.ref.Reference.reachabilityFence(area);
        }
    }

    /**
     * Copy in against the portable form, from a Java array and from native memory: {@code src[0..n)} above the
     * top ({@code src[n - 1]} on top), {@code count + n} committed; FAILED without room for all {@code n}, nothing
     * stored; exactly full, and nothing past the array.
     */
    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void arrayCopyIn(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        for (boolean heap : new boolean[] {true, false}) {
            String what = heap ? "from a Java array" : "from native memory";
            PerCpuArea area = arrayArea(index, 5, 1, 2, 3, 4, 5);
            byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
            assertEquals(StubStatus.FAILED, copyIn(h, area, 4, heap, 300, 301, 302, 303), what + ": 5 + 4 > 8");
            assertArrayEquals(before, area.memory().toArray(ValueLayout.JAVA_BYTE), what + ": nothing stored");
            assertEquals(StubStatus.COMMITTED, copyIn(h, area, 3, heap, 300, 301, 302, 999), what + ": exactly full");
            int r = changedRegion(area, 5);
            assertEquals(CAP, area.region(r).get(JAVA_LONG, COUNT), what);
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 300L, 301L, 302L, -1L),
                    slotsAndOnePast(area, r),
                    what + ": src[n - 1] on top, src[n] and the word past the array untouched");

            PerCpuArea empty = arrayArea(index, 0);
            long[] all = {10, 11, 12, 13, 14, 15, 16, 17};
            assertEquals(StubStatus.COMMITTED, copyIn(h, empty, CAP, heap, all), what + ": the whole array");
            int e = changedRegion(empty, 0);
            assertEquals(CAP, empty.region(e).get(JAVA_LONG, COUNT), what);
            assertArrayEquals(all, empty.region(e).asSlice(SLOTS, 8 * CAP).toArray(JAVA_LONG), what);
            java.lang.ref.Reference.reachabilityFence(area);
        }
    }

    /**
     * A count beyond the capacity (overwritten through the area) is reported, never followed: pop, copy out and
     * copy in return CORRUPT, plain, as their portable forms do, and push FAILED (full); nothing is stored, read
     * into the batch or copied past the array. Counts whose sum with {@code n} wraps to a small number included.
     */
    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void arrayCountBeyondTheCapacityIsCorruptAndNothingIsStored(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        for (long bad : new long[] {CAP + 1, CAP + 2, 1L << 32, 1L << 32 | 1, -1, -CAP, Long.MIN_VALUE, Long.MAX_VALUE}) {
            String what = "count " + bad;
            PerCpuArea area = arrayArea(index, bad, 50, 51, 52, 53, 54, 55, 56, 57);
            byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
            assertEquals(StubStatus.CORRUPT, callAndCompare(area,
                    d -> (long) h.arrayPop().invokeExact(d, area.address(COUNT), area.address(SLOTS), CAP),
                    region -> PortableOperations.arrayPop(region, COUNT, SLOTS, CAP)), what + ": pop");
            long[] dst = new long[(int) CAP + 2];
            assertEquals(StubStatus.CORRUPT, copyOut(h, area, 1, true, dst), what + ": copy out");
            long[] untouched = new long[(int) CAP + 2];
            Arrays.fill(untouched, -7);
            assertArrayEquals(untouched, dst, what + ": nothing copied out");
            assertEquals(StubStatus.CORRUPT, copyOut(h, area, CAP, false, dst), what + ": copy out of the capacity");
            long wrap = bad < 0 && bad >= -CAP ? -bad : 1;  // count + n wraps to 0
            assertEquals(StubStatus.CORRUPT, copyIn(h, area, wrap, true, 300, 301, 302, 303, 304, 305, 306, 307),
                    what + ": copy in of " + wrap);
            assertEquals(StubStatus.FAILED, arrayPush(h, area, 99), what + ": push (full or corrupt: FAILED)");
            assertArrayEquals(before, area.memory().toArray(ValueLayout.JAVA_BYTE), what + ": nothing stored");
        }
    }

    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void arrayOperationsReportAnIndexOutOfRange(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = arrayArea(index, 2, 1, 2);           // each operation would succeed on any region
        MemorySegment d = Arena.ofAuto().allocate(32, 32);
        d.set(JAVA_LONG, 0, area.memory().address());
        d.set(JAVA_LONG, 8, STRIDE);
        d.set(ValueLayout.JAVA_INT, 16, 0);                 // count 0: every index out of range, as -1/-2 are
        long[] batch = {7, 7};
        MemorySegment b = MemorySegment.ofArray(batch);
        byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
        long c = area.address(COUNT);
        long s = area.address(SLOTS);
        assertEquals(StubStatus.INDEX_INVALID, (long) h.arrayPop().invokeExact(d.address(), c, s, CAP));
        assertEquals(StubStatus.INDEX_INVALID, (long) h.arrayPush().invokeExact(d.address(), c, s, CAP, 3L));
        assertEquals(StubStatus.INDEX_INVALID, (long) h.arrayCopyOut().invokeExact(d.address(), c, s, CAP, 2L, b));
        assertEquals(StubStatus.INDEX_INVALID, (long) h.arrayCopyIn().invokeExact(d.address(), c, s, CAP, 2L, b));
        assertArrayEquals(before, area.memory().toArray(ValueLayout.JAVA_BYTE), "nothing written");
        assertArrayEquals(new long[] {7, 7}, batch, "nothing copied out");
        java.lang.ref.Reference.reachabilityFence(area);
    }

    @ParameterizedTest
    @EnumSource(value = RseqAbi.Field.class, names = {"CPU_ID", "MM_CID"})
    void arrayOperationsReportAHeldGuard(RseqAbi.Field index) throws Throwable {
        StubHandles h = stubs(index);
        PerCpuArea area = arrayArea(index, 2, 1, 2);
        for (int i = 0; i < area.regions(); i++) {
            assertTrue(area.casGuard(i));
        }
        byte[] before = area.memory().toArray(ValueLayout.JAVA_BYTE);
        long[] batch = {7, 7};
        MemorySegment b = MemorySegment.ofArray(batch);
        long c = area.address(COUNT);
        long s = area.address(SLOTS);
        long d = area.descriptorAddress();
        long r;
        do {
            r = (long) h.arrayPop().invokeExact(d, c, s, CAP);
        } while (r == StubStatus.ABORTED);
        assertEquals(StubStatus.GUARDED, r, "a held guard is a plain status, not indexed");
        do {
            r = (long) h.arrayPush().invokeExact(d, c, s, CAP, 3L);
        } while (r == StubStatus.ABORTED);
        assertEquals(StubStatus.GUARDED, r, "push");
        do {
            r = (long) h.arrayCopyOut().invokeExact(d, c, s, CAP, 2L, b);
        } while (r == StubStatus.ABORTED);
        assertEquals(StubStatus.GUARDED, r, "copy out");
        do {
            r = (long) h.arrayCopyIn().invokeExact(d, c, s, CAP, 2L, b);
        } while (r == StubStatus.ABORTED);
        assertEquals(StubStatus.GUARDED, r, "copy in");
        assertArrayEquals(before, area.memory().toArray(ValueLayout.JAVA_BYTE), "nothing stored");
        assertArrayEquals(new long[] {7, 7}, batch, "nothing copied out");
        for (int i = 0; i < area.regions(); i++) {
            area.releaseGuard(i);
        }
    }

    static CpuIndexing indexing(RseqAbi.Field index) {
        return index == RseqAbi.Field.MM_CID ? CpuIndexing.CONCURRENCY_ID : CpuIndexing.CPU;
    }

    static long total(PerCpuArea area, long offset) {
        long sum = 0;
        for (int i = 0; i < area.regions(); i++) {
            sum += area.region(i).get(JAVA_LONG, offset);
        }
        return sum;
    }
}
