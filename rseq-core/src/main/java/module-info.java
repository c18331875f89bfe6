/**
 * rseq4j core: finds or makes the thread's rseq registration, reports what the platform supports,
 * generates the native commit stubs, and runs per-CPU operations with the two-attempts-then-lock
 * fallback. The public API is {@link dev.rseq4j.core.Rseq}; the per-CPU operations are for this
 * library's collections only.
 */
module dev.rseq4j.core {
    exports dev.rseq4j.core;
    exports dev.rseq4j.core.percpu to dev.rseq4j.collections;
}
