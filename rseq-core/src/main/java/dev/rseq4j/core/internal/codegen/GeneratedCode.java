package dev.rseq4j.core.internal.codegen;

import java.util.List;
import java.util.Map;

/**
 * Position-independent machine code for one {@link StubOptions}, as a generator emits it.
 *
 * <p>The only absolute addresses are inside the {@code struct rseq_cs} descriptors, which the
 * installer (or the arm64 test harness) fills in after choosing the load address:
 * <pre>
 *   descriptorOffset +0  u32 version = 0
 *                    +4  u32 flags   = 0
 *                    +8  u64 start_ip           = load + startOffset
 *                    +16 u64 post_commit_offset = postCommitOffset - startOffset
 *                    +24 u64 abort_ip           = load + abortOffset
 * </pre>
 * Descriptors are 32-byte aligned within the code, whose load address must be page aligned.
 *
 * @param architecture the generator's architecture ("x86_64", "aarch64")
 * @param code         the bytes, descriptors included (zero-filled until relocated)
 * @param operations   entry offset of each operation's stub
 * @param probes       entry offset of each probe stub
 * @param sections     one entry per critical section (one per operation)
 */
public record GeneratedCode(String architecture, byte[] code, Map<Operation, Integer> operations,
                            Map<Probe, Integer> probes, List<Section> sections) {

    /** One critical section's descriptor and its three code offsets. */
    public record Section(Operation operation, int descriptorOffset, int startOffset,
                          int postCommitOffset, int abortOffset) {
    }

    /** The descriptor bytes relocated for code loaded at {@code loadAddress}. */
    public byte[] relocated(long loadAddress) {
        byte[] out = code.clone();
        for (Section s : sections) {
            putLong(out, s.descriptorOffset(), 0L); // version, flags
            putLong(out, s.descriptorOffset() + 8, loadAddress + s.startOffset());
            putLong(out, s.descriptorOffset() + 16, s.postCommitOffset() - s.startOffset());
            putLong(out, s.descriptorOffset() + 24, loadAddress + s.abortOffset());
        }
        return out;
    }

    private static void putLong(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }
}
