package dev.rseq4j.core.internal.codegen;

import dev.rseq4j.core.internal.codegen.aarch64.AArch64StubGenerator;
import dev.rseq4j.core.internal.codegen.x86_64.X86_64StubGenerator;
import dev.rseq4j.core.internal.platform.Arch;
import dev.rseq4j.core.internal.platform.RseqAbi;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The architecture is chosen from {@code os.arch}; both generators lay out the same sections. */
class StubGeneratorTest {

    @Test
    void architectureFromOsArch() {
        assertEquals(Arch.X86_64, Arch.of("amd64").orElseThrow());
        assertEquals(Arch.X86_64, Arch.of("x86_64").orElseThrow());
        assertEquals(Arch.AARCH64, Arch.of("aarch64").orElseThrow());
        assertEquals(Arch.AARCH64, Arch.of("arm64").orElseThrow());
        assertTrue(Arch.of("riscv64").isEmpty(), "no generator: lock mode");
        assertEquals(Arch.X86_64, new X86_64StubGenerator().architecture());
        assertEquals(Arch.AARCH64, new AArch64StubGenerator().architecture());
        assertEquals(293, Arch.AARCH64.rseqSyscall());
        assertEquals(0xd428bc00, new AArch64StubGenerator().signature());
    }

    /** Every section: signature right before abort_ip, abort outside [start, post_commit), descriptors 32-byte aligned. */
    @Test
    void sectionLayoutOnBothArchitectures() {
        for (StubGenerator g : new StubGenerator[] {new X86_64StubGenerator(), new AArch64StubGenerator()}) {
            for (RseqAbi.Field index : new RseqAbi.Field[] {RseqAbi.Field.CPU_ID, RseqAbi.Field.MM_CID}) {
                GeneratedCode code = g.generate(new StubOptions(-32, index, 100, true));
                assertEquals(Operation.values().length, code.sections().size());
                for (GeneratedCode.Section s : code.sections()) {
                    int at = s.abortOffset() - 4;
                    int word = (code.code()[at] & 0xff) | (code.code()[at + 1] & 0xff) << 8
                            | (code.code()[at + 2] & 0xff) << 16 | (code.code()[at + 3] & 0xff) << 24;
                    assertEquals(g.signature(), word, g.architecture() + " " + s);
                    assertTrue(s.startOffset() < s.postCommitOffset() && s.postCommitOffset() <= s.abortOffset(), s.toString());
                    assertEquals(0, s.descriptorOffset() % 32, s.toString());
                }
            }
        }
    }
}
