/**
 * Per-CPU collections (counters, free-lists, pools, ring buffers, spinlocks). They call
 * {@code dev.rseq4j.core.percpu.PerCpuOps} and never see machine code. The first collection,
 * {@code PerCpuCounter}, arrives with its own issue.
 */
package dev.rseq4j.collections;
