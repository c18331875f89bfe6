package dev.rseq4j.collections;

import dev.rseq4j.core.Rseq;

/** Run in forked JVMs by {@link PerCpuCounterTest}: prints the status and whether 4 x 250,000 increments are exact. */
public final class CounterSmoke {
    public static void main(String[] args) {
        System.out.println(Rseq.status().toString().lines().limit(2).toList());
        PerCpuCounter c = new PerCpuCounter();
        long expected = PerCpuCounterTest.hammer(c, 4, 250_000);
        System.out.println("sum=" + c.sum() + " exact=" + (c.sum() == expected));
        System.exit(c.sum() == expected ? 0 : 1);
    }
}
