package dev.rseq4j.stress;

import dev.rseq4j.core.percpu.WordArena;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJJ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * The batch's hardest case: a production batch (three sections, one downcall) racing a batch forced
 * onto the slow path (guard + membarrier) on a random CPU's region, on the same three words.
 */
@JCStressTest
@Description("PerCpuOps.addEach on three words: production fast path vs. forced slow path on a random region. "
        + "In lock mode both actors use the lock.")
@Outcome(id = "2, 4, 6", expect = ACCEPTABLE, desc = "Both batches counted on every word.")
@Outcome(expect = FORBIDDEN, desc = "The slow path and the fast path lost (or duplicated) an add.")
@State
public class MixedSlowPathAddEachTest {
    /** Its chunk is held by this state: the words are reused once the state is unreachable. */
    private final WordArena.Word words = StressOps.newWords(3);

    @Actor
    public void fastPath() {
        StressOps.PRODUCTION.addEach(words.area(), words.offset(), 3, 1, 2, 3);
    }

    @Actor
    public void slowPath() {
        StressOps.FORCED_SLOW.addEach(words.area(), words.offset(), 3, 1, 2, 3);
    }

    @Arbiter
    public void arbiter(JJJ_Result r) {
        r.r1 = words.area().sumLongOpaque(words.offset());
        r.r2 = words.area().sumLongOpaque(words.offset() + 8);
        r.r3 = words.area().sumLongOpaque(words.offset() + 16);
    }
}
