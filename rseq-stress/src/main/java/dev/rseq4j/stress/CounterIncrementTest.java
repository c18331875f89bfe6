package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuCounter;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.J_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/** Fast path: two concurrent increments of one counter are both counted. */
@JCStressTest
@Description("PerCpuCounter.increment() by two threads on the production fast path: no update is lost.")
@Outcome(id = "2", expect = ACCEPTABLE, desc = "Both increments counted.")
@Outcome(expect = FORBIDDEN, desc = "An increment was lost or counted twice.")
@State
public class CounterIncrementTest {
    private final PerCpuCounter counter = new PerCpuCounter();

    @Actor
    public void actor1() {
        counter.increment();
    }

    @Actor
    public void actor2() {
        counter.increment();
    }

    @Arbiter
    public void arbiter(J_Result r) {
        r.r1 = counter.sum();
    }
}
