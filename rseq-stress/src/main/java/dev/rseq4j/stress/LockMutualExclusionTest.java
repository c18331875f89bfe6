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
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Two actors take region 0's lock with {@code lock(0)}, each adds one to a plain shared field inside
 * and checks an occupancy count (entered, left: someone else inside is an overlap). The actors run
 * on different CPUs, so in rseq mode the one on CPU 0 takes the restartable fast path and the other
 * the core's slow path (guard, membarrier): the paths are mixed, and a waiter may park. Result:
 * (the field's final value, overlaps seen by both, regions still held at the end). Locks are recycled
 * ({@link LockStress#LOCKS}).
 */
@JCStressTest
@Description("PerCpuSpinLock.lock(0) from two CPUs: one holder at a time, no lost update.")
@Outcome(id = "2, 0, 0", expect = ACCEPTABLE, desc = "Both updates, one holder at a time, the lock free at the end.")
@Outcome(expect = FORBIDDEN, desc = "Two holders at once, a lost update, or a region left held.")
@State
public class LockMutualExclusionTest {
    private final PerCpuSpinLock lock = LockStress.LOCKS.take();
    private final AtomicInteger inside = new AtomicInteger();
    private final AtomicInteger overlaps = new AtomicInteger();
    private final int[] value = new int[1];

    @Actor
    public void actor1() {
        update();
    }

    @Actor
    public void actor2() {
        update();
    }

    private void update() {
        lock.lock(0);
        try {
            overlaps.addAndGet(LockStress.section(inside, value, 0));
        } finally {
            lock.unlock(0);
        }
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r1 = value[0];
        r.r2 = overlaps.get();
        r.r3 = LockStress.giveBack(lock, r.r1 == 2 && r.r2 == 0);
    }
}
