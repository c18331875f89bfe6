/**
 * rseq4j collections: per-CPU data structures built on the core's per-CPU operations. The package
 * {@code dev.rseq4j.collections} is exported once it holds its first class (PerCpuCounter).
 */
module dev.rseq4j.collections {
    requires transitive dev.rseq4j.core;
}
