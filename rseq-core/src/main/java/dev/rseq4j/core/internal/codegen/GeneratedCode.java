package dev.rseq4j.core.internal.codegen;

import dev.rseq4j.core.internal.platform.Arch;
import dev.rseq4j.core.internal.platform.RseqAbi;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Position-independent machine code for one {@link StubOptions}, as a generator emits it.
 *
 * <p>The only absolute addresses are inside the {@code struct rseq_cs} descriptors, which the
 * installer (or the arm64 test harness) fills in after choosing the load address ({@link RseqAbi#RSEQ_CS}):
 * {@code start_ip = load + startOffset}, {@code post_commit_offset = postCommitOffset - startOffset},
 * {@code abort_ip = load + abortOffset}, version and flags 0. Descriptors are 32-byte aligned within
 * the code, whose load address must be page aligned.
 *
 * @param architecture the generator's architecture
 * @param code         the bytes, descriptors included (zero-filled until relocated)
 * @param operations   entry offset of each operation's stub
 * @param probes       entry offset of each probe stub
 * @param sections     one entry per critical section (one per operation)
 */
public record GeneratedCode(Arch architecture, byte[] code, Map<Operation, Integer> operations,
                            Map<Probe, Integer> probes, List<Section> sections) {

    /** One critical section's descriptor and its three code offsets. */
    public record Section(Operation operation, int descriptorOffset, int startOffset,
                          int postCommitOffset, int abortOffset) {
    }

    /**
     * What identifies this code's content across class loaders of one process: the architecture and
     * a SHA-256 over the unrelocated bytes and the relocation inputs (each section's offsets), e.g.
     * {@code x86_64-3f2a...}. Two {@code GeneratedCode}s with equal keys relocate to the same bytes
     * at any address; the installer verifies the bytes anyway before reusing code, so a collision
     * could only cost a fresh installation.
     */
    public String contentKey() {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        sha.update(code);
        ByteBuffer inputs = ByteBuffer.allocate(Integer.BYTES * 4 * sections.size());
        for (Section s : sections) {
            inputs.putInt(s.descriptorOffset()).putInt(s.startOffset()).putInt(s.postCommitOffset())
                    .putInt(s.abortOffset());
        }
        sha.update(inputs.array());
        return architecture.displayName() + "-" + HexFormat.of().formatHex(sha.digest());
    }

    /** The descriptor bytes relocated for code loaded at {@code loadAddress}. */
    public byte[] relocated(long loadAddress) {
        byte[] out = code.clone();
        for (Section s : sections) {
            for (int i = 0; i < RseqAbi.RSEQ_CS_SIZE; i++) {
                out[s.descriptorOffset() + i] = 0;                 // version, flags
            }
            putLong(out, s.descriptorOffset() + (int) RseqAbi.RSEQ_CS_START_IP, loadAddress + s.startOffset());
            putLong(out, s.descriptorOffset() + (int) RseqAbi.RSEQ_CS_POST_COMMIT_OFFSET,
                    s.postCommitOffset() - s.startOffset());
            putLong(out, s.descriptorOffset() + (int) RseqAbi.RSEQ_CS_ABORT_IP, loadAddress + s.abortOffset());
        }
        return out;
    }

    private static void putLong(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }
}
