/**
 * Per-CPU data structures for applications, each updated with plain loads and stores in restartable
 * sequences (a per-CPU lock where rseq is unavailable):
 * <ul>
 *   <li>counting: {@link dev.rseq4j.collections.PerCpuCounter} (a {@code LongAdder} replacement, and
 *       its {@code Group} of counters updated in one call) and the {@link dev.rseq4j.collections.PerCpuArena}
 *       its cells live in;</li>
 *   <li>pooling: {@link dev.rseq4j.collections.PerCpuObjectPool}, {@link dev.rseq4j.collections.PerCpuMemoryPool}
 *       and the {@link dev.rseq4j.collections.PerCpuFreeList} of handles under both (per-CPU magazines
 *       and a shared depot), with {@link dev.rseq4j.collections.PoolStats};</li>
 *   <li>handing off: {@link dev.rseq4j.collections.PerCpuRingBuffer} (many producers, one consumer, a
 *       JCTools {@code MessagePassingQueue}) and {@link dev.rseq4j.collections.PerCpuRecordRingBuffer}
 *       (byte records, read through a {@link dev.rseq4j.collections.RecordHandler});</li>
 *   <li>locking: {@link dev.rseq4j.collections.PerCpuSpinLock} and {@link dev.rseq4j.collections.PerCpu},
 *       one object per CPU updated under that CPU's lock.</li>
 * </ul>
 * They never see machine code: every operation goes through the core's {@code PerCpuOps} or
 * {@code WordArena} (two restartable attempts, then the region's guard). The region choice,
 * {@link dev.rseq4j.core.CpuIndexing}, is in the core's public API.
 *
 * <p>Conventions: every class states its thread-safety, its memory ordering and what is and is not
 * atomic; arguments are validated before any native call, and bad input throws naming the parameter
 * and its limit; "no room" and "nothing there" are values ({@code false}, {@code null}, {@code -1}),
 * with the waiting or throwing form beside them (README, "Full, empty and held").
 */
package dev.rseq4j.collections;
