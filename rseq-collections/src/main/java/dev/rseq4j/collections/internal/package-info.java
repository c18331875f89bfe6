/**
 * Internal to rseq4j (not exported by the module): machinery the public collections share, such as
 * {@code WordArena}, the allocator of per-CPU words behind {@code PerCpuArena}. The stress tests
 * use it from the class path. Depends on the core only, never on {@code dev.rseq4j.collections}.
 */
package dev.rseq4j.collections.internal;
