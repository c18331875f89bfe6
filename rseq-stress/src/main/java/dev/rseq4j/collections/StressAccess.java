package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PerCpuArea;

/**
 * Package-private arena access for the jcstress tests (same package on the class path; the module
 * has no module-info). Not part of any API.
 */
public final class StressAccess {
    private StressAccess() {
    }

    /** One word in every region of {@code area}, at {@code offset}. */
    public record Word(PerCpuArea area, long offset) {
    }

    /**
     * A zeroed word of {@code arena}, owned by {@code owner} and reused once {@code owner} is
     * unreachable. jcstress creates millions of states: one 8-byte word each, instead of a
     * page-aligned area each, keeps the forked VMs' native memory small.
     */
    public static Word allocate(PerCpuArena arena, Object owner) {
        PerCpuArena.Slot slot = arena.allocate(owner);
        return new Word(slot.area(), slot.offset());
    }
}
