/**
 * jcstress tests of the per-CPU collections, run from {@code rseq-stress/target/jcstress.jar}.
 *
 * <p>Each test names the outcomes its contract allows; any other outcome is FORBIDDEN. The tests
 * cover {@link dev.rseq4j.collections.PerCpuCounter} on the production fast path, the slow path
 * (forced, on a random CPU's cell, with membarrier) racing the fast path on the same word, the
 * exactly-once guarantee of {@code sumThenReset}, and the monotonicity of {@code sum} under
 * increments; the free-lists under the pools (push and pop races on one list, two CPUs exchanging
 * handles through the depot, the core's linked lists with the production fast path against forced
 * slow paths and a {@code popBatch} steal against a fast pop, the magazines' array stack with a
 * steal's {@code arrayCopyOutFrom} against a fast {@code arrayPop}: every handle held exactly once) and {@link dev.rseq4j.collections.PerCpuObjectPool} (never
 * leased to two holders at once, never lost); {@link dev.rseq4j.collections.PerCpuRingBuffer} (an
 * offer on another CPU races the consumer's poll: every element consumed exactly once; an element's
 * plain fields published by the offer) and {@link dev.rseq4j.collections.PerCpuRecordRingBuffer}
 * (the same two for byte records: each read exactly once and whole); {@code PoolStress} explains why their lists, pools and rings
 * are recycled between states rather than made per state. {@link dev.rseq4j.stress.RseqModeTest} reports whether the forked VMs ran in rseq
 * mode at all: without {@code --enable-native-access} they fall back to lock mode, and the other
 * tests would then only test the lock.
 *
 * <p>The module has no module-info: it runs on the class path, where the instrumented operations
 * ({@code dev.rseq4j.core.percpu.OpsVariant}) and the core's word allocator
 * ({@code dev.rseq4j.core.percpu.WordArena}) are accessible. It declares no package of
 * another module (no split package).
 */
package dev.rseq4j.stress;
