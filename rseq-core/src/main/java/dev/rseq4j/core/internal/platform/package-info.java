/**
 * The lowest layer: what the OS, the C library and the kernel ABI offer, bound through FFM. Knows
 * nothing of code generation or per-CPU data.
 *
 * <ul>
 *   <li>{@code Libc}: the few C functions and system calls the core needs; every binding optional,
 *       nothing throws at class initialisation; system calls return their errno.</li>
 *   <li>{@code RseqAbi}: {@code struct rseq} and {@code struct rseq_cs} as named layouts, the one
 *       source of their offsets; feature checks use field ends.</li>
 *   <li>{@code Arch}: the architectures and their system call numbers, the one such table.</li>
 *   <li>{@code ExecutableMemory}: maps bytes as code (never writable and executable at once, never
 *       unmapped), once per process for identical code: a registry in {@code rseq4j.internal.code.*}
 *       system properties, verified before reuse, lets class loaders share it.</li>
 * </ul>
 */
package dev.rseq4j.core.internal.platform;
