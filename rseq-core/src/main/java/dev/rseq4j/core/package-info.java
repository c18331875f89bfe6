/**
 * The public API of the core: {@link dev.rseq4j.core.Rseq} (what the platform supports, where the
 * calling thread runs) and {@link dev.rseq4j.core.RseqStatus}.
 *
 * <p>Conventions: nothing here throws because of the platform (an unsupported one yields lock mode
 * and a reason); every method is safe from any thread, virtual threads included. This package sits
 * above the runtime and depends on nothing else of the core: the runtime reports its decision as an
 * internal {@code RuntimeStatus} that {@code Rseq} turns into the public status (see
 * docs/architecture.md for the layers).
 */
package dev.rseq4j.core;
