package dev.rseq4j.collections;

import dev.rseq4j.core.Rseq;

/**
 * Run in a forked JVM by {@link PerCpuCounterTest} with the kernel's feature size capped below 28 (no
 * mm_cid): building an mm_cid-indexed counter must throw {@link UnsupportedOperationException} with the
 * reason every time (not {@code ExceptionInInitializerError}, then {@code NoClassDefFoundError}), and
 * CPU-indexed counters keep working.
 */
public final class ConcurrencyIdUnavailableProbe {
    public static void main(String[] args) {
        System.out.println("mode=" + Rseq.status().mode() + " featureSize=" + Rseq.status().featureSize()
                + " mmCid=" + Rseq.status().mmCid());
        for (int attempt = 1; attempt <= 2; attempt++) {
            try {
                PerCpuCounter.builder().concurrencyIdIndexed().build();
                System.out.println("attempt" + attempt + "=built");
            } catch (Throwable t) {
                System.out.println("attempt" + attempt + "=" + t.getClass().getSimpleName() + ": " + t.getMessage());
            }
        }
        PerCpuCounter c = new PerCpuCounter();
        c.add(3);
        System.out.println("cpuCounter=" + c.sum());
    }
}
