package dev.rseq4j.core.internal.codegen;

import dev.rseq4j.core.internal.platform.RseqAbi;

import java.util.Optional;

/** Tiny non-critical stubs that read the calling thread's rseq area. Signature: {@code long probe()}. */
public enum Probe {
    /** Address of the calling thread's {@code struct rseq}: thread pointer + {@code __rseq_offset}. */
    AREA_ADDRESS(null),
    /** {@code cpu_id}, sign-extended (-1 unregistered, -2 glibc registration failed). */
    CPU_ID(RseqAbi.Field.CPU_ID),
    /** {@code node_id}. */
    NODE_ID(RseqAbi.Field.NODE_ID),
    /** {@code mm_cid}. */
    MM_CID(RseqAbi.Field.MM_CID),
    /** {@code flags} (time-slice extension availability bits). */
    FLAGS(RseqAbi.Field.FLAGS),
    /** Returns 0 and touches nothing: the cost floor of any downcall design (benchmarks). */
    NOTHING(null);

    private final RseqAbi.Field field;

    Probe(RseqAbi.Field field) {
        this.field = field;
    }

    /** The 32-bit field this probe reads, sign-extended; empty for {@link #AREA_ADDRESS} and {@link #NOTHING}. */
    public Optional<RseqAbi.Field> field() {
        return Optional.ofNullable(field);
    }
}
