/**
 * Per-CPU data structures for applications: {@link dev.rseq4j.collections.PerCpuCounter} (a
 * {@code LongAdder} replacement) and the {@link dev.rseq4j.collections.PerCpuArena} its cells live
 * in. They never see machine code: every operation goes through the core's {@code PerCpuOps} or
 * {@code WordArena} (two restartable attempts, then the region's guard; lock mode where rseq is
 * unavailable). The region choice, {@link dev.rseq4j.core.CpuIndexing}, is in the core's public API.
 *
 * <p>Conventions: every class states its thread-safety and what is and is not atomic; arguments are
 * validated before any native call.
 */
package dev.rseq4j.collections;
