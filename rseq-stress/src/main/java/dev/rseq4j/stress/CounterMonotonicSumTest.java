package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuCounter;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/** A counter that is only incremented: two sums by one thread never go down (opaque cell reads). */
@JCStressTest
@Description("PerCpuCounter.sum() read twice while another thread increments twice: 0 <= r1 <= r2 <= 2.")
@Outcome(id = {"0, 0", "0, 1", "0, 2", "1, 1", "1, 2", "2, 2"}, expect = ACCEPTABLE,
        desc = "Non-decreasing sums within what was added.")
@Outcome(id = {"1, 0", "2, 0", "2, 1"}, expect = FORBIDDEN, desc = "The second sum went down.")
@Outcome(expect = FORBIDDEN, desc = "A sum outside [0, 2].")
@State
public class CounterMonotonicSumTest {
    private final PerCpuCounter counter = new PerCpuCounter();

    @Actor
    public void writer() {
        counter.increment();
        counter.increment();
    }

    @Actor
    public void reader(JJ_Result r) {
        r.r1 = counter.sum();
        r.r2 = counter.sum();
    }
}
