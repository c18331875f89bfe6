package dev.rseq4j.conformance;

import dev.rseq4j.collections.PerCpuRingBuffer;
import org.jctools.queues.spec.Ordering;

import java.util.List;
import java.util.Queue;

import static org.junit.Assume.assumeTrue;

/** The queues and specs both suites run with, and the one reason tests are excluded. */
final class RingSpecs {
    /** Why the capacity tests are excluded: the ring's capacity is per CPU, by design. */
    static final String PER_CPU_CAPACITY = "by design: capacity() is the sum of one ring per CPU, and a thread"
            + " offers only to the ring of the CPU it runs on, so one thread that never migrates fills"
            + " capacityPerRegion() elements, not capacity() (PerCpuRingBuffer's contract: offer is false iff"
            + " the current CPU's ring is full)";

    /** JCTools' {@code makeQueue} and {@code makeMpq}: a spec and a queue as one parameter row. */
    interface Maker {
        Object[] make(int producers, int consumers, int capacity, Ordering ordering, Queue<Integer> queue);
    }

    private RingSpecs() {
    }

    /**
     * Whether this JVM runs every thread on one CPU (the pom's pinned execution): then one ring takes
     * every offer, and the queue is one FIFO ring of {@code capacityPerRegion()} elements.
     */
    static final boolean PINNED = Boolean.getBoolean("rseq4j.conformance.pinned");

    /**
     * As JCTools' own rows for {@code MpscArrayQueue}: many producers (0), one consumer, a small queue
     * (rings of 2, the smallest) and one of 8192 per ring. Unpinned: ordering NONE (FIFO per CPU
     * only) and the capacity of all rings; pinned: FIFO and one ring's capacity, what the queue is then.
     */
    static List<Object[]> parameters(Maker maker) {
        PerCpuRingBuffer<Integer> small = new PerCpuRingBuffer<>(2);
        PerCpuRingBuffer<Integer> large = new PerCpuRingBuffer<>(8192);
        Ordering ordering = PINNED ? Ordering.FIFO : Ordering.NONE;
        return List.of(
                maker.make(0, 1, PINNED ? small.capacityPerRegion() : small.capacity(), ordering, small),
                maker.make(0, 1, PINNED ? large.capacityPerRegion() : large.capacity(), ordering, large));
    }

    /** Skips the calling test where pinned: there the spec's capacity is one ring's, {@code capacity()} all rings'. */
    static void assumeAllRings() {
        assumeTrue("pinned, the spec's capacity is one ring's (what one CPU's producers can fill), while"
                + " capacity() is still the sum of all rings", !PINNED);
    }

    /** Skips the calling test, with {@link #PER_CPU_CAPACITY} as the reason, unless every thread runs on one CPU. */
    static void assumeOneRing() {
        assumeTrue(PER_CPU_CAPACITY, PINNED);
    }
}
