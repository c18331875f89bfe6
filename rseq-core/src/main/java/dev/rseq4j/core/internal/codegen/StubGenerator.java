package dev.rseq4j.core.internal.codegen;

import dev.rseq4j.core.internal.codegen.aarch64.AArch64StubGenerator;
import dev.rseq4j.core.internal.codegen.x86_64.X86_64StubGenerator;

import java.util.Optional;

/**
 * One code generator per architecture, behind this interface. A generator knows the instruction
 * set, the ABI's argument registers, how to find the thread's rseq area and the abort signature; it
 * emits every {@link Operation} and {@link Probe} with exactly the semantics documented there.
 * Collections never see machine code: they call operations through {@code PerCpuOps}.
 */
public interface StubGenerator {

    /** The architecture name as the status reports it ("x86_64", "aarch64"). */
    String architecture();

    /** The 32-bit abort signature the rseq area must be registered with. */
    int signature();

    /** The system call numbers of rseq(2) and membarrier(2) on this architecture. */
    long rseqSyscall();

    long membarrierSyscall();

    /** Generates every operation and probe for {@code options} into one position-independent blob. */
    GeneratedCode generate(StubOptions options);

    /** The generator for an {@code os.arch} value, or empty when the architecture has none. */
    static Optional<StubGenerator> forArchitecture(String osArch) {
        return switch (osArch) {
            case "amd64", "x86_64" -> Optional.of(new X86_64StubGenerator());
            case "aarch64", "arm64" -> Optional.of(new AArch64StubGenerator());
            default -> Optional.empty();
        };
    }
}
