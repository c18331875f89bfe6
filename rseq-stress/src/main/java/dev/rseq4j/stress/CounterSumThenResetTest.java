package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuCounter;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * sumThenReset racing an increment: the increment is counted exactly once, either by the reset or
 * left in the counter. r1 = what sumThenReset returned, r2 = r1 + sum() afterwards.
 */
@JCStressTest
@Description("PerCpuCounter.sumThenReset() vs. increment(): every update counted by exactly one of them.")
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "Reset first; the increment is left for the next sum.")
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "Increment first; the reset counted it and zeroed it.")
@Outcome(expect = FORBIDDEN, desc = "The increment was lost or counted twice.")
@State
public class CounterSumThenResetTest {
    private final PerCpuCounter counter = new PerCpuCounter();
    private long reset;

    @Actor
    public void increment() {
        counter.increment();
    }

    @Actor
    public void sumThenReset() {
        reset = counter.sumThenReset();
    }

    @Arbiter
    public void arbiter(JJ_Result r) {
        r.r1 = reset;
        r.r2 = reset + counter.sum();
    }
}
