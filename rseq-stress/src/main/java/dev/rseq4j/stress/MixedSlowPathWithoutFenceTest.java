package dev.rseq4j.stress;

import dev.rseq4j.core.percpu.WordArena;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.J_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Negative control of {@link MixedSlowPathAddTest}: the same race with the slow path's membarrier
 * left out. A fast path that read the guard as free before the slow path took it can then commit
 * after the slow path's update: "1" (a lost update) becomes possible, and this test shows whether
 * the harness can observe it. Never a failure: it is there to be noticed when it never happens.
 */
@JCStressTest
@Description("PerCpuOps.add: production fast path vs. forced slow path WITHOUT membarrier (negative control).")
@Outcome(id = "2", expect = ACCEPTABLE, desc = "Both adds counted.")
@Outcome(id = "1", expect = ACCEPTABLE_INTERESTING, desc = "Lost update: what the membarrier prevents.")
@Outcome(expect = FORBIDDEN, desc = "Impossible even without the fence.")
@State
public class MixedSlowPathWithoutFenceTest {
    /** Its chunk is held by this state: the word is reused once the state is unreachable. */
    private final WordArena.Word word = StressOps.newWord();

    @Actor
    public void fastPath() {
        StressOps.PRODUCTION.add(word.area(), word.offset(), 1);
    }

    @Actor
    public void unfencedSlowPath() {
        StressOps.FORCED_SLOW_UNFENCED.add(word.area(), word.offset(), 1);
    }

    @Arbiter
    public void arbiter(J_Result r) {
        r.r1 = word.area().sumLongOpaque(word.offset());
    }
}
