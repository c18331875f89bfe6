/**
 * rseq4j collections: per-CPU data structures built on the core's per-CPU operations. They never
 * see machine code; every operation runs as a restartable sequence with the two-attempts-then-guard
 * fallback, or in lock mode where rseq is unavailable.
 */
module dev.rseq4j.collections {
    requires transitive dev.rseq4j.core;
    /** PerCpuRingBuffer implements org.jctools.queues.MessagePassingQueue. */
    requires transitive org.jctools.core;
    exports dev.rseq4j.collections;
}
