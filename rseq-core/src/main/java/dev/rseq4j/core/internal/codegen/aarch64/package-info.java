/**
 * The aarch64 generator (AAPCS64, glibc TLS through {@code TPIDR_EL0}) and its encoder. Only what is
 * arm64-specific lives here: registers, encodings, the {@code brk} abort signature, {@code ldar} for
 * the guard and {@code stlr} for publishing commits; the frame of every stub and the operations'
 * semantics come from {@code dev.rseq4j.core.internal.codegen}. The encoder is checked against GNU
 * {@code as}; the stubs run under emulated arm64 kernels ({@code Arm64EmulationTest}).
 */
package dev.rseq4j.core.internal.codegen.aarch64;
