package dev.rseq4j.core.internal.codegen;

/**
 * Values a stub returns. Every value below {@link #LIMIT} is a status; {@link Operation#LIST_POP}
 * returns a node address (&gt;= 4096) on success instead of {@link #COMMITTED}.
 */
public final class StubStatus {
    /** The commit store happened. */
    public static final long COMMITTED = 0;
    /** The kernel moved the thread to abort_ip (preemption, signal, migration, membarrier). */
    public static final long ABORTED = 1;
    /** The index read inside the section was outside [0, count): the thread is not registered (-1, -2). */
    public static final long INDEX_INVALID = 2;
    /** The region's guard word was non-zero: a slow path owns the region. */
    public static final long GUARDED = 3;
    /** The operation's precondition failed: compare mismatch, list empty. Nothing was stored. */
    public static final long FAILED = 4;
    /**
     * {@link Operation#LIST_POP} found a list head outside the node pool it was given, or inside it
     * but not at a node boundary (a corrupted or forged head): nothing was dereferenced or stored.
     */
    public static final long CORRUPT = 5;
    /**
     * The section ran on another region than the caller's {@code expectedIndex} (operations that take
     * one, see {@link Operation#takesExpectedIndex()}): nothing was stored.
     */
    public static final long MOVED = 6;
    /** Statuses are below this; anything at or above it is a result (a node address). */
    public static final long LIMIT = 16;

    private StubStatus() {
    }

    public static String name(long status) {
        return switch ((int) status) {
            case 0 -> "COMMITTED";
            case 1 -> "ABORTED";
            case 2 -> "INDEX_INVALID";
            case 3 -> "GUARDED";
            case 4 -> "FAILED";
            case 5 -> "CORRUPT";
            case 6 -> "MOVED";
            default -> status >= LIMIT ? "RESULT(0x" + Long.toHexString(status) + ")" : "UNKNOWN(" + status + ")";
        };
    }
}
