package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.platform.RseqAbi;

import java.util.Optional;

/**
 * What the runtime decided, as the layers below the public API see it. {@code Rseq.status()}
 * turns it into the public {@code RseqStatus}; this record exists so that the runtime does not
 * depend on the API package that depends on it (no package cycle). Same conventions as
 * {@code RseqStatus}: in lock mode every capability is 0 or false.
 *
 * @param lockReason       why the mode is lock; empty in rseq mode
 * @param selfRegistration rseq mode with this library registering threads (glibc did not)
 */
public record RuntimeStatus(Optional<String> lockReason, boolean selfRegistration, String architecture,
                            String kernelRelease, int featureSize, boolean membarrierRseq, boolean membarrierPerCpu,
                            boolean sliceExtension, int possibleCpus) {

    /** Whether operations run as restartable sequences. */
    public boolean rseqMode() {
        return lockReason.isEmpty();
    }

    /** Whether the kernel maintains {@code node_id}: the feature size reaches its end. */
    public boolean nodeId() {
        return featureSize >= RseqAbi.Field.NODE_ID.end();
    }

    /** Whether the kernel maintains {@code mm_cid} (Linux 6.3+). */
    public boolean mmCid() {
        return featureSize >= RseqAbi.Field.MM_CID.end();
    }
}
