/**
 * The x86_64 generator (System V ABI, glibc TLS through {@code fs}) and its encoder. Only what is
 * x86_64-specific lives here: registers, encodings, the {@code ud1} abort signature; the frame of
 * every stub and the operations' semantics come from {@code dev.rseq4j.core.internal.codegen}.
 * The encoder is checked instruction by instruction against GNU {@code as}.
 */
package dev.rseq4j.core.internal.codegen.x86_64;
