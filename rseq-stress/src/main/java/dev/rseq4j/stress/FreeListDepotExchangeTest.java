package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuFreeList;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * Two CPUs exchanging handles through the depot: a list of four handles with batches of one (a
 * magazine holds two). One actor pushes handles 0 to 3 on its CPU: the first two fill its magazine,
 * the last two spill to the depot. The other actor pops four times on its CPU, whose magazine is
 * empty: each pop refills from the depot, or, with the depot empty, steals from the pusher's
 * magazine (its guard and a membarrier, racing the pusher's fast paths), or finds nothing yet (-1).
 * Result: (digits of what the popper took, digits of what the arbiter popped afterwards), where a
 * handle {@code h} adds {@code 1 << 4h}: each handle exactly once is {@code 0x1111 = 4369} in all.
 * Lists are recycled ({@link PoolStress}) only when they checked out.
 */
@JCStressTest
@Description("PerCpuFreeList push on one CPU, pop on another: handles move through the depot, each exactly once.")
@Outcome(id = {"0, 4369", "1, 4368", "16, 4353", "256, 4113", "4096, 273", "17, 4352", "257, 4112", "4097, 272",
        "272, 4097", "4112, 257", "4352, 17", "273, 4096", "4113, 256", "4353, 16", "4368, 1", "4369, 0"},
        expect = ACCEPTABLE, desc = "Each handle ended up once, with the popper or in the list.")
@Outcome(expect = FORBIDDEN, desc = "A handle was popped twice, or lost.")
@State
public class FreeListDepotExchangeTest {
    /** Lists of four handles with batches of one, recycled as {@link PoolStress#LISTS}. */
    static final PoolStress.Recycler<PerCpuFreeList> LISTS =
            new PoolStress.Recycler<>(() -> PerCpuFreeList.builder(4).batchSize(1).build());

    private final PerCpuFreeList list = LISTS.take();

    @Actor
    public void pusher() {
        for (int h = 0; h < 4; h++) {
            list.push(h);
        }
    }

    @Actor
    public void popper(II_Result r) {
        int t = 0;
        for (int i = 0; i < 4; i++) {
            int h = list.pop();
            if (h >= 0) {
                t += digit(h);
            }
        }
        r.r1 = t;
    }

    @Arbiter
    public void arbiter(II_Result r) {
        int t = 0;
        for (int i = 0; i < 5; i++) {       // more than 4 is a duplicate already
            int h = list.pop();
            if (h < 0) {
                break;
            }
            t += digit(h);
        }
        r.r2 = t;
        if (r.r1 + r.r2 == 0x1111) {
            LISTS.give(list);
        }
    }

    /** Handle {@code h}'s digit: {@code 1 << 4h}; a count of 16 of one handle cannot occur (four pops each side). */
    private static int digit(int h) {
        return 1 << (4 * h);
    }
}
