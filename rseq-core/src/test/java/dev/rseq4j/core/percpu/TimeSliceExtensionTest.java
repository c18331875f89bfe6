package dev.rseq4j.core.percpu;

import dev.rseq4j.core.Rseq;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The time-slice extension's user-space protocol against a simulated kernel (no kernel we can run
 * offers the feature: Debian's 7.x kernels are built without it): request sets the request bit; a
 * release without a grant clears it and owes nothing; a release after a grant (the kernel cleared
 * REQUEST and set GRANTED) yields once; a revoked grant owes nothing; enabling happens once per thread
 * and a failure disables requests with the errno in the reason; virtual threads never request. And
 * the production instance follows the status: unavailable where {@code rseq.sliceExtension=false}.
 */
class TimeSliceExtensionTest {
    /** A kernel over one {@code struct rseq} image, for the test thread. */
    static final class SimulatedKernel implements TimeSliceExtension.Kernel {
        final MemorySegment rseq = Arena.ofAuto().allocate(32, 32);
        final AtomicInteger enables = new AtomicInteger();
        final AtomicInteger yields = new AtomicInteger();
        volatile String enableError;

        @Override
        public MemorySegment currentRseqArea() {
            return rseq;
        }

        @Override
        public Optional<String> enable() {
            enables.incrementAndGet();
            if (enableError != null) {
                return Optional.of(enableError);
            }
            rseq.set(JAVA_INT, 16, rseq.get(JAVA_INT, 16) | TimeSliceExtension.FLAG_ENABLED);
            return Optional.empty();
        }

        @Override
        public boolean yield() {
            yields.incrementAndGet();
            return true;
        }

        int ctrl() {
            return rseq.get(JAVA_INT, 28);
        }

        /** What the kernel does when it grants: clear REQUEST, set GRANTED. */
        void grant() {
            rseq.set(JAVA_INT, 28, TimeSliceExtension.CTRL_GRANTED);
        }
    }

    @Test
    void aReleaseWithoutAGrantClearsTheRequestAndOwesNothing() {
        SimulatedKernel k = new SimulatedKernel();
        TimeSliceExtension x = TimeSliceExtension.over(k);
        assertTrue(x.available());
        assertTrue(x.request());
        assertEquals(TimeSliceExtension.CTRL_REQUEST, k.ctrl());
        assertEquals(0, x.release());
        assertEquals(0, k.ctrl());
        assertEquals(0, k.yields.get());
        assertEquals(1, k.enables.get(), "enabled on first use");
        assertTrue(x.request());
        x.release();
        assertEquals(1, k.enables.get(), "once per thread: the enabled flag is set now");
    }

    @Test
    void aGrantedExtensionIsGivenBackWithOneYield() {
        SimulatedKernel k = new SimulatedKernel();
        TimeSliceExtension x = TimeSliceExtension.over(k);
        assertTrue(x.request());
        k.grant();
        assertEquals(TimeSliceExtension.GRANTED | TimeSliceExtension.YIELDED, x.release());
        assertEquals(1, k.yields.get());
        assertEquals(1, x.grants());
        assertEquals(1, x.yields());
    }

    @Test
    void aRevokedGrantOwesNothing() {
        SimulatedKernel k = new SimulatedKernel();
        TimeSliceExtension x = TimeSliceExtension.over(k);
        assertTrue(x.request());
        k.rseq.set(JAVA_INT, 28, 0);    // granted, then rescheduled: the kernel cleared both bits
        assertEquals(0, x.release());
        assertEquals(0, k.yields.get());
    }

    @Test
    void aFailedEnableDisablesRequestsWithTheReason() {
        SimulatedKernel k = new SimulatedKernel();
        k.enableError = "ENXIO";
        TimeSliceExtension x = TimeSliceExtension.over(k);
        assertFalse(x.request());
        assertFalse(x.available());
        assertTrue(x.disabledReason().orElseThrow().contains("failed with ENXIO"), x.toString());
        assertFalse(x.request());
        assertEquals(1, k.enables.get(), "no prctl per request once it failed");
        assertEquals(0, k.ctrl());
    }

    @Test
    void virtualThreadsNeverRequest() throws Exception {
        SimulatedKernel k = new SimulatedKernel();
        TimeSliceExtension x = TimeSliceExtension.over(k);
        AtomicReference<Boolean> requested = new AtomicReference<>();
        Thread.ofVirtual().start(() -> requested.set(x.request())).join();
        assertFalse(requested.get());
        assertEquals(0, k.ctrl());
        assertEquals(0, k.enables.get());
    }

    @Test
    void theProductionInstanceFollowsTheStatus() {
        TimeSliceExtension x = TimeSliceExtension.forThisProcess();
        System.out.println("time-slice extension: status sliceExtension=" + Rseq.status().sliceExtension() + " " + x);
        if (!Rseq.status().sliceExtension()) {
            assertFalse(x.available());
            assertFalse(x.request(), "nothing changes where the kernel has no extension");
        }
    }
}
