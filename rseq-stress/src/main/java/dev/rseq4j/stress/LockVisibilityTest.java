package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuSpinLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * The lock's unlock-to-lock ordering: actor 1, holding region 0's lock, writes two plain fields
 * {@code x = 1} then {@code y = 1}; actor 2, holding the same lock, reads {@code y} then {@code x}.
 * The sections run one after the other, so actor 2 sees none of actor 1's writes or both; seeing
 * one alone means the writes leaked out of the section or the reads were not ordered after the
 * take (the acquire after the compare-and-store, the release store of the unlock). Both take the
 * lock with {@code lock(0)}, from different CPUs: one on the restartable fast path, the other on
 * the slow path. Result: (y, x, regions still held at the end). Locks are recycled.
 */
@JCStressTest
@Description("PerCpuSpinLock: writes under region 0's lock are seen whole by the next holder.")
@Outcome(id = "0, 0, 0", expect = ACCEPTABLE, desc = "The reader held the lock first.")
@Outcome(id = "1, 1, 0", expect = ACCEPTABLE, desc = "The writer held the lock first.")
@Outcome(expect = FORBIDDEN, desc = "Half of the writer's section seen, or a region left held.")
@State
public class LockVisibilityTest {
    private final PerCpuSpinLock lock = LockStress.LOCKS.take();
    private int x;
    private int y;

    @Actor
    public void writer() {
        lock.lock(0);
        try {
            x = 1;
            y = 1;
        } finally {
            lock.unlock(0);
        }
    }

    @Actor
    public void reader(III_Result r) {
        lock.lock(0);
        try {
            r.r1 = y;
            r.r2 = x;
        } finally {
            lock.unlock(0);
        }
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r3 = LockStress.giveBack(lock, r.r1 == r.r2);
    }
}
