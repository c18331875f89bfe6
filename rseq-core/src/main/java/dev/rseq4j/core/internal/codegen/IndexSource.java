package dev.rseq4j.core.internal.codegen;

/** Which field of {@code struct rseq} a stub reads as its region index. */
public enum IndexSource {
    /** {@code cpu_id} (offset 4): the CPU the thread runs on. */
    CPU_ID(4),
    /** {@code mm_cid} (offset 24, Linux 6.3+): the concurrency id, dense from 0 for few threads. */
    MM_CID(24);

    private final int fieldOffset;

    IndexSource(int fieldOffset) {
        this.fieldOffset = fieldOffset;
    }

    /** Offset of the field in {@code struct rseq}. */
    public int fieldOffset() {
        return fieldOffset;
    }
}
