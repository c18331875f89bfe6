package dev.rseq4j.core.internal.codegen;

/**
 * Values a stub returns. Every value below {@link #LIMIT} is a status; {@link Operation#LIST_POP}
 * returns a node address (&gt;= 4096) on success instead of {@link #COMMITTED}; an operation that
 * {@link Operation#returnsIndex() returns its index} returns {@link #indexed} values for
 * {@link #COMMITTED} and {@link #FAILED}.
 *
 * <h2>The indexed form</h2>
 * <pre>
 *   bits 32..63  a value read inside the section ({@link #withValue}: its low 32 bits), else 0
 *   bits 29..31  0
 *   bit 28       INDEXED (so never below LIMIT, never a plain status)
 *   bits 24..27  the status
 *   bits 0..23   the region index read inside the section
 * </pre>
 * The layout is chosen so that the stubs build the low half with no shift: the tag and the status
 * are one constant below 2^31 (x86_64 {@code lea rax, [index + constant]}; arm64 {@code mov} then
 * {@code add}); a value costs one shift more. Region counts stay far below 2^24 (an area has at most 2^16 regions).
 *
 * <h2>The batched form</h2>
 * A {@link Operation#batched() batched} operation returns {@link #COMMITTED} when every section committed,
 * else {@link #batched}{@code (status, done)}: the sections committed before it stopped (bits 32..63) and
 * why it stopped (aborted, guarded, index invalid). With {@code done == 0} that is the plain status.
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
     * but not at a node boundary (a corrupted or forged head); or an array operation found a count
     * beyond the capacity it was given: nothing was dereferenced or stored.
     */
    public static final long CORRUPT = 5;
    /**
     * The section ran on another region than the caller's {@code expectedIndex} (operations that take
     * one, see {@link Operation#takesExpectedIndex()}): nothing was stored.
     */
    public static final long MOVED = 6;
    /** Statuses are below this; anything at or above it is a result (a node address). */
    public static final long LIMIT = 16;
    /** The tag of an {@link #indexed} value. */
    public static final long INDEXED = 1L << 28;
    private static final int STATUS_SHIFT = 24;
    /** Indexes an {@link #indexed} value can carry: the region count limit of those operations. */
    public static final int MAX_INDEXED_REGIONS = 1 << STATUS_SHIFT;

    /** The indexed form of {@code status} (below {@link #LIMIT}) on region {@code index} (below {@link #MAX_INDEXED_REGIONS}). */
    public static long indexed(long status, int index) {
        return INDEXED | status << STATUS_SHIFT | index;
    }

    /** The constant a stub adds to the index to build {@code indexed(status, index)}. */
    public static long indexedTag(long status) {
        return indexed(status, 0);
    }

    /** {@code indexed} with the low 32 bits of {@code value} in its high half. */
    public static long withValue(long indexed, long value) {
        return value << 32 | indexed;
    }

    /** Whether {@code value} is an {@link #indexed} value (only meaningful for an operation that returns one). */
    public static boolean isIndexed(long value) {
        return (value & 0xF000_0000L) == INDEXED;
    }

    /** The value of a {@link #withValue} result: the low 32 bits of what the section read. */
    public static long valueOf(long indexed) {
        return indexed >>> 32;
    }

    /** The status of an {@link #indexed} value. */
    public static long statusOf(long indexed) {
        return indexed >>> STATUS_SHIFT & (LIMIT - 1);
    }

    /** The region index of an {@link #indexed} value. */
    public static int indexOf(long indexed) {
        return (int) indexed & (MAX_INDEXED_REGIONS - 1);
    }

    /** A batched operation stopped by {@code status} after {@code done} sections committed. */
    public static long batched(long status, int done) {
        return (long) done << 32 | status;
    }

    /** The sections a {@link #batched} value says committed. */
    public static int doneOf(long batched) {
        return (int) (batched >>> 32);
    }

    /** The status of a {@link #batched} value. */
    public static long batchStatusOf(long batched) {
        return batched & 0xFFFF_FFFFL;
    }

    private StubStatus() {
    }

    public static String name(long status) {
        if (isIndexed(status)) {
            return name(statusOf(status)) + "@" + indexOf(status);
        }
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
