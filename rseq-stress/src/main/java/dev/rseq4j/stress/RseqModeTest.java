package dev.rseq4j.stress;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Not a race: reports the mode of the forked test VM, so that a run whose VMs silently fell back to
 * lock mode (no --enable-native-access) is visible. With {@code -Drseq4j.stress.requireRseq=true}
 * in the forked VMs' arguments, lock mode is a failure.
 */
@JCStressTest
@Description("rseq4j mode of the test VM: 1 = rseq, 0 = lock mode, -1 = lock mode but rseq4j.stress.requireRseq=true.")
@Outcome(id = "1", expect = ACCEPTABLE, desc = "rseq mode: the fast paths were tested.")
@Outcome(id = "0", expect = ACCEPTABLE_INTERESTING, desc = "Lock mode: only the lock was tested.")
@Outcome(expect = FORBIDDEN, desc = "Lock mode, but rseq mode was required.")
@State
public class RseqModeTest {
    private static final boolean REQUIRE_RSEQ = Boolean.getBoolean("rseq4j.stress.requireRseq");

    @Actor
    public void mode(I_Result r) {
        r.r1 = StressOps.RSEQ ? 1 : REQUIRE_RSEQ ? -1 : 0;
    }
}
