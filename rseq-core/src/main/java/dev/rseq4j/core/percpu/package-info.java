/**
 * Per-CPU memory and the operations on it: the building blocks of the collections (exported to
 * {@code dev.rseq4j.collections} only).
 *
 * <ul>
 *   <li>{@link dev.rseq4j.core.percpu.PerCpuArea}: native memory split into one region per CPU (or
 *       concurrency id), each with a guard word; {@link dev.rseq4j.core.percpu.NodePool}: library-owned
 *       nodes for per-CPU lists; {@link dev.rseq4j.core.percpu.WordArena}: single per-CPU words for
 *       many small owners (counters), reclaimed through the garbage collector.</li>
 *   <li>{@link dev.rseq4j.core.percpu.PerCpuOps}: the operations, each "two restartable attempts,
 *       then the region's guard". Its one implementation, {@code GuardedPerCpuOps}, is
 *       package-private; {@link dev.rseq4j.core.percpu.OpsVariant} makes instrumented instances for
 *       the self-test and the tests.</li>
 * </ul>
 *
 * <p>Conventions: offsets are byte offsets inside a region, validated before any native call
 * (a bad one throws naming the parameter and its limit); the one exception is a
 * {@code WordArena} handle, an address the arena computed itself and its owner keeps in a final
 * field (see {@code WordArena.add}); add, push and pop act on the current
 * region; the compare operations act on the region index the caller names (see
 * {@code Operation}'s calling convention); region words written concurrently are read with
 * {@code getLongOpaque} or {@code sumLongOpaque}, never plain.
 */
package dev.rseq4j.core.percpu;
