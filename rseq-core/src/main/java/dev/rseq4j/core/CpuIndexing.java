package dev.rseq4j.core;

/**
 * How a per-CPU structure chooses the region a thread works on. Fixed per structure: a CPU-indexed
 * and an mm_cid-indexed operation running on different CPUs could pick the same region at the same
 * time, so one structure never mixes them.
 *
 * <p>Either way a structure has {@link Rseq#possibleCpus()} regions: the region index is in
 * {@code [0, possibleCpus())}.
 */
public enum CpuIndexing {
    /**
     * By the number of the CPU the thread runs on ({@code cpu_id}). Works wherever rseq does; in a
     * process that runs on few of many CPUs, the regions of the other CPUs stay cold but mapped.
     */
    CPU,
    /**
     * By the thread's concurrency id ({@code mm_cid}, Linux 6.3+; see {@link Rseq#concurrencyId()}):
     * ids are dense from 0 and unique among the process's running threads, so a process with few
     * running threads touches few regions however many CPUs the machine has. Where rseq works but
     * the kernel has no mm_cid ({@link RseqStatus#mmCid()} is false), structures with this indexing
     * cannot be created ({@link UnsupportedOperationException}); in lock mode it behaves as {@link #CPU}.
     */
    CONCURRENCY_ID
}
