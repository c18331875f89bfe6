/**
 * rseq4j core: finds or makes the thread's rseq registration, reports what the platform supports,
 * generates the native commit stubs, and runs per-CPU operations with the two-attempts-then-lock
 * fallback. The public API is {@link dev.rseq4j.core.Rseq}; the per-CPU operations are for this
 * library's collections only.
 *
 * <p>{@code requires jdk.jfr}: the library emits JDK Flight Recorder events ({@code dev.rseq4j.Status},
 * {@code dev.rseq4j.PerCpuStatistics}, {@code dev.rseq4j.LockStatistics}; recorded only while a
 * recording enables them). A hard requirement rather than {@code requires static}: every JDK ships
 * the module and {@code jlink} then includes it in an image with this library, and the event
 * classes need it at run time; a JVM whose recorder cannot start still runs the library, without events.
 */
module dev.rseq4j.core {
    requires jdk.jfr;

    exports dev.rseq4j.core;
    exports dev.rseq4j.core.percpu to dev.rseq4j.collections;
}
