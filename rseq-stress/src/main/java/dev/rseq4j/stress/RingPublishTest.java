package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuRingBuffer;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * The happens-before promise of {@link PerCpuRingBuffer}: the producer creates an object, writes its
 * fields with plain stores and offers it; the consumer polls once and reads the fields. Everything
 * the producer did before the offer happens-before what the consumer does after the poll that returns
 * the object, so a consumer that gets it must see both fields written, never their defaults (0) nor
 * one without the other: the element's release store and the consumer's acquire load carry that, and
 * nothing else in the ring orders the plain field writes (the tail is committed by a plain store in a
 * restartable sequence). Result: (x, y the consumer read, or -1, -1 if its poll found the ring empty;
 * the number of elements the arbiter polled afterwards). Rings are recycled ({@link PoolStress#RINGS}).
 */
@JCStressTest
@Description("PerCpuRingBuffer.offer publishes the element's plain fields to the consumer that polls it.")
@Outcome(id = "1, 2, 0", expect = ACCEPTABLE, desc = "The consumer polled the element and saw its fields.")
@Outcome(id = "-1, -1, 1", expect = ACCEPTABLE, desc = "The consumer polled before the offer; the arbiter took the element.")
@Outcome(expect = FORBIDDEN, desc = "The consumer saw an unwritten field, or the element was lost or consumed twice.")
@State
public class RingPublishTest {
    /** Fields written with plain stores before the offer. */
    static final class Message {
        int x;
        int y;
    }

    private final PerCpuRingBuffer<Object> ring = PoolStress.RINGS.take();

    @Actor
    public void producer() {
        Message m = new Message();
        m.x = 1;
        m.y = 2;
        ring.offer(m);
    }

    @Actor
    public void consumer(III_Result r) {
        Message m = (Message) ring.poll();
        r.r1 = m == null ? -1 : m.x;
        r.r2 = m == null ? -1 : m.y;
    }

    @Arbiter
    public void arbiter(III_Result r) {
        int left = 0;
        while (left < 2 && ring.poll() != null) {
            left++;
        }
        r.r3 = left;
        if (r.r1 == 1 ? r.r2 == 2 && left == 0 : r.r1 == -1 && left == 1) {
            PoolStress.RINGS.give(ring);
        }
    }
}
