package dev.rseq4j.core.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;

/**
 * {@code dev.rseq4j.LockStatistics}: every period (default 1 s), the rare events of all
 * {@code PerCpuSpinLock}s together (and so of {@code PerCpu}), cumulative since start. Sums of
 * adders read one after the other: not a snapshot.
 */
@Name("dev.rseq4j.LockStatistics")
@Label("rseq4j Lock Statistics")
@Description("Contention, parking and time-slice figures of all PerCpuSpinLocks, cumulative since start")
@Category({"rseq4j"})
@Period("1 s")
@StackTrace(false)
final class LockStatisticsEvent extends jdk.jfr.Event {
    @Label("Contended")
    @Description("Takes that found the lock held (or lost the race for it) at the first attempt")
    long contended;

    @Label("Parks")
    @Description("Times a waiter parked")
    long parks;

    @Label("Wakeups")
    @Description("Unparks issued by unlocks that found waiters")
    long wakeups;

    @Label("Slice Grants")
    @Description("Unlocks that found a time-slice extension granted by the kernel")
    long sliceGrants;

    @Label("Slice Yields")
    @Description("Unlocks that yielded the CPU because the kernel had granted an extension")
    long sliceYields;
}
