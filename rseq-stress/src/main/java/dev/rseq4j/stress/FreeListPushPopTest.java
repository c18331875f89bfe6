package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuFreeList;
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
 * A push races a pop on a {@link PerCpuFreeList}: handle 0 is free (pushed by the constructor),
 * handle 1 is held by actor 1, which frees it while actor 2 pops. On one CPU the two are fast paths
 * on the same list head; on two, the pop may steal from the constructor's CPU while the push commits
 * on the pusher's. Result: (the popped handle, tally of what the arbiter popped afterwards:
 * count(0) + 10 * count(1)). Each handle must end up exactly once; the pop must find a handle (0 is
 * free throughout). Lists are recycled ({@link PoolStress}).
 */
@JCStressTest
@Description("PerCpuFreeList.push of a held handle races pop: each handle is free or taken exactly once.")
@Outcome(id = "0, 10", expect = ACCEPTABLE, desc = "The pop took the handle that was free; the pushed one is left.")
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "The pop took the handle just pushed; the other is left.")
@Outcome(expect = FORBIDDEN, desc = "A handle was taken twice or lost, or the pop missed a free handle.")
@State
public class FreeListPushPopTest {
    private final PerCpuFreeList list = PoolStress.LISTS.take();

    public FreeListPushPopTest() {
        list.push(0);
    }

    @Actor
    public void pusher() {
        list.push(1);
    }

    @Actor
    public void popper(II_Result r) {
        r.r1 = list.pop();
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r2 = PoolStress.drain(list);
        if (r.r1 >= 0 && PoolStress.tally(r.r1) + r.r2 == PoolStress.BOTH) {
            PoolStress.LISTS.give(list);
        }
    }
}
