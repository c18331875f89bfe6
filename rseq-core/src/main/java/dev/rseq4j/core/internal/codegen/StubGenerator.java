package dev.rseq4j.core.internal.codegen;

import dev.rseq4j.core.internal.platform.Arch;

/**
 * One code generator per architecture, behind this interface. A generator knows the instruction
 * set, the ABI's argument registers, how to find the thread's rseq area and the abort signature; it
 * emits every {@link Operation} and {@link Probe} with exactly the semantics documented there,
 * through a {@link StubFrame}, which owns the protocol common to every stub; the generator supplies
 * the instructions.
 * Collections never see machine code: they call operations through {@code PerCpuOps}. The runtime
 * chooses the generator for the running {@link Arch} (this package knows no implementation).
 */
public interface StubGenerator {

    /** The architecture this generator emits code for. */
    Arch architecture();

    /** The 32-bit abort signature the rseq area must be registered with. */
    int signature();

    /** Generates every operation and probe for {@code options} into one position-independent blob. */
    GeneratedCode generate(StubOptions options);
}
