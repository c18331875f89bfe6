/**
 * The library's JDK Flight Recorder events and the process-wide tallies they read: not exported.
 * {@link dev.rseq4j.core.internal.jfr.RseqEvents} registers them (once, when the recorder
 * initialises); the structures add to {@code KindTally}, {@code LockTally} and {@code PoolTally} on
 * their rare paths only, through {@code PerCpuStats}, {@code LockTotals} and {@code PoolTotals} in the
 * exported {@code dev.rseq4j.core.percpu} (this package must not depend back on it). The events:
 * {@code dev.rseq4j.Status}, {@code dev.rseq4j.PerCpuStatistics}, {@code dev.rseq4j.LockStatistics}
 * and {@code dev.rseq4j.PoolStatistics}; README's "Watching it in JDK Flight Recorder" lists their fields.
 */
package dev.rseq4j.core.internal.jfr;
