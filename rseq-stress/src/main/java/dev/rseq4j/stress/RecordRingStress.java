package dev.rseq4j.stress;

import dev.rseq4j.collections.PerCpuRecordRingBuffer;

import java.lang.foreign.MemorySegment;

/**
 * What the record ring tests share: a recycler of rings ({@link PoolStress} explains why), the two
 * records they write, and a reader that checks each record it reads is whole.
 */
final class RecordRingStress {
    private RecordRingStress() {
    }

    /**
     * Rings of 1,024 bytes per CPU (records up to 120 bytes; the tests write at most two). Recycled
     * only empty (read to the end by the arbiter), so the next state's ring starts as a new one.
     */
    static final PoolStress.Recycler<PerCpuRecordRingBuffer> RINGS =
            new PoolStress.Recycler<>(() -> new PerCpuRecordRingBuffer(1024));

    /** Record type 1: 64 bytes (more than one cache line at most alignments), none zero. */
    static final int FIRST = 1;
    /** Record type 2: 40 bytes, none zero, different from type 1's. */
    static final int SECOND = 2;

    private static final MemorySegment[] PAYLOADS = {null, payload(64, 1), payload(40, 101)};

    private static MemorySegment payload(int length, int first) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (first + i);
        }
        return MemorySegment.ofArray(b);
    }

    /** Writes record {@code type}'s payload. */
    static boolean write(PerCpuRecordRingBuffer ring, int type) {
        return ring.write(type, PAYLOADS[type]);
    }

    /**
     * Reads every available record of {@code ring} (as its one consumer).
     *
     * @return count(whole type 1) + 10 * count(whole type 2) + 100 * count(anything else: another
     *         type, a wrong length, a byte not as written); {@link PoolStress#BOTH} is each record once
     */
    static int read(PerCpuRecordRingBuffer ring) {
        int[] tally = new int[1];
        ring.read((type, payload) -> tally[0] += (type == FIRST || type == SECOND) && payload.mismatch(PAYLOADS[type]) == -1
                ? (type == FIRST ? 1 : 10) : 100);
        return tally[0];
    }
}
