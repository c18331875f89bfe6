package dev.rseq4j.core.internal.codegen;

/** Tiny non-critical stubs that read the calling thread's rseq area. Signature: {@code long probe()}. */
public enum Probe {
    /** Address of the calling thread's {@code struct rseq}: thread pointer + {@code __rseq_offset}. */
    AREA_ADDRESS(-1),
    /** {@code cpu_id}, sign-extended (-1 unregistered, -2 glibc registration failed). */
    CPU_ID(4),
    /** {@code node_id}. */
    NODE_ID(20),
    /** {@code mm_cid}. */
    MM_CID(24),
    /** {@code flags} (time-slice extension availability bits). */
    FLAGS(16),
    /** Returns 0 and touches nothing: the cost floor of any downcall design (benchmarks). */
    NOTHING(-1);

    private final int fieldOffset;

    Probe(int fieldOffset) {
        this.fieldOffset = fieldOffset;
    }

    /** Offset of the 32-bit field read, or -1 for {@link #AREA_ADDRESS} and {@link #NOTHING}. */
    public int fieldOffset() {
        return fieldOffset;
    }
}
