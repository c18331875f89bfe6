package dev.rseq4j.core.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;

/**
 * {@code dev.rseq4j.PoolStatistics}: every period (default 1 s), the batch moves and item counts of
 * all pools together, cumulative since start; each pool's own figures are its {@code stats()}. Sums
 * of adders read one after the other: not a snapshot.
 */
@Name("dev.rseq4j.PoolStatistics")
@Label("rseq4j Pool Statistics")
@Description("Depot moves, steals and items made or dropped by all per-CPU pools, cumulative since start")
@Category({"rseq4j"})
@Period("1 s")
@StackTrace(false)
final class PoolStatisticsEvent extends jdk.jfr.Event {
    @Label("Refills")
    @Description("Batches moved from the depot into an empty magazine")
    long refills;

    @Label("Spills")
    @Description("Batches put in the depot (a full magazine's, or the rest of a refill or steal)")
    long spills;

    @Label("Steals")
    @Description("Batches taken from another CPU's magazine under its guard (depot empty)")
    long steals;

    @Label("Created")
    @Description("Pooled items made: objects from the factories, blocks carved")
    long created;

    @Label("Dropped")
    @Description("Objects left to the garbage collector: made beyond maxSize, or rejected by onRelease")
    long dropped;
}
