package dev.rseq4j.stress;

import dev.rseq4j.core.percpu.ArrayStack;
import dev.rseq4j.core.percpu.WordArena;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * The free-list's steal racing a magazine pop: the constructor pushes elements 0 then 1 onto its CPU's
 * array stack (the "home" region) with {@code arrayPush}; one actor pops with the production
 * {@code arrayPop} (one restartable section), the other copies up to 2 elements out of the home region
 * with {@code arrayCopyOutFrom} (guard, membarrier to that CPU, plain copy, plain count store), as
 * {@code PerCpuFreeList} steals. When the popper runs on the home CPU the two race on one count.
 * Result: (the pop's element, tally of the copied elements, tally of what the arbiter copied out of
 * every region afterwards, 1 if the popper's CPU was the home region just before it popped). Tallies
 * are count(0) + 10 * count(1); each element must end up exactly once. The stack is three arena words
 * (count, two slots), new per state.
 */
@JCStressTest
@Description("PerCpuOps.arrayCopyOutFrom of a region races the production arrayPop: each element is taken exactly once.")
@Outcome(id = "1, 1, 0, 1", expect = ACCEPTABLE_INTERESTING, desc = "On the home CPU, the pop took the top element, then the steal the other.")
@Outcome(id = "-1, 11, 0, 1", expect = ACCEPTABLE_INTERESTING, desc = "On the home CPU, the steal took both, then the pop found the stack empty.")
@Outcome(id = "-1, 11, 0, 0", expect = ACCEPTABLE, desc = "The pop ran on another CPU's empty stack; the steal took both.")
@Outcome(id = "1, 1, 0, 0", expect = ACCEPTABLE, desc = "Migrated to the home CPU between the CPU check and the pop.")
@Outcome(id = {"0, 10, 0, [01]", "1, 0, 1, [01]", "-1, 10, 1, [01]"}, expect = ACCEPTABLE,
        desc = "The constructor migrated between its pushes: the elements are on two stacks.")
@Outcome(expect = FORBIDDEN, desc = "The pop and the steal lost or duplicated an element.")
@State
public class ArrayPopStealTest {
    private final WordArena.Word words = StressOps.newWords(3);
    private final ArrayStack stack = new ArrayStack(words.area(), words.offset(), words.offset() + 8, 2);
    private final long[] batch = new long[2];
    private final int home;

    public ArrayPopStealTest() {
        StressOps.PRODUCTION.arrayPush(stack, 0);
        StressOps.PRODUCTION.arrayPush(stack, 1);
        // The region whose top is element 1 (the last pushed): the constructor is alone, so exact.
        int h = 0;
        for (int r = 0; r < words.area().regions(); r++) {
            int n = stack.size(r);
            if (n > 0 && words.area().getLongOpaque(r, words.offset() + 8L * n) == 1) {
                h = r;
            }
        }
        home = h;
    }

    @Actor
    public void pop(IIII_Result r) {
        r.r4 = StressOps.PRODUCTION.currentIndex(words.area()) == home ? 1 : 0;
        r.r1 = StressOps.PRODUCTION.arrayPop(stack);
    }

    @Actor
    public void steal(IIII_Result r) {
        int n = StressOps.PRODUCTION.arrayCopyOutFrom(stack, home, batch, 2);
        int t = 0;
        for (int i = 0; i < n; i++) {
            t += PoolStress.tally((int) batch[i]);
        }
        r.r2 = t;
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        long[] rest = new long[2];
        int t = 0;
        for (int region = 0; region < words.area().regions(); region++) {
            int n = StressOps.PRODUCTION.arrayCopyOutFrom(stack, region, rest, 2);
            for (int i = 0; i < n; i++) {
                t += PoolStress.tally((int) rest[i]);
            }
        }
        r.r3 = t;
    }
}
