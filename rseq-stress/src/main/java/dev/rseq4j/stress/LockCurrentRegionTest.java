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
 * The {@code PerCpu}-style use: actor 1 takes the current region's lock with {@code lock()} and frees
 * it with {@code unlock(region)}; actor 2 takes region 0's with {@code lock(0)}. Each adds one to its
 * region's plain counter inside, with the occupancy check of {@link LockMutualExclusionTest} per
 * region. When actor 1 runs on CPU 0 the two contend for region 0 (actor 1 on the fast path, actor 2
 * on the slow path); otherwise they hold different regions and must not disturb each other either.
 * Actor 1 may migrate between its lock and its unlock. Result: (sum of the regions' counters,
 * overlaps, regions still held at the end).
 *
 * @see dev.rseq4j.collections.PerCpu
 */
@JCStressTest
@Description("PerCpuSpinLock.lock() + unlock(region) against lock(0): one holder per region, no lost update.")
@Outcome(id = "2, 0, 0", expect = ACCEPTABLE, desc = "Both updates, one holder per region at a time, every region free at the end.")
@Outcome(expect = FORBIDDEN, desc = "Two holders of one region at once, a lost update, or a region left held.")
@State
public class LockCurrentRegionTest {
    private final PerCpuSpinLock lock = LockStress.LOCKS.take();
    private final AtomicInteger[] inside = new AtomicInteger[lock.regions()];
    private final AtomicInteger overlaps = new AtomicInteger();
    private final int[] values = new int[lock.regions()];

    {
        for (int i = 0; i < inside.length; i++) {
            inside[i] = new AtomicInteger();
        }
    }

    @Actor
    public void current() {
        int region = lock.lock();
        try {
            overlaps.addAndGet(LockStress.section(inside[region], values, region));
        } finally {
            lock.unlock(region);
        }
    }

    @Actor
    public void regionZero() {
        lock.lock(0);
        try {
            overlaps.addAndGet(LockStress.section(inside[0], values, 0));
        } finally {
            lock.unlock(0);
        }
    }

    @Arbiter
    public void arbiter(III_Result r) {
        int sum = 0;
        for (int v : values) {
            sum += v;
        }
        r.r1 = sum;
        r.r2 = overlaps.get();
        r.r3 = LockStress.giveBack(lock, r.r1 == 2 && r.r2 == 0);
    }
}
