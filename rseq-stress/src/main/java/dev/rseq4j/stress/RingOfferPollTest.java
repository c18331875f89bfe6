package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuRingBuffer;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Two producers offer distinct elements to a {@link PerCpuRingBuffer} while the consumer polls:
 * actor 1 offers 0; actor 2 offers 1, then, as the queue's one consumer, polls twice. The actors run
 * on different CPUs, so the two offers go to different rings and the consumer's scan races actor 1's
 * offer (its reservation, then its element store). Two actors, not three (a separate consumer): so
 * the test runs on two CPUs too (jcstress runs no test with more actors than CPUs), and on any number
 * of CPUs the producers' offers race the consumer the same way. Result: (tally of what the consumer
 * polled, tally of what the arbiter polled afterwards: count(0) + 10 * count(1), as in
 * {@link PoolStress#tally}). Each element must be consumed exactly once; the consumer must get its
 * own element 1 (its offer happened before its polls, and a poll returns null only when every ring
 * is empty), so it gets 1 alone or both. Rings are recycled ({@link PoolStress#RINGS}).
 */
@JCStressTest
@Description("PerCpuRingBuffer.offer on two CPUs races poll: each element is consumed exactly once.")
@Outcome(id = "10, 1", expect = ACCEPTABLE, desc = "The consumer took its own element; the arbiter took the other.")
@Outcome(id = "11, 0", expect = ACCEPTABLE, desc = "The consumer took both.")
@Outcome(expect = FORBIDDEN, desc = "An element was consumed twice or lost, or a poll missed the consumer's own element.")
@State
public class RingOfferPollTest {
    private final PerCpuRingBuffer<Object> ring = PoolStress.RINGS.take();

    @Actor
    public void producer() {
        ring.offer(0);
    }

    @Actor
    public void producerAndConsumer(II_Result r) {
        ring.offer(1);
        r.r1 = PoolStress.tallyPolled(ring.poll()) + PoolStress.tallyPolled(ring.poll());
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r2 = PoolStress.drain(ring);
        if (r.r1 + r.r2 == PoolStress.BOTH) {
            PoolStress.RINGS.give(ring);
        }
    }
}
