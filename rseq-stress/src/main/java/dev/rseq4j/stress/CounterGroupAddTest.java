package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuCounter;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJJ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/** Fast path: two concurrent group updates (one downcall, three sections each) are both counted, once. */
@JCStressTest
@Description("PerCpuCounter.Group.add(d0, d1, d2) by two threads on the production fast path: every "
        + "member counts both updates, none lost or counted twice.")
@Outcome(id = "2, 4, 6", expect = ACCEPTABLE, desc = "Both updates counted by every member.")
@Outcome(expect = FORBIDDEN, desc = "A member lost an update or counted one twice.")
@State
public class CounterGroupAddTest {
    private final PerCpuCounter.Group group = PerCpuCounter.group(3);

    @Actor
    public void actor1() {
        group.add(1, 2, 3);
    }

    @Actor
    public void actor2() {
        group.add(1, 2, 3);
    }

    @Arbiter
    public void arbiter(JJJ_Result r) {
        r.r1 = group.counter(0).sum();
        r.r2 = group.counter(1).sum();
        r.r3 = group.counter(2).sum();
    }
}
