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
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * The protocol's hardest case: a slow path (guard + membarrier) on a random CPU's region racing a
 * fast path that may run on that CPU, both adding to the same word (one arena word per state:
 * the same offset in every CPU's region).
 */
@JCStressTest
@Description("PerCpuOps.add on one word: production fast path vs. forced slow path on a random region. "
        + "In lock mode both actors use the lock.")
@Outcome(id = "2", expect = ACCEPTABLE, desc = "Both adds counted.")
@Outcome(expect = FORBIDDEN, desc = "The slow path and the fast path lost (or duplicated) an update.")
@State
public class MixedSlowPathAddTest {
    /** Its chunk is held by this state: the word is reused once the state is unreachable. */
    private final WordArena.Word word = StressOps.newWord();

    @Actor
    public void fastPath() {
        StressOps.PRODUCTION.add(word.area(), word.offset(), 1);
    }

    @Actor
    public void slowPath() {
        StressOps.FORCED_SLOW.add(word.area(), word.offset(), 1);
    }

    @Arbiter
    public void arbiter(J_Result r) {
        r.r1 = word.area().sumLongOpaque(word.offset());
    }
}
