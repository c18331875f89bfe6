package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The compare operations allocate nothing per call on their fast path (a ring's producers call them
 * per element): no capturing lambda unless a first attempt aborted, found the region guarded or
 * moved, or found the thread unregistered. Measured with the thread's allocation counter over
 * {@value #CALLS} calls after a warm-up, on the region the thread runs on; the slack allows for the
 * few calls that migrate or are preempted (their finish method builds lambdas) and for the JIT's
 * own bookkeeping, and is far below one byte per call.
 */
class FastPathAllocationTest {
    private static final int WARM_UP = 200_000;
    private static final int CALLS = 100_000;
    /** Fixed, not per call: a few finish paths after migrations or preemptions. */
    private static final long SLACK_BYTES = 16 * 1024;
    private static final long WORD = 8;
    private static final long SLOT = 16;
    private static final long RECORD = 64;

    private final PerCpuOps ops = PerCpuOps.cpuIndexed();
    private final PerCpuArea area = PerCpuArea.forPossibleCpus(CpuIndexing.CPU, 256);
    private final MemorySegment heap = MemorySegment.ofArray(new long[4]);
    private final MemorySegment nativeSrc = Arena.ofAuto().allocate(32);

    private interface Call {
        void run();
    }

    private static long allocatedBytes(Call call, int times) {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < times; i++) {
            call.run();
        }
        return threads.getCurrentThreadAllocatedBytes() - before;
    }

    private void assertNoAllocation(String what, Call call) {
        assumeTrue(ops.restartable(), "lock mode: every call is a slow path");
        allocatedBytes(call, WARM_UP);
        long bytes = allocatedBytes(call, CALLS);
        System.out.println(what + ": " + bytes + " bytes allocated in " + CALLS + " calls; " + ops.stats());
        assertTrue(bytes <= SLACK_BYTES, what + " allocated " + bytes + " bytes in " + CALLS
                + " calls (at most " + SLACK_BYTES + " in all allowed)");
    }

    /** The expected value: this region's counter, as a producer reads it. */
    private long counter(int here) {
        return area.getLongAcquire(here, WORD);
    }

    @Test
    void compareAndStore() {
        assertNoAllocation("compareAndStore", () -> {
            int here = ops.currentIndex(area);
            long v = counter(here);
            ops.compareAndStore(area, here, WORD, v, v + 1);
        });
    }

    @Test
    void addEach() {
        assertNoAllocation("addEach", () -> ops.addEach(area, 32, 3, 1, 2, 3));
    }

    @Test
    void wordArenaAddEach() {
        WordArena arena = new WordArena(CpuIndexing.CPU);
        WordArena.Word w = arena.allocate(3);
        assertNoAllocation("WordArena.addEach", () -> WordArena.addEach(w.chunk(), w.handle(), 3, 1, 2, 3));
        assertEquals(3 * (long) (WARM_UP + CALLS), WordArena.sum(w.chunk(), w.handle() + 16));
    }

    @Test
    void storeThenCommit() {
        assertNoAllocation("storeThenCommit", () -> {
            int here = ops.currentIndex(area);
            long v = counter(here);
            ops.storeThenCommit(area, here, WORD, v, SLOT, v, v + 1);
        });
    }

    @Test
    void copyThenCommitFromHeap() {
        assertNoAllocation("copyThenCommit (heap)", () -> {
            int here = ops.currentIndex(area);
            long v = counter(here);
            ops.copyThenCommit(area, here, WORD, v, RECORD, 3, heap, 32, v + 1);
        });
    }

    @Test
    void copyThenCommitFromNative() {
        assertNoAllocation("copyThenCommit (native)", () -> {
            int here = ops.currentIndex(area);
            long v = counter(here);
            ops.copyThenCommit(area, here, WORD, v, RECORD, 3, nativeSrc, 32, v + 1);
        });
    }
}
