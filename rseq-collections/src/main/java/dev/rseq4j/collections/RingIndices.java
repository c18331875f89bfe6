package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PerCpuArea;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The Java-side indices of the per-CPU rings ({@link PerCpuRingBuffer}, {@link PerCpuRecordRingBuffer}):
 * per region, the consumer's head and the producers' cached limit, each on a cache line of its own.
 * ({@link PerCpuRingBuffer} keeps its producers' limit in its native tail line instead, where its
 * one-downcall reservation reads it; it uses only the head here.)
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

    /**
     * How much all rings hold (in the ring's unit): the sum over regions of {@code tail - head}, each
     * tail the word at {@code tailOffset} of {@code tails}' region. Always in [0, regions * capacity]
     * and exact when producers and the consumer are quiescent. While they run, each ring's share is
     * what it held at one moment of the call, and the sum at most what all rings held at once at one
     * moment, plus the elements that left one ring and entered another while the call ran (possible
     * only when attempts to read every ring between two unchanged reads of the heads keep failing).
     *
     * <p>Why: reading a head, then its tail, can count elements that came and went in between (a reader
     * preempted between the two reads saw a whole time slice of offers and polls: the ring reported
     * itself full while it never held more than one element). So, as JCTools' {@code size()} re-reads
     * the consumer index around the producer index, this reads every head and tail, then every head
     * again, and retries while any head moved: the heads only grow, so equal sums mean no element was
     * consumed between the first head read and the last tail read, and nothing counted can have been
     * counted twice or have left. After {@value #SIZE_ATTEMPTS} attempts under a busy consumer it
     * settles for ring-by-ring counts, each taken between two equal reads of its head.
     */
    long occupancy(PerCpuArea tails, long tailOffset) {
        int regions = tails.regions();
        for (int attempt = 0; attempt < SIZE_ATTEMPTS; attempt++) {
            long heads = 0;
            long sum = 0;
            for (int r = 0; r < regions; r++) {
                long head = lvHead(r);
                // NOTE: acquire: orders this tail read after the head read before it and before the
                // head reads after it.
                sum += Math.max(0, Math.min(tails.getLongAcquire(r, tailOffset) - head, capacity));
                heads += head;
            }
            for (int r = 0; r < regions; r++) {
                heads -= lvHead(r);
            }
            if (heads == 0) {
                return sum;
            }
        }
        long sum = 0;
        for (int r = 0; r < regions; r++) {
            for (;;) {
                long head = lvHead(r);
                long inRing = tails.getLongAcquire(r, tailOffset) - head;
                if (lvHead(r) == head) {
                    sum += Math.max(0, Math.min(inRing, capacity));
                    break;
                }
            }
        }
        return sum;
    }

    private static final int SIZE_ATTEMPTS = 64;

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
