package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.runtime.RseqRuntime;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PerCpuOps#pop} on a head that is not a node of the pool (outside it, or inside it between
 * two nodes) throws {@link IllegalStateException} and leaves the head as it was: nothing is
 * dereferenced or committed. Checked through the stubs (RSEQ mode, each index source the kernel
 * has), through the portable form in RSEQ mode (every operation forced onto the slow path), and in
 * lock mode. (Stub modes are listed only where the kernel supports them: RSEQ mode, and mm_cid
 * where the kernel has it.)
 */
class PopCorruptHeadTest {
    private static final long HEAD = 8;

    static List<Arguments> modes() {
        RseqRuntime rt = RseqRuntime.get();
        List<Arguments> modes = new ArrayList<>();
        modes.add(Arguments.of("lock mode (portable)", (Supplier<PerCpuOps>) OpsVariant::lockMode));
        for (CpuIndexing index : CpuIndexing.values()) {
            if (rt.rseqMode() && (index == CpuIndexing.CPU || rt.status().mmCid())) {
                modes.add(Arguments.of("stub " + index,
                        (Supplier<PerCpuOps>) () -> GuardedPerCpuOps.production(index)));
                modes.add(Arguments.of("slow path (portable) " + index,
                        (Supplier<PerCpuOps>) () -> OpsVariant.of(index).forcingSlowPathEvery(1).create()));
            }
        }
        return modes;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void headBetweenNodesOrOutsideThePoolIsRefusedAndLeftAlone(String mode, Supplier<PerCpuOps> ops) {
        PerCpuOps o = ops.get();
        NodePool pool = new NodePool(4, 32, 16);
        for (int node = 0; node < 4; node++) {
            pool.node(node).set(JAVA_LONG, 16, pool.address((node + 1) % 4));   // plausible next pointers
        }
        long first = pool.firstAddress();
        long last = pool.lastAddress();
        for (long forged : new long[] {first + 8, first + 1, first + 4, first + 16, first + 24, first + 32 + 8,
                last - 8, last + 8, first - 32, 0x1000}) {
            PerCpuArea area = PerCpuArea.forPossibleCpus(o.indexing(), 64);
            for (int r = 0; r < area.regions(); r++) {
                area.region(r).set(JAVA_LONG, HEAD, forged);
            }
            String what = mode + ", head first + " + (forged - first);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> o.pop(area, HEAD, pool), what);
            assertTrue(e.getMessage().contains("list corrupted"), e.getMessage());
            for (int r = 0; r < area.regions(); r++) {
                assertEquals(forged, area.region(r).get(JAVA_LONG, HEAD), what + ": head of region " + r + " unchanged");
            }
            for (int node = 0; node < 4; node++) {
                assertEquals(pool.address((node + 1) % 4), pool.node(node).get(JAVA_LONG, 16),
                        what + ": pool unchanged");
            }
        }
    }
}
