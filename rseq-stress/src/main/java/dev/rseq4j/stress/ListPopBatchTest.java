package dev.rseq4j.stress;

import dev.rseq4j.core.percpu.NodePool;
import dev.rseq4j.core.percpu.WordArena;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * A steal racing a fast pop: the constructor pushes nodes 0 then 1 on its CPU's list (the "home"
 * region); one actor pops with the production fast path, the other takes a batch of up to 2 from
 * the home region with {@code popBatch} (guard, membarrier to that CPU, plain pops), as
 * {@code PerCpuFreeList} does when its own CPU's list is empty. When the popper runs on the home CPU
 * the two race on one head. Result: (the pop's node, tally of the batch, tally of what the arbiter
 * popped from every region afterwards, 1 if the popper's CPU was the home region just before it
 * popped). Tallies are count(0) + 10 * count(1); each node must end up exactly once. Nodes are
 * recycled ({@link PoolStress}); the head is an arena word.
 */
@JCStressTest
@Description("PerCpuOps.popBatch of a region races the production pop: each node is taken exactly once.")
@Outcome(id = "1, 1, 0, 1", expect = ACCEPTABLE_INTERESTING, desc = "On the home CPU, the pop took the top node, then the batch the other.")
@Outcome(id = "-1, 11, 0, 1", expect = ACCEPTABLE_INTERESTING, desc = "On the home CPU, the batch took both, then the pop found the list empty.")
@Outcome(id = "-1, 11, 0, 0", expect = ACCEPTABLE, desc = "The pop ran on another CPU's empty list; the batch took both.")
@Outcome(id = "1, 1, 0, 0", expect = ACCEPTABLE, desc = "Migrated to the home CPU between the CPU check and the pop.")
@Outcome(id = {"0, 10, 0, [01]", "1, 0, 1, [01]", "-1, 10, 1, [01]"}, expect = ACCEPTABLE,
        desc = "The constructor migrated between its pushes: the nodes are on two lists.")
@Outcome(expect = FORBIDDEN, desc = "The fast pop and the batch lost or duplicated a node.")
@State
public class ListPopBatchTest {
    private final WordArena.Word head = StressOps.newWord();
    private final NodePool nodes = PoolStress.NODES.take();
    private final int[] batch = new int[2];
    private final int home;

    public ListPopBatchTest() {
        StressOps.PRODUCTION.push(head.area(), head.offset(), nodes, 0);
        StressOps.PRODUCTION.push(head.area(), head.offset(), nodes, 1);
        // The region whose head is node 1 (the last pushed): the constructor is alone, so exact.
        int h = 0;
        for (int r = 0; r < head.area().regions(); r++) {
            if (head.area().getLongOpaque(r, head.offset()) == nodes.address(1)) {
                h = r;
            }
        }
        home = h;
    }

    @Actor
    public void pop(IIII_Result r) {
        r.r4 = StressOps.PRODUCTION.currentIndex(head.area()) == home ? 1 : 0;
        r.r1 = StressOps.PRODUCTION.pop(head.area(), head.offset(), nodes);
    }

    @Actor
    public void steal(IIII_Result r) {
        int n = StressOps.PRODUCTION.popBatch(head.area(), home, head.offset(), nodes, batch, 2);
        int t = 0;
        for (int i = 0; i < n; i++) {
            t += PoolStress.tally(batch[i]);
        }
        r.r2 = t;
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        r.r3 = PoolStress.drain(head, nodes);
        if (PoolStress.tally(r.r1) + r.r2 + r.r3 == PoolStress.BOTH) {
            PoolStress.NODES.give(nodes);
        }
    }
}
