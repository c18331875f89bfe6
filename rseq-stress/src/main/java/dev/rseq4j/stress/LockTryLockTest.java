package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuSpinLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Two actors {@code tryLock(0)} from different CPUs (fast path against slow path in rseq mode); one
 * that succeeds stays inside for a short window, checking an occupancy count, then unlocks. Each
 * actor's result: 0 it failed, 1 it held the lock alone, 2 it held it while the other was inside
 * too. Both failing is not a breach of mutual exclusion, but a failing {@code tryLock} must have
 * seen the other holding, which then succeeded: it would be a spurious failure, so it is flagged.
 * Result: (actor 1, actor 2, regions still held at the end). Locks are recycled.
 */
@JCStressTest
@Description("PerCpuSpinLock.tryLock(0) from two CPUs: never both held at once.")
@Outcome(id = {"1, 0, 0", "0, 1, 0"}, expect = ACCEPTABLE, desc = "One took the lock while the other held it; the other failed.")
@Outcome(id = "1, 1, 0", expect = ACCEPTABLE, desc = "One after the other: both took it, never together.")
@Outcome(id = "0, 0, 0", expect = ACCEPTABLE_INTERESTING, desc = "Both failed: a spurious failure (no breach of mutual exclusion).")
@Outcome(expect = FORBIDDEN, desc = "Both held the lock at once, or a region left held.")
@State
public class LockTryLockTest {
    private final PerCpuSpinLock lock = LockStress.LOCKS.take();
    private final AtomicInteger inside = new AtomicInteger();
    private final int[] value = new int[1];

    @Actor
    public void actor1(III_Result r) {
        r.r1 = attempt();
    }

    @Actor
    public void actor2(III_Result r) {
        r.r2 = attempt();
    }

    private int attempt() {
        if (!lock.tryLock(0)) {
            return 0;
        }
        try {
            return LockStress.section(inside, value, 0) == 0 ? 1 : 2;
        } finally {
            lock.unlock(0);
        }
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r3 = LockStress.giveBack(lock, r.r1 < 2 && r.r2 < 2 && value[0] == (r.r1 + r.r2));
    }
}
