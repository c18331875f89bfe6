package dev.rseq4j.core;

import java.util.Optional;

/**
 * What this JVM can do with restartable sequences, decided once when the library is first used.
 * Immutable; obtain it from {@link Rseq#status()}.
 *
 * <p>The capability fields describe what this JVM <em>uses</em>, so they never contradict the mode:
 * in {@link Mode#LOCK} the registrant is {@link Registrant#NONE}, the feature size 0 and every
 * capability {@code false}, whatever was found before rseq was ruled out; {@link #lockReason()}
 * says what that was (for example which system call failed, with its errno name, and the feature
 * size the kernel advertised). Only {@code architecture}, {@code kernelRelease} and
 * {@code possibleCpus} are reported in both modes.
 *
 * @param mode               {@link Mode#RSEQ} when operations commit inside restartable sequences,
 *                           {@link Mode#LOCK} when they run the portable lock-based implementation
 * @param lockReason         why the mode is {@code LOCK}; empty in {@code RSEQ} mode
 * @param registrant         who registers threads' rseq areas with the kernel
 * @param architecture       the JVM's {@code os.arch}, normalised ({@code x86_64}, {@code aarch64}, ...)
 * @param kernelRelease      the kernel release ({@code uname -r}), or the OS version elsewhere
 * @param featureSize        {@code getauxval(AT_RSEQ_FEATURE_SIZE)}: 20 when the kernel has rseq but predates
 *                           it (before 6.3); 0 in lock mode
 * @param nodeId             whether {@code node_id} is maintained by the kernel (feature size &gt;= 24)
 * @param mmCid              whether {@code mm_cid} is maintained (feature size &gt;= 28, Linux 6.3+)
 * @param membarrierRseq     whether {@code MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ} is available
 * @param membarrierPerCpu   whether it can target one CPU ({@code MEMBARRIER_CMD_FLAG_CPU}, Linux 5.10+)
 * @param sliceExtension     whether the rseq time-slice extension is available (Linux 7.0+, queried with prctl)
 * @param possibleCpus       one more than the highest possible CPU number (from
 *                           {@code /sys/devices/system/cpu/possible}): the number of per-CPU regions
 */
public record RseqStatus(Mode mode, Optional<String> lockReason, Registrant registrant, String architecture,
                         String kernelRelease, int featureSize, boolean nodeId, boolean mmCid,
                         boolean membarrierRseq, boolean membarrierPerCpu, boolean sliceExtension,
                         int possibleCpus) {

    /** How operations run. */
    public enum Mode {
        /** Per-CPU operations commit with a plain store inside a restartable sequence. */
        RSEQ,
        /** Every operation takes its region's guard word as a lock; correct everywhere, slower. */
        LOCK
    }

    /** Who registered the calling threads' {@code struct rseq} with the kernel. */
    public enum Registrant {
        /** glibc 2.35+ registered every thread ({@code __rseq_size > 0}). */
        GLIBC,
        /** glibc reserved the area but did not register it (e.g. {@code GLIBC_TUNABLES=glibc.pthread.rseq=0}); this library registers each thread the first time it needs it. */
        RSEQ4J,
        /** Nobody: lock mode (rseq unavailable, not inspected because lock mode was forced, or ruled out). */
        NONE
    }

    /** One line per fact, stable enough to grep ({@code mode=RSEQ}, {@code registrant=GLIBC}, ...). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append("mode=").append(mode);
        lockReason.ifPresent(r -> sb.append(" reason=\"").append(r).append('"'));
        sb.append('\n').append("registrant=").append(registrant);
        sb.append('\n').append("architecture=").append(architecture);
        sb.append('\n').append("kernel=").append(kernelRelease);
        sb.append('\n').append("rseq.featureSize=").append(featureSize);
        sb.append('\n').append("rseq.nodeId=").append(nodeId);
        sb.append('\n').append("rseq.mmCid=").append(mmCid);
        sb.append('\n').append("membarrier.rseq=").append(membarrierRseq);
        sb.append('\n').append("membarrier.perCpu=").append(membarrierPerCpu);
        sb.append('\n').append("rseq.sliceExtension=").append(sliceExtension);
        sb.append('\n').append("possibleCpus=").append(possibleCpus);
        return sb.toString();
    }
}
