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
