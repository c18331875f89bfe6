package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuFreeList;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Two pops race on a {@link PerCpuFreeList} holding handles 0 and 1, both pushed by the state's
 * constructor into one CPU's magazine: a pop on that CPU takes the fast path while a pop on the other
 * CPU finds its own magazine and the depot empty and steals a batch from that magazine
 * ({@code arrayCopyOutFrom}: guard, membarrier, plain copy) and installs the rest in its own. Result: (actor 1's handle, actor 2's handle, tally of
 * what the arbiter popped afterwards: count(0) + 10 * count(1)). Every handle must end up exactly
 * once in the three; a handle popped twice or lost is FORBIDDEN. A pop may return -1 only while
 * the other pop's steal had the handles in flight. Lists are recycled ({@link PoolStress}).
 */
@JCStressTest
@Description("PerCpuFreeList.pop by two threads on a list of two free handles: each handle is taken exactly once.")
@Outcome(id = {"0, 1, 0", "1, 0, 0"}, expect = ACCEPTABLE, desc = "Each pop took one handle.")
@Outcome(id = {"-1, 0, 10", "-1, 1, 1", "0, -1, 10", "1, -1, 1"}, expect = ACCEPTABLE_INTERESTING,
        desc = "One pop saw every list empty while the other's steal had both handles in flight; the rest was left.")
@Outcome(expect = FORBIDDEN, desc = "A handle was popped twice or lost, or both pops missed free handles.")
@State
public class FreeListPopPopTest {
    private final PerCpuFreeList list = PoolStress.LISTS.take();

    public FreeListPopPopTest() {
        list.push(0);
        list.push(1);
    }

    @Actor
    public void actor1(III_Result r) {
        r.r1 = list.pop();
    }

    @Actor
    public void actor2(III_Result r) {
        r.r2 = list.pop();
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r3 = PoolStress.drain(list);
        if (PoolStress.tally(r.r1, r.r2) + r.r3 == PoolStress.BOTH && (r.r1 >= 0 || r.r2 >= 0)) {
            PoolStress.LISTS.give(list);
        }
    }
}
