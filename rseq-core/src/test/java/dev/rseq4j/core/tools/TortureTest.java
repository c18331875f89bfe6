package dev.rseq4j.core.tools;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.PerCpuOps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The abort path: stubs with a busy loop between the index read and the commit, run from more
 * threads than CPUs, must be aborted by the kernel (aborts &gt; 0) and lose nothing; the same code
 * without the restartable sequence must lose updates (proof that the checks can see a loss).
 */
class TortureTest {
    private static final int THREADS = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
    private static final int DELAY = 20_000;
    private static final long MILLIS = 700;

    private static PerCpuOps delayed(CpuIndexing index) {
        RseqRuntime rt = RseqRuntime.get();
        assumeTrue(rt.rseqMode(), "abort path exists in RSEQ mode only");
        assumeTrue(index == CpuIndexing.CPU || rt.status().mmCid(), "mm_cid unavailable");
        return OpsVariant.of(index).withDelay(DELAY).create();
    }

    /** The operations with a torture run of their own; the others are tortured as part of one. */
    static Stream<Operation> tortured() {
        return Arrays.stream(Operation.values()).filter(SelfTest::hasOwnRun);
    }

    /** Prints the figures into the build log, where the closing notes take them from. */
    private static SelfTest.Result report(String what, SelfTest.Result r) {
        System.out.println("torture " + what + " threads=" + THREADS + " " + r);
        return r;
    }

    @ParameterizedTest
    @MethodSource("tortured")
    void cpuIndexedAbortsAndLosesNothing(Operation op) {
        SelfTest.Result r = report("cpu_id", SelfTest.torture(delayed(CpuIndexing.CPU), op, THREADS, MILLIS));
        assertTrue(r.ops() > 0, r.toString());
        assertTrue(r.aborts() > 0, "the kernel must have aborted some sequences: " + r);
        assertEquals(0, r.lost(), r.toString());
    }

    @ParameterizedTest
    @MethodSource("tortured")
    void mmCidIndexedAbortsAndLosesNothing(Operation op) {
        SelfTest.Result r = report("mm_cid", SelfTest.torture(delayed(CpuIndexing.CONCURRENCY_ID), op, THREADS, MILLIS));
        assertTrue(r.aborts() > 0, "the kernel must have aborted some sequences: " + r);
        assertEquals(0, r.lost(), r.toString());
    }

    @Test
    void negativeControlWithoutRestartableSequenceLosesUpdates() {
        RseqRuntime rt = RseqRuntime.get();
        assumeTrue(rt.rseqMode(), "needs the stubs");
        PerCpuOps unprotected = OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY).nonRestartable().create();
        for (Operation op : new Operation[] {Operation.LOAD_ADD_STORE, Operation.BATCH_LOAD_ADD_STORE}) {
            SelfTest.Result r = report("negative-control", SelfTest.torture(unprotected, op, THREADS, 2 * MILLIS));
            assertEquals(0, r.aborts(), "nothing can abort a sequence that was never armed: " + r);
            assertTrue(r.lost() > 0, "without rseq, preemption between load and store must lose updates: " + r);
        }
    }

    /**
     * The protocol's hardest case: slow paths (guard, membarrier, plain update) forced on one
     * operation in 50, each on a random region, concurrently with delayed fast paths running on that
     * region's CPU.
     */
    @ParameterizedTest
    @EnumSource(CpuIndexing.class)
    void forcedSlowPathsMixedWithFastPathsLoseNothing(CpuIndexing index) {
        delayed(index);
        PerCpuOps mixed = OpsVariant.of(index).withDelay(DELAY).forcingSlowPathEvery(50).create();
        for (Operation op : new Operation[] {Operation.LOAD_ADD_STORE, Operation.BATCH_LOAD_ADD_STORE, Operation.LIST_POP}) {
            SelfTest.Result r = report("mixed-" + index, SelfTest.torture(mixed, op, THREADS, MILLIS));
            assertTrue(r.aborts() > 0, "fast paths must have been aborted: " + r);
            assertTrue(r.slowPaths() > 0, "slow paths must have run: " + r);
            assertEquals(0, r.lost(), r.toString());
        }
    }

    /** Negative control for the fence: the same mix without membarrier must lose updates. */
    @Test
    void slowPathWithoutMembarrierLosesUpdates() {
        delayed(CpuIndexing.CPU);
        PerCpuOps unfenced = OpsVariant.of(CpuIndexing.CPU).withDelay(DELAY).forcingSlowPathEvery(2).withoutFence().create();
        SelfTest.Result r = report("mixed-unfenced", SelfTest.torture(unfenced, Operation.LOAD_ADD_STORE, THREADS, 3 * MILLIS));
        assertTrue(r.slowPaths() > 0, r.toString());
        assertTrue(r.lost() > 0, "a fast path that read guard == 0 before the CAS must be able to commit after it: " + r);
    }

    @ParameterizedTest
    @MethodSource("tortured")
    void lockModeLosesNothing(Operation op) {
        PerCpuOps lock = OpsVariant.lockMode();
        SelfTest.Result r = report("lock", SelfTest.torture(lock, op, THREADS, 300));
        assertEquals(0, r.aborts(), r.toString());
        assertTrue(r.slowPaths() >= r.ops() / 2, "every operation takes the guard in lock mode: " + r);
        assertEquals(0, r.lost(), r.toString());
    }

    @Test
    void everyOperationOnceChecksOut() {
        assertEquals(java.util.List.of(), SelfTest.checkOnce(PerCpuOps.cpuIndexed()));
        assertEquals(java.util.List.of(), SelfTest.checkOnce(OpsVariant.lockMode()));
    }
}
