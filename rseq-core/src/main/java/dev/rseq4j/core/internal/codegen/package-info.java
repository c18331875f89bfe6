/**
 * Run-time code generation, architecture-neutral part: the description of every restartable
 * operation ({@code Operation}, {@code Probe}, {@code StubStatus}), the layouts stubs share with
 * Java ({@code AreaDescriptor}), the blob layout and the stub frame that every generator fills, and
 * the label-resolving {@code CodeBuffer}.
 *
 * <p>Conventions: stubs take the area descriptor first, word arguments as addresses in region 0;
 * the region index is read and bounds-checked inside the section; the guard is loaded with acquire
 * semantics before any data load; the commit is the last instruction before post_commit_ip, a
 * store-release when the operation publishes data. This package names no per-architecture
 * implementation (they depend on it, not the reverse).
 */
package dev.rseq4j.core.internal.codegen;
