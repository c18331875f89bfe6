package dev.rseq4j.core.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * {@code dev.rseq4j.PerCpuStatistics}: one event per structure kind every period (default 1 s) with
 * the rare-event counts of that kind's per-CPU operations, cumulative since start. The figures are
 * sums of adders read one after the other: not a snapshot across fields or kinds.
 */
@Name("dev.rseq4j.PerCpuStatistics")
@Label("rseq4j Per-CPU Statistics")
@Description("Rare events of the per-CPU operations of one structure kind, cumulative since start")
@Category({"rseq4j"})
@Period("1 s")
@StackTrace(false)
final class PerCpuStatisticsEvent extends jdk.jfr.Event {
    @Label("Kind")
    @Description("The structure: core, counter, freeList (with the pools), ring, recordRing, spinLock (with PerCpu)")
    String kind;

    @Label("Aborts")
    @Description("Restartable sequences the kernel aborted (preemption, migration, signal)")
    long aborts;

    @Label("Slow Paths")
    @Description("Operations completed under a region's guard (all of them in lock mode)")
    long slowPaths;

    @Label("Guarded")
    @Description("Fast paths that found their region's guard held")
    long guarded;

    @Label("Invalid Index")
    @Description("Fast paths whose thread was not registered yet or whose index was out of range")
    long invalidIndex;

    @Label("Moved")
    @Description("Sequences that found the thread on another region than expected and stored nothing")
    long moved;

    @Label("Guard Waits")
    @Description("Operations (slow paths, and fast paths that found it held) that waited for a region's guard")
    long guardWaits;

    @Label("Guard Wait Time")
    @Description("Total time operations spent waiting for guards")
    @Timespan(Timespan.NANOSECONDS)
    long guardWaitTime;
}
