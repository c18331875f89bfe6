package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.PerCpuOps;

/**
 * The layout of a record in a {@link PerCpuRecordRingBuffer} ring, in one place.
 *
 * <pre>
 *   0                   4                   8                          8 + length    aligned(8 + length)
 *   +-------------------+-------------------+--------------------------+-------------+
 *   | length (int, LE)  | typeId (int, LE)  | payload: length bytes    | 0-7 unused  |
 *   +-------------------+-------------------+--------------------------+-------------+
 *   |&lt;------- header: one 64-bit word -------&gt;|
 *   |&lt;--------------------------- record: recordBytes(length) --------------------&gt;|
 * </pre>
 * Records start at multiples of {@value #ALIGNMENT} bytes, so the header is one naturally aligned
 * word, written by the same restartable sequence that copies the payload and commits the ring's
 * tail (the core's {@code copyThenCommit}): a consumer that sees the tail sees the whole record.
 * {@code length} counts the payload only (Agrona's record descriptor counts the header too).
 *
 * <p>A record never wraps around the end of a ring. When the next record does not fit before the
 * end, the producer first commits a <em>padding record</em> ({@code typeId} {@value #PADDING_TYPE_ID},
 * a header whose length covers the rest of the ring, no payload written) with the core's
 * {@code storeThenCommit}, then the record at the start of the ring. The consumer skips padding.
 */
final class RecordDescriptor {
    /** Records start at multiples of this, and their header is one word. */
    static final int ALIGNMENT = 8;
    /** The header word that the core's {@code copyThenCommit} writes (defined there: {@link PerCpuOps#recordHeader}). */
    static final int HEADER_BYTES = PerCpuOps.RECORD_HEADER_BYTES;
    /** The type of padding records; writers' types are {@code >= 1}. */
    static final int PADDING_TYPE_ID = -1;

    private RecordDescriptor() {
    }

    /** Bytes a record of {@code length} payload bytes takes in the ring, header and alignment included. */
    static long recordBytes(long length) {
        return (HEADER_BYTES + length + ALIGNMENT - 1) & -ALIGNMENT;
    }

    static int length(long header) {
        return (int) header;
    }

    static int typeId(long header) {
        return (int) (header >>> 32);
    }

    /** The header of a padding record covering {@code bytes} (header included) up to the end of the ring. */
    static long padding(long bytes) {
        return PerCpuOps.recordHeader(PADDING_TYPE_ID, bytes - HEADER_BYTES);
    }
}
