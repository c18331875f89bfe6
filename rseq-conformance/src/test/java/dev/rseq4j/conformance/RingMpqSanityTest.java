package dev.rseq4j.conformance;

import dev.rseq4j.collections.PerCpuRingBuffer;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpqSanityTest;
import org.jctools.queues.spec.ConcurrentQueueSpec;
import org.junit.Ignore;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.Parameterized;

import java.util.List;

/**
 * JCTools' {@code MpqSanityTest} (its 3.3.0 test-jar, unchanged) against {@link PerCpuRingBuffer} as a
 * {@link MessagePassingQueue}, with the specs of {@link RingQueueSanityTest}. The tests excluded below
 * all fill "the queue" from one thread and expect a capacity's worth of elements to fit: a thread
 * fills only its CPU's ring ({@link RingSpecs#PER_CPU_CAPACITY}). Two of them run where every thread is
 * on one CPU (the pinned execution), since they count with the spec's capacity, one ring's there;
 * three use {@code capacity()}, the sum of the rings, and are excluded everywhere. Conversely
 * {@code capacityWorks} (spec capacity equals {@code capacity()}) is excluded where pinned. The ring's own tests
 * cover the per-ring boundaries ({@code PerCpuRingBufferTest}: full and empty per ring, fill stopping at a full
 * ring).
 */
@RunWith(Parameterized.class)
public class RingMpqSanityTest extends MpqSanityTest {
    public RingMpqSanityTest(ConcurrentQueueSpec spec, MessagePassingQueue<Integer> queue) {
        super(spec, queue);
    }

    @Parameterized.Parameters
    public static List<Object[]> parameters() {
        return RingSpecs.parameters(MpqSanityTest::makeMpq);
    }

    // Excluded unless every thread runs on one CPU, where one ring is the whole queue (RingSpecs.PINNED).

    @Override
    @Test
    public void testPowerOf2Capacity() {
        RingSpecs.assumeOneRing();
        super.testPowerOf2Capacity();
    }

    @Override
    @Test
    public void testSizeIsTheNumberOfOffers() {
        RingSpecs.assumeOneRing();
        super.testSizeIsTheNumberOfOffers();
    }

    /** Excluded where pinned: the spec's capacity is one ring's there, and capacity() stays the sum of all rings. */
    @Override
    @Test
    public void capacityWorks() {
        RingSpecs.assumeAllRings();
        super.capacityWorks();
    }

    // Excluded everywhere: these expect one thread to fit capacity() elements, the sum of all rings.

    @Override
    @Test
    @Ignore(RingSpecs.PER_CPU_CAPACITY)
    public void fillToCapacityInBatches() {
    }

    @Override
    @Test
    @Ignore(RingSpecs.PER_CPU_CAPACITY)
    public void fillToCapacityOnBounded() {
    }

    @Override
    @Test
    @Ignore(RingSpecs.PER_CPU_CAPACITY + " (it loops until fill has put capacity() elements in: unpinned it"
            + " spun until the scheduler moved the thread to another CPU, 48 s once; pinned it never ends)")
    public void supplyMessageUntilFull() {
    }
}
