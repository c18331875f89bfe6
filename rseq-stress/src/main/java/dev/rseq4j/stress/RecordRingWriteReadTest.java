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
 * {@link RingOfferPollTest} for {@link PerCpuRecordRingBuffer}: actor 1 writes record 1 (64 bytes);
 * actor 2 writes record 2 (40 bytes), then, as the ring's one consumer, reads everything available.
 * The writes go to different CPUs' rings, and the read races actor 1's write. Result: (tally of what
 * the consumer read, tally of what the arbiter read afterwards: count(1) + 10 * count(2), a record
 * whose type, length or bytes differ from what was written 100; see {@link RecordRingStress#read}).
 * Each record must be read exactly once and whole; the consumer must read its own record 2 (written
 * before its read), so it reads 2 alone or both. Rings are recycled ({@link RecordRingStress#RINGS}).
 */
@JCStressTest
@Description("PerCpuRecordRingBuffer.write on two CPUs races read: each record is read exactly once, whole.")
@Outcome(id = "10, 1", expect = ACCEPTABLE, desc = "The consumer read its own record; the arbiter read the other.")
@Outcome(id = "11, 0", expect = ACCEPTABLE, desc = "The consumer read both.")
@Outcome(expect = FORBIDDEN, desc = "A record was read twice, lost or torn, or the read missed the consumer's own record.")
@State
public class RecordRingWriteReadTest {
    private final PerCpuRecordRingBuffer ring = RecordRingStress.RINGS.take();

    @Actor
    public void writer() {
        RecordRingStress.write(ring, RecordRingStress.FIRST);
    }

    @Actor
    public void writerAndReader(II_Result r) {
        RecordRingStress.write(ring, RecordRingStress.SECOND);
        r.r1 = RecordRingStress.read(ring);
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r2 = RecordRingStress.read(ring);
        if (r.r1 + r.r2 == PoolStress.BOTH) {
            RecordRingStress.RINGS.give(ring);
        }
    }
}
