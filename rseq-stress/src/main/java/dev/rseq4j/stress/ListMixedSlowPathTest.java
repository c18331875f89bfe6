package dev.rseq4j.stress;

import dev.rseq4j.core.percpu.NodePool;
import dev.rseq4j.core.percpu.WordArena;
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
 * The list operations' hardest case, as {@link MixedSlowPathAddTest} for add: a forced slow path
 * (guard + membarrier) on a random region racing the production fast path on the same per-CPU list
 * heads. Each actor pushes a node it owns (fast: node 0 on its CPU's list; slow: node 1 on a random
 * region's) and then pops one (from the same kinds of region). The list head is one arena word per
 * state (the same offset in every region, like the counters' words); the two nodes come from a
 * recycled {@link NodePool} ({@link PoolStress}). Result: (fast actor's pop, slow actor's pop, tally
 * of what the arbiter popped from every region afterwards: count(0) + 10 * count(1)). Each node must
 * end up exactly once; popped twice or lost is FORBIDDEN. In lock mode both actors use the lock.
 */
@JCStressTest
@Description("PerCpuOps push+pop on one list head: production fast path vs. forced slow path on a random region.")
@Outcome(id = {"0, 1, 0", "-1, 1, 1", "0, -1, 10", "-1, -1, 11"}, expect = ACCEPTABLE,
        desc = "Each pop took its own node, or found its region empty.")
@Outcome(id = {"1, 0, 0", "1, -1, 1", "-1, 0, 10"}, expect = ACCEPTABLE_INTERESTING,
        desc = "A pop took the node the other actor pushed on the same region.")
@Outcome(expect = FORBIDDEN, desc = "The slow path and the fast path lost or duplicated a node.")
@State
public class ListMixedSlowPathTest {
    /** The list head; its chunk is held by this state. */
    private final WordArena.Word head = StressOps.newWord();
    private final NodePool nodes = PoolStress.NODES.take();

    @Actor
    public void fastPath(III_Result r) {
        StressOps.PRODUCTION.push(head.area(), head.offset(), nodes, 0);
        r.r1 = StressOps.PRODUCTION.pop(head.area(), head.offset(), nodes);
    }

    @Actor
    public void slowPath(III_Result r) {
        StressOps.FORCED_SLOW.push(head.area(), head.offset(), nodes, 1);
        r.r2 = StressOps.FORCED_SLOW.pop(head.area(), head.offset(), nodes);
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r3 = PoolStress.drain(head, nodes);
        if (PoolStress.tally(r.r1, r.r2) + r.r3 == PoolStress.BOTH) {
            PoolStress.NODES.give(nodes);
        }
    }
}
