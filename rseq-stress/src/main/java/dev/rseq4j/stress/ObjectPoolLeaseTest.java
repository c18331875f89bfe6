package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuObjectPool;
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
 * Two actors acquire and close on a {@link PerCpuObjectPool} of at most one object, created
 * beforehand and idle on one CPU's list: at most one of them may hold the pooled object at a time;
 * the other gets a new, unpooled object (or the pooled one after the first closed). Each actor
 * holds its lease across a short window and records whether another actor held the same object
 * meanwhile (the object counts its holders). Result: (actor 1, actor 2: 1 pooled object held alone,
 * 0 an unpooled object, 2 the pooled object held by both at once; the arbiter's
 * {@code 10 * idle() + created()}, which must be 11: nothing lost, nothing made twice). Pools are
 * recycled ({@link PoolStress}), each checked by its last arbiter before reuse.
 */
@JCStressTest
@Description("PerCpuObjectPool acquire+close by two threads on a pool of one object: never leased twice at once, never lost.")
@Outcome(id = {"1, 0, 11", "0, 1, 11"}, expect = ACCEPTABLE, desc = "Concurrent: one got the pooled object, the other a new one.")
@Outcome(id = "1, 1, 11", expect = ACCEPTABLE_INTERESTING, desc = "Sequential: one closed before the other acquired.")
@Outcome(expect = FORBIDDEN, desc = "The object was leased to both at once, lost, made twice, or neither found it idle.")
@State
public class ObjectPoolLeaseTest {
    private final PerCpuObjectPool<PoolStress.Holder> pool = PoolStress.ONE_OBJECT_POOLS.take();

    @Actor
    public void actor1(III_Result r) {
        r.r1 = PoolStress.leaseOnce(pool, 1);
    }

    @Actor
    public void actor2(III_Result r) {
        r.r2 = PoolStress.leaseOnce(pool, 2);
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r3 = 10 * pool.idle() + pool.created();
        if (r.r3 == 11 && r.r1 != 2 && r.r2 != 2) {
            PoolStress.ONE_OBJECT_POOLS.give(pool);
        }
    }
}
