package dev.rseq4j.core.percpu;

import dev.rseq4j.core.internal.jfr.KindTally;
import dev.rseq4j.core.internal.jfr.RseqEvents;

import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts of the rare events of {@link PerCpuOps}: aborted sequences, slow paths and why they were
 * taken. Only rare events are counted, so the fast path pays nothing. Sums are not atomic snapshots.
 *
 * <h2>Implementation notes: per-kind totals</h2>
 * Every instance belongs to a {@link Kind} (the structure whose operations it counts), and each
 * record method also adds to that kind's process-wide tally (in the event package, which must not
 * depend on this one), which the JDK Flight Recorder's {@code dev.rseq4j.PerCpuStatistics} event reads. The kind is a property of the
 * operations instance, not of a structure instance: each collection class takes its production
 * operations from a static final constant of its own kind ({@link PerCpuOps#cpuIndexed(Kind)}), so
 * a kind is counted without registering any structure (a program may create millions of counters),
 * and the JIT still folds the constant. The second add runs on the rare paths only, never on a
 * fast path. Totals are cumulative since start, never reset, and are sums of {@code LongAdder}s:
 * not atomic snapshots, neither across fields nor across kinds.
 */
public final class PerCpuStats {
    /**
     * Which structure's operations are counted. The split follows the operations instances the
     * code has: structures built on another structure count under that one.
     */
    public enum Kind {
        /** {@link PerCpuOps} used directly: the core's self-test, tests, direct users. */
        CORE("core"),
        /** {@code PerCpuCounter} (the words of a {@link WordArena}). */
        COUNTER("counter"),
        /**
         * {@code PerCpuFreeList}, and the object and memory pools, which are built on free lists
         * and take their operations from it (so that its constant folds for them too).
         */
        FREE_LIST("freeList"),
        /** {@code PerCpuRingBuffer}. */
        RING("ring"),
        /** {@code PerCpuRecordRingBuffer}. */
        RECORD_RING("recordRing"),
        /** {@code PerCpuSpinLock}, and {@code PerCpu}, which is built on one. */
        SPIN_LOCK("spinLock");

        private final String label;
        private final KindTally tally;

        Kind(String label) {
            this.label = label;
            this.tally = RseqEvents.tally(label);
        }

        /** The name in events and reports ({@code counter}, {@code freeList}, ...). */
        public String label() {
            return label;
        }
    }

    private final Kind kind;
    /** The kind's process-wide tally. */
    private final KindTally total;
    private final LongAdder aborts = new LongAdder();
    private final LongAdder slowPaths = new LongAdder();
    private final LongAdder guarded = new LongAdder();
    private final LongAdder invalidIndex = new LongAdder();
    private final LongAdder moved = new LongAdder();
    private final LongAdder guardWaits = new LongAdder();
    private final LongAdder guardWaitNanos = new LongAdder();

    /** Counts of operations of {@code kind}, added to the kind's process-wide tally too. */
    PerCpuStats(Kind kind) {
        this.kind = Objects.requireNonNull(kind, "kind must not be null");
        this.total = kind.tally;
        // NOTE: the first operations instance registers the JFR events (once; never throws)
        RseqEvents.register();
    }

    /** The kind whose operations these are. */
    public Kind kind() {
        return kind;
    }

    void recordAbort() {
        aborts.increment();
        total.recordAbort();
    }

    void recordSlowPath() {
        slowPaths.increment();
        total.recordSlowPath();
    }

    void recordGuarded() {
        guarded.increment();
        total.recordGuarded();
    }

    void recordInvalidIndex() {
        invalidIndex.increment();
        total.recordInvalidIndex();
    }

    void recordMoved() {
        moved.increment();
        total.recordMoved();
    }

    /** A slow path found its guard held and waited {@code nanos} for it. */
    void recordGuardWait(long nanos) {
        guardWaits.increment();
        guardWaitNanos.add(nanos);
        total.recordGuardWait(nanos);
    }

    /** Restartable sequences the kernel aborted. */
    public long aborts() {
        return aborts.sum();
    }

    /** Operations completed under the guard (all of them in lock mode). */
    public long slowPaths() {
        return slowPaths.sum();
    }

    /** Fast paths that found their region's guard held. */
    public long guarded() {
        return guarded.sum();
    }

    /**
     * Fast paths that read an index outside the area: the thread was not registered yet (cpu_id -1
     * or -2), or the area has fewer regions than the index (every such operation takes the slow path).
     */
    public long invalidIndex() {
        return invalidIndex.sum();
    }

    /**
     * Sequences that found the thread on another region than the operation's expected index (it
     * migrated after choosing the region) and stored nothing.
     */
    public long moved() {
        return moved.sum();
    }

    /**
     * Operations that found a region's guard held by another thread's slow path and waited for its
     * release: a slow path before taking the guard, or a fast path that found it held (see
     * {@code GuardedPerCpuOps}).
     */
    public long guardWaits() {
        return guardWaits.sum();
    }

    /** Total time operations spent waiting for guards ({@link #guardWaits()}), in nanoseconds. */
    public long guardWaitNanos() {
        return guardWaitNanos.sum();
    }

    @Override
    public String toString() {
        return "aborts=" + aborts() + " slowPaths=" + slowPaths() + " guarded=" + guarded()
                + " invalidIndex=" + invalidIndex() + " moved=" + moved() + " guardWaits=" + guardWaits()
                + " guardWaitMillis=" + guardWaitNanos() / 1_000_000;
    }
}
