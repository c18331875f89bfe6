package dev.rseq4j.core.tools;

import dev.rseq4j.core.Rseq;

/** Run by {@link RuntimeFallbacksTest} under {@code taskset -c 0}: prints the region count and the limited count. */
public final class PossibleCpusProbe {
    public static void main(String[] args) {
        System.out.println("possibleCpus=" + Rseq.possibleCpus() + " availableProcessors="
                + Runtime.getRuntime().availableProcessors());
    }
}
