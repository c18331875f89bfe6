package dev.rseq4j.conformance;

import dev.rseq4j.collections.PerCpuRingBuffer;
import org.jctools.queues.QueueSanityTest;
import org.jctools.queues.spec.ConcurrentQueueSpec;
import org.jctools.queues.spec.Ordering;
import org.junit.Ignore;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.Parameterized;

import java.util.List;
import java.util.Queue;

/**
 * JCTools' {@code QueueSanityTest} (its 3.3.0 test-jar, unchanged) against {@link PerCpuRingBuffer}, as
 * JCTools runs it against {@code MpscArrayQueue}: many producers, one consumer, a small queue and a
 * large one, in the JVM mode this execution chose (see the module's pom: rseq and lock mode).
 *
 * <p>Unpinned, the spec says {@link Ordering#NONE}, which is what the ring guarantees across CPUs (FIFO
 * per CPU's ring only; a producer that migrates between two offers may see them polled in the other
 * order): the suite then skips its FIFO checks by its own assumptions, and the capacity is
 * {@link PerCpuRingBuffer#capacity()}, the sum of the rings. Pinned (every thread on CPU 0, the pom's
 * third execution), one ring takes every offer: the spec says {@link Ordering#FIFO} with one ring's
 * capacity, and the FIFO checks run. One test is excluded unless pinned and one everywhere, below, with the reasons.
 */
@RunWith(Parameterized.class)
public class RingQueueSanityTest extends QueueSanityTest {
    public RingQueueSanityTest(ConcurrentQueueSpec spec, Queue<Integer> queue) {
        super(spec, queue);
    }

    @Parameterized.Parameters
    public static List<Object[]> parameters() {
        return RingSpecs.parameters(QueueSanityTest::makeQueue);
    }

    /** Excluded unless every thread runs on one CPU, where one ring is the whole queue (RingSpecs.PINNED). */
    @Override
    @Test
    public void testPowerOf2Capacity() {
        RingSpecs.assumeOneRing();
        super.testPowerOf2Capacity();
    }

    /** Excluded everywhere: it offers capacity() elements (the sum of all rings) from one thread, then iterates them. */
    @Override
    @Test
    @Ignore(RingSpecs.PER_CPU_CAPACITY)
    public void testIterator() {
    }
}
