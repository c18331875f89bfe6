package dev.rseq4j.core.internal.codegen;

import dev.rseq4j.core.internal.platform.RseqAbi;

/**
 * What to generate.
 *
 * @param rseqOffset  offset of the thread's {@code struct rseq} from the thread pointer ({@code __rseq_offset})
 * @param index       the {@code struct rseq} field read as the region index: {@code CPU_ID} or
 *                    {@code MM_CID} (the collections' {@code Indexing} CPU and CONCURRENCY_ID)
 * @param delayLoops  iterations of a busy loop emitted inside every critical section right before its
 *                    commit store (0 for production; tests use it to provoke aborts, as the kernel's
 *                    param_test does)
 * @param restartable false only for the negative control: the same code without arming
 *                    {@code rseq_cs}, which must lose updates under preemption
 */
public record StubOptions(long rseqOffset, RseqAbi.Field index, int delayLoops, boolean restartable) {
    public StubOptions {
        if (index != RseqAbi.Field.CPU_ID && index != RseqAbi.Field.MM_CID) {
            throw new IllegalArgumentException("index must be CPU_ID or MM_CID, was " + index);
        }
        if (delayLoops < 0) {
            throw new IllegalArgumentException("delayLoops must be >= 0, was " + delayLoops);
        }
        // Field offsets (below 32) are added to it and encoded as 32-bit displacements.
        if (rseqOffset < Integer.MIN_VALUE || rseqOffset > Integer.MAX_VALUE - 32) {
            throw new IllegalArgumentException("rseqOffset must be in [" + Integer.MIN_VALUE + ", "
                    + (Integer.MAX_VALUE - 32) + "], was " + rseqOffset);
        }
    }

    public static StubOptions production(long rseqOffset, RseqAbi.Field index) {
        return new StubOptions(rseqOffset, index, 0, true);
    }

    public StubOptions withDelay(int loops) {
        return new StubOptions(rseqOffset, index, loops, restartable);
    }

    public StubOptions nonRestartable() {
        return new StubOptions(rseqOffset, index, delayLoops, false);
    }
}
