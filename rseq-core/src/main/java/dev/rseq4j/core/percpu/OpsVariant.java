package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.codegen.StubOptions;
import dev.rseq4j.core.internal.runtime.RseqRuntime;

import java.util.Objects;

/**
 * Internal: the per-CPU operations with instrumentation, for this library's self-test
 * ({@code ./rseq4j diagnose}), its tests and its stress tests. Collections and users take
 * {@link PerCpuOps#cpuIndexed()} or {@link PerCpuOps#concurrencyIdIndexed()}; nothing here is
 * for production data.
 *
 * <pre>
 *   PerCpuOps ops = OpsVariant.of(CpuIndexing.CPU).withDelay(2_000).create();   // aborts often
 *   PerCpuOps lossy = OpsVariant.of(CpuIndexing.CPU).withDelay(2_000).nonRestartable().create();
 * </pre>
 * Every {@link #create()} returns a fresh instance with its own {@link PerCpuStats} (whose rare events
 * also count in the process-wide total of its {@link PerCpuStats.Kind}: {@code CORE} unless
 * {@link #create(PerCpuStats.Kind)} names the structure the self-test tortures); stubs are
 * generated once per distinct stub options and process.
 *
 * @param indexing      how regions are chosen
 * @param delayLoops    iterations of a busy loop inside every critical section, right before its
 *                      commit (0: the production stubs); provokes aborts
 * @param restartable   false for the negative control: the same stubs without arming the sequence,
 *                      which must lose updates under preemption
 * @param slowPathEvery if &gt; 0, one operation in about that many skips its fast path, and slow
 *                      paths of operations without a region index run on a random region, racing
 *                      the fast paths of that region's CPU (the protocol's hardest case)
 * @param skipFence     omit the slow path's fence (negative control for the fence: must lose updates)
 */
public record OpsVariant(CpuIndexing indexing, int delayLoops, boolean restartable, int slowPathEvery,
                         boolean skipFence) {

    public OpsVariant {
        Objects.requireNonNull(indexing, "indexing must not be null");
        if (delayLoops < 0) {
            throw new IllegalArgumentException("delayLoops must be >= 0, was " + delayLoops);
        }
        if (slowPathEvery < 0) {
            throw new IllegalArgumentException("slowPathEvery must be >= 0, was " + slowPathEvery);
        }
    }

    /** The production stubs of {@code indexing}, no hooks. */
    public static OpsVariant of(CpuIndexing indexing) {
        return new OpsVariant(indexing, 0, true, 0, false);
    }

    public OpsVariant withDelay(int loops) {
        return new OpsVariant(indexing, loops, restartable, slowPathEvery, skipFence);
    }

    public OpsVariant nonRestartable() {
        return new OpsVariant(indexing, delayLoops, false, slowPathEvery, skipFence);
    }

    public OpsVariant forcingSlowPathEvery(int every) {
        return new OpsVariant(indexing, delayLoops, restartable, every, skipFence);
    }

    public OpsVariant withoutFence() {
        return new OpsVariant(indexing, delayLoops, restartable, slowPathEvery, true);
    }

    /**
     * A fresh instance.
     *
     * @throws UnsupportedOperationException in lock mode, or for concurrency-id indexing without mm_cid
     */
    public PerCpuOps create() {
        return create(PerCpuStats.Kind.CORE);
    }

    /**
     * A fresh instance counted under {@code kind}.
     *
     * @throws UnsupportedOperationException in lock mode, or for concurrency-id indexing without mm_cid
     */
    public PerCpuOps create(PerCpuStats.Kind kind) {
        Objects.requireNonNull(kind, "kind must not be null");
        RseqRuntime rt = RseqRuntime.get();
        StubOptions options = rt.productionOptions(PerCpuArea.indexField(indexing)).withDelay(delayLoops);
        return GuardedPerCpuOps.withOptions(restartable ? options : options.nonRestartable(), slowPathEvery, skipFence,
                kind);
    }

    /** A fresh lock-mode instance (CPU indexing), whatever the process mode, counted under {@code CORE}. */
    public static PerCpuOps lockMode() {
        return lockMode(PerCpuStats.Kind.CORE);
    }

    /** A fresh lock-mode instance (CPU indexing), whatever the process mode, counted under {@code kind}. */
    public static PerCpuOps lockMode(PerCpuStats.Kind kind) {
        return GuardedPerCpuOps.lockMode(Objects.requireNonNull(kind, "kind must not be null"));
    }
}
