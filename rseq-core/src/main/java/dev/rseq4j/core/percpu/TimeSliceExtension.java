package dev.rseq4j.core.percpu;

import dev.rseq4j.core.internal.platform.RseqAbi;
import dev.rseq4j.core.internal.runtime.RseqRuntime;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The rseq time-slice extension (Linux 7.0+, {@code CONFIG_RSEQ_SLICE_EXTENSION}): a thread about to
 * hold a lock for a short while asks the kernel not to preempt it in that window, so that waiters are
 * not stuck behind a holder that was switched out. A lock calls {@link #request} when it takes the
 * lock and {@link #release} when it frees it, on the same thread.
 *
 * <h2>Protocol (the kernel's documentation of the feature)</h2>
 * <pre>
 *   struct rseq +28: u32 slice_ctrl    bit 0 REQUEST (user sets), bit 1 GRANTED (kernel sets)
 *   struct rseq +16: u32 flags         bit 4 extension available, bit 5 enabled for this thread (read-only)
 *
 *   once per thread:  prctl(PR_RSEQ_SLICE_EXTENSION = 79, SET = 2, ENABLE = 1, 0, 0)
 *   request:          slice_ctrl = REQUEST                      (plain store: the kernel races with nothing)
 *   release:          old = atomic fetch-and-clear(REQUEST)      (an interrupt may grant meanwhile)
 *                     if REQUEST was already clear and slice_ctrl has GRANTED: rseq_slice_yield() (syscall 471)
 * </pre>
 * When the request bit is found set at release, no grant happened and nothing is owed. When it was
 * cleared by the kernel and GRANTED is set, the kernel let this thread run past a reschedule, and it
 * must give the CPU back at once (the kernel arms a timer against threads that do not). The
 * fetch-and-clear is an ordinary atomic: the kernel documentation allows one where there is no
 * CPU-local atomic instruction, and this runs only where the extension exists.
 *
 * <h2>When it applies</h2>
 * <ul>
 *   <li>Only in RSEQ mode on a kernel whose prctl query succeeds ({@code rseq.sliceExtension=true} in
 *       the status). Elsewhere {@link #available()} is false and {@link #request} returns false at
 *       once: nothing changes.</li>
 *   <li>Only for platform threads. A virtual thread runs on a carrier it shares with other virtual
 *       threads and may leave it while holding the lock; a request on the carrier's registration
 *       would then extend unrelated code, and the release would run on another carrier.</li>
 *   <li>The kernel enables the extension only for registrations longer than 32 bytes (glibc 2.41+);
 *       where enabling fails for a thread (glibc 2.36 registers 32 bytes) the reason is kept in
 *       {@link #disabledReason()} and no thread requests again: a failing prctl per lock would cost
 *       more than the extension saves.</li>
 * </ul>
 *
 * <p>Thread-safety: one instance per process, used by any thread; {@link #request} and
 * {@link #release} act on the calling thread's registration.
 */
public final class TimeSliceExtension {
    /** {@link #release} result bit: the kernel had granted an extension. */
    public static final int GRANTED = 1;
    /** {@link #release} result bit: {@code rseq_slice_yield} was called after the grant and succeeded. */
    public static final int YIELDED = 2;

    static final int CTRL_REQUEST = 1;
    static final int CTRL_GRANTED = 2;
    static final int FLAG_ENABLED = 1 << 5;
    private static final long SLICE_CTRL = RseqAbi.Field.SLICE_CTRL.offset();
    private static final long FLAGS = RseqAbi.Field.FLAGS.offset();
    private static final VarHandle CTRL = JAVA_INT.varHandle();

    /** What the extension needs from the kernel, per calling thread; tests substitute a simulated one. */
    public interface Kernel {
        /** The calling OS thread's {@code struct rseq}, at least 32 bytes. */
        MemorySegment currentRseqArea();

        /** prctl SET ENABLE for the calling thread: empty on success, else the errno name. */
        Optional<String> enable();

        /** rseq_slice_yield(); true if the system call succeeded. */
        boolean yield();
    }

    private static final class Production {
        static final TimeSliceExtension INSTANCE = create();

        private static TimeSliceExtension create() {
            RseqRuntime rt = RseqRuntime.get();
            if (!rt.rseqMode() || !rt.status().sliceExtension()) {
                return new TimeSliceExtension(null);
            }
            return new TimeSliceExtension(new Kernel() {
                @Override
                public MemorySegment currentRseqArea() {
                    return rt.currentRseqArea();
                }

                @Override
                public Optional<String> enable() {
                    return rt.enableSliceExtension();
                }

                @Override
                public boolean yield() {
                    return rt.sliceYield();
                }
            });
        }
    }

    private final Kernel kernel;            // null: unavailable
    private volatile String disabledReason;
    private final LongAdder grants = new LongAdder();
    private final LongAdder yields = new LongAdder();

    TimeSliceExtension(Kernel kernel) {
        this.kernel = kernel;
        this.disabledReason = kernel == null ? "the kernel offers no time-slice extension (or lock mode)" : null;
    }

    /**
     * An extension over {@code kernel}: for tests, which simulate a kernel that grants extensions
     * where no real one does (Debian's 7.x kernels are built without the feature).
     */
    public static TimeSliceExtension over(Kernel kernel) {
        return new TimeSliceExtension(Objects.requireNonNull(kernel, "kernel must not be null"));
    }

    /** The process's instance: available where the kernel offers the extension. */
    public static TimeSliceExtension forThisProcess() {
        return Production.INSTANCE;
    }

    /** Whether {@link #request} may ask the kernel at all (false: it always returns false). */
    public boolean available() {
        return disabledReason == null;
    }

    /** Why requests are not made, when they are not. */
    public Optional<String> disabledReason() {
        return Optional.ofNullable(disabledReason);
    }

    /**
     * Asks for an extension of the calling thread's time slice, before it enters a short critical
     * section. Returns false without asking where the extension does not apply (see the class
     * comment).
     *
     * @return true if the request bit is set: the caller must call {@link #release} on this thread
     *         when it leaves the critical section
     */
    public boolean request() {
        if (disabledReason != null || Thread.currentThread().isVirtual()) {
            return false;
        }
        MemorySegment rseq = kernel.currentRseqArea();
        if ((rseq.get(JAVA_INT, FLAGS) & FLAG_ENABLED) == 0) {
            Optional<String> failed = kernel.enable();
            if (failed.isPresent()) {
                disabledReason = "prctl(PR_RSEQ_SLICE_EXTENSION, SET, ENABLE) failed with " + failed.get()
                        + " (the kernel enables it only for registrations longer than 32 bytes: glibc 2.41+)";
                return false;
            }
        }
        // NOTE: a plain store: only the kernel writes this word otherwise, and only while the request
        // bit is set (it clears it when it grants).
        rseq.set(JAVA_INT, SLICE_CTRL, CTRL_REQUEST);
        return true;
    }

    /**
     * Ends the extension requested by {@link #request} on this thread: clears the request, and gives
     * the CPU back ({@code rseq_slice_yield}) if the kernel granted an extension meanwhile.
     *
     * @return 0 if no extension was granted, else {@link #GRANTED}, plus {@link #YIELDED} if the CPU was given back
     */
    public int release() {
        MemorySegment rseq = kernel.currentRseqArea();
        int old = (int) CTRL.getAndBitwiseAnd(rseq, SLICE_CTRL, ~CTRL_REQUEST);
        if ((old & CTRL_REQUEST) != 0 || ((int) CTRL.getVolatile(rseq, SLICE_CTRL) & CTRL_GRANTED) == 0) {
            return 0;       // never interrupted, or the grant was revoked by a reschedule: nothing owed
        }
        grants.increment();
        if (!kernel.yield()) {
            return GRANTED;
        }
        yields.increment();
        return GRANTED | YIELDED;
    }

    /** Releases that found an extension granted. */
    public long grants() {
        return grants.sum();
    }

    /** Successful {@code rseq_slice_yield} calls after a grant. */
    public long yields() {
        return yields.sum();
    }

    @Override
    public String toString() {
        return "TimeSliceExtension[" + (available() ? "available" : disabledReason) + ", grants=" + grants()
                + ", yields=" + yields() + "]";
    }
}
