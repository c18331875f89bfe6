package dev.rseq4j.collections;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The Java-side indices of the per-CPU rings ({@link PerCpuRingBuffer}, {@link PerCpuRecordRingBuffer}):
 * per region, the consumer's head and the producers' cached limit, each on a cache line of its own.
 * <pre>
 *   long[]: | padding stride | region 0 stride | region 1 stride | ... | padding stride |
 *   region stride (16 longs, 128 bytes):
 *   +------+------ ... ------+---------------+------ ... ------+
 *   | head |     padding     | producerLimit |     padding     |
 *   +------+------ ... ------+---------------+------ ... ------+
 *   0      8                 64              72                128
 * </pre>
 * Head and limit count in the ring's unit (elements or bytes) and only grow. Only the consumer writes
 * the head (release), producers read it (acquire) to see how much room the ring has. The limit is a
 * plain cache of {@code head + capacity}: producers of one region may race to write it, but every
 * value ever written was {@code head + capacity} for some head its writer saw, and the head only
 * grows, so any value read is a safe limit (a stale one only makes the check stricter).
 */
final class RingIndices {
    private static final int STRIDE = 16;
    private static final int LIMIT = 8;
    private static final VarHandle INDEX = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] indices;
    private final long capacity;

    /** Heads at 0 and limits at {@code capacity} for {@code regions} rings of {@code capacity} each. */
    RingIndices(int regions, long capacity) {
        this.indices = new long[(regions + 2) * STRIDE];
        this.capacity = capacity;
        for (int r = 0; r < regions; r++) {
            indices[(r + 1) * STRIDE + LIMIT] = capacity;
        }
    }

    /** The head, read plain: for the consumer, its only writer. */
    long lpHead(int region) {
        return indices[(region + 1) * STRIDE];
    }

    /** The head, read with acquire: who sees a head sees what the consumer did before publishing it. */
    long lvHead(int region) {
        return (long) INDEX.getAcquire(indices, (region + 1) * STRIDE);
    }

    /**
     * Publishes the consumer's new head with a release store: a producer that sees it (acquire) sees
     * the consumer's clears and reads of what it consumed before reusing that room.
     */
    void soHead(int region, long head) {
        INDEX.setRelease(indices, (region + 1) * STRIDE, head);
    }

    /** The producers' cached limit, read plain. */
    long lpLimit(int region) {
        return indices[(region + 1) * STRIDE + LIMIT];
    }

    /** Reads the head (acquire) and caches {@code head + capacity} as the region's limit; returns it. */
    long refreshLimit(int region) {
        long limit = lvHead(region) + capacity;
        // NOTE: plain and racy by design (see the class notes): any value written is a safe limit.
        indices[(region + 1) * STRIDE + LIMIT] = limit;
        return limit;
    }
}
