package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuRecordRingBuffer;
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
 * {@link RingPublishTest} for {@link PerCpuRecordRingBuffer}: the producer writes one 64-byte record
 * (its bytes copied into the ring with plain stores, then the record committed); the consumer reads
 * once. A record the consumer reads must be whole: the type and length written and every byte as
 * written, never the ring's zeroed (or a previous record's) bytes. Result: (tally of what the
 * consumer read: 1 the record whole, 0 nothing, 100 a torn record; the tally of what the arbiter read
 * afterwards; see {@link RecordRingStress#read}). Rings are recycled ({@link RecordRingStress#RINGS}).
 */
@JCStressTest
@Description("PerCpuRecordRingBuffer.write publishes the record's bytes to the reader: whole or not at all.")
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "The consumer read the record whole.")
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "The consumer read before the write committed; the arbiter read it.")
@Outcome(expect = FORBIDDEN, desc = "A torn record (wrong type, length or bytes), or the record lost or read twice.")
@State
public class RecordRingPublishTest {
    private final PerCpuRecordRingBuffer ring = RecordRingStress.RINGS.take();

    @Actor
    public void producer() {
        RecordRingStress.write(ring, RecordRingStress.FIRST);
    }

    @Actor
    public void consumer(II_Result r) {
        r.r1 = RecordRingStress.read(ring);
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r2 = RecordRingStress.read(ring);
        if (r.r1 + r.r2 == 1) {
            RecordRingStress.RINGS.give(ring);
        }
    }
}
