/**
 * The process-wide rseq state: {@code RseqRuntime} decides the mode once, installs the stubs
 * ({@code StubHandles}), registers threads when glibc did not, and fences for the slow path
 * (membarrier, or {@code AffinityFence} when membarrier fails at run time).
 * {@code PortableOperations} is every {@code Operation} written in Java: the slow path, lock mode
 * and the tests' reference semantics.
 *
 * <p>Conventions: nothing here knows per-CPU areas or the public API (it reports a
 * {@code RuntimeStatus}); the runtime is the one place that chooses a generator for the running
 * architecture. Internal properties are named {@code rseq4j.internal.*}: the tests' switches here,
 * and {@code rseq4j.internal.code.*}, the registry of installed code ({@code ExecutableMemory}).
 */
package dev.rseq4j.core.internal.runtime;
