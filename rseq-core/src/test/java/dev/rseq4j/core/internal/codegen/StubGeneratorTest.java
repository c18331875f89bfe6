package dev.rseq4j.core.internal.codegen;

import dev.rseq4j.core.internal.codegen.aarch64.AArch64StubGenerator;
import dev.rseq4j.core.internal.codegen.x86_64.X86_64StubGenerator;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The generator is chosen from {@code os.arch}; both generators lay out the same sections. */
class StubGeneratorTest {

    @Test
    void generatorFromOsArch() {
        assertInstanceOf(X86_64StubGenerator.class, StubGenerator.forArchitecture("amd64").orElseThrow());
        assertInstanceOf(X86_64StubGenerator.class, StubGenerator.forArchitecture("x86_64").orElseThrow());
        assertInstanceOf(AArch64StubGenerator.class, StubGenerator.forArchitecture("aarch64").orElseThrow());
        assertTrue(StubGenerator.forArchitecture("riscv64").isEmpty(), "no generator: lock mode");
        assertEquals(293, new AArch64StubGenerator().rseqSyscall());
        assertEquals(0xd428bc00, new AArch64StubGenerator().signature());
    }

    /** Every section: signature right before abort_ip, abort outside [start, post_commit), descriptors 32-byte aligned. */
    @Test
    void sectionLayoutOnBothArchitectures() {
        for (StubGenerator g : new StubGenerator[] {new X86_64StubGenerator(), new AArch64StubGenerator()}) {
            for (IndexSource index : IndexSource.values()) {
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
