package dev.rseq4j.collections;

import java.lang.foreign.MemorySegment;

/**
 * Receives the records {@link PerCpuRecordRingBuffer#read} takes, one call per record.
 */
@FunctionalInterface
public interface RecordHandler {
    /**
     * Called once per record, on the consumer thread.
     *
     * @param typeId  the record's type, as written ({@code >= 1})
     * @param payload a read-only view of the record's bytes, of exactly the written length: valid only
     *                during this call. The ring reuses the memory once the call returns, so copy what
     *                must outlive it; reading the view later returns whatever was written there since.
     */
    void onRecord(int typeId, MemorySegment payload);
}
