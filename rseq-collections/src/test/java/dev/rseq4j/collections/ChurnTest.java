package dev.rseq4j.collections;

import dev.rseq4j.core.Rseq;
import dev.rseq4j.testing.Forked;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Churn without limit: counters created, used and dropped as fast as a few threads can, in the shared
 * arena, with a fixed number of live counters, must keep the arena's mapped ranges bounded under any
 * collector. Before chunk reclamation, {@code while (true) { var c = new PerCpuCounter(); c.add(3); c.sum(); }}
 * threw "arena full" after about 37 million creations on G1 (16.7 million with a 2 GiB young
 * generation), and 6 threads with 384 live counters failed on ZGC after about 70 s.
 *
 * <p>Each configuration runs {@link ChurnProbe} in a fresh JVM (the shared arena's history and the
 * collector are per JVM) up to 100 million creations or a time bound; the time bounds keep the whole
 * class near 50 s of wall time on 2 cores. Every run prints a line
 * {@code CHURN gc=... creations=... seconds=... perSecond=... maxRanges=... threshold0=...}.
 *
 * <h2>The bound</h2>
 * Let T0 be the arena's first {@link PerCpuArena#gcThreshold()} (64 MiB of ranges: 8192 ranges with 2
 * possible CPUs) and L the live counters. The arena maps a range only (1) while it has fewer than its
 * threshold, or (2) right after a collection it requested at the threshold, after which the threshold
 * becomes max(T0, 2 x the ranges still mapped). After a collection, the ranges still mapped are those
 * holding a live counter's chunk, at most L (one each, however the live counters scatter), and
 * L &lt; T0 / 2, so the threshold returns to T0. If that collection's references reach the arena's
 * queue too late for its 20 ms wait, the threshold can double once from at most T0 ranges: at most
 * 2 x T0; the next collection finds them. Hence
 * <pre>maxRanges &lt;= 2 x T0 + L + 64</pre>
 * (64: ranges mapped between two samples of the 2 ms sampler and rounding; the sampler takes the
 * arena's lock, so it never sees a state in the middle of a collection). Two consecutive late
 * collections would break it, and that is what it is meant to catch: a threshold that keeps ratcheting
 * up is a footprint bounded only by the heap's own collections.
 *
 * <p>The bound is not vacuous: {@link #withoutExplicitCollectionsTheBoundIsExceeded} runs (a) with
 * {@code -XX:+DisableExplicitGC}, where the arena's valve cannot work, and shows ranges well above it
 * (a 2 GiB young generation holds tens of millions of dead counters before its first collection).
 */
class ChurnTest {
    private static final long CREATIONS = 100_000_000L;
    /** Slack of the bound: see the class comment. */
    private static final int SLACK = 64;

    @Test
    void g1WithALargeYoungGenerationKeepsRangesBounded() throws Exception {
        Map<String, String> r = churn(List.of("-XX:+UseG1GC", "-Xms3g", "-Xmx3g", "-Xmn2g"),
                "G1-young2g", 4, 64, CREATIONS, 18, Integer.MAX_VALUE);
        assertBounded(r);
    }

    @Test
    void zgcKeepsRangesBounded() throws Exception {
        // 6 threads x 64 live = 384 live counters, the configuration that failed before.
        Map<String, String> r = churn(List.of("-XX:+UseZGC", "-Xmx2g"), "ZGC", 6, 64, CREATIONS, 14, Integer.MAX_VALUE);
        assertBounded(r);
    }

    @Test
    void lockModeKeepsRangesBounded() throws Exception {
        Map<String, String> r = churn(List.of("-Drseq4j.mode=lock", "-XX:+UseG1GC", "-Xmx1g"),
                "G1-lock", 4, 64, 20_000_000L, 6, Integer.MAX_VALUE);
        assertEquals("LOCK", r.get("mode"), r.toString());
        assertBounded(r);
    }

    /** The negative control: the same churn as (a) without the valve exceeds the bound by far. */
    @Test
    void withoutExplicitCollectionsTheBoundIsExceeded() throws Exception {
        // T0 is 64 MiB of ranges whatever the machine; the probe stops once ranges pass 3 x T0 (at least
        // 2 x T0 + L + SLACK for any L <= T0 - SLACK), which takes a few seconds; without the valve
        // they would grow to about 110,000 before the first young collection (measured on 2 CPUs).
        int regions = Rseq.possibleCpus();
        int t0 = (int) Math.max(1, (64L << 20) / (PerCpuArena.RANGE_STRIDE * regions));
        Map<String, String> r = churn(List.of("-XX:+UseG1GC", "-Xms3g", "-Xmx3g", "-Xmn2g", "-XX:+DisableExplicitGC"),
                "G1-young2g-DisableExplicitGC", 4, 64, CREATIONS, 12, 3 * t0);
        int max = Integer.parseInt(r.get("maxRanges"));
        assertTrue(max > bound(r), "without System.gc() the ranges should pass the bound " + bound(r) + ": " + r);
    }

    private static int bound(Map<String, String> r) {
        return 2 * Integer.parseInt(r.get("threshold0")) + Integer.parseInt(r.get("live")) + SLACK;
    }

    private static void assertBounded(Map<String, String> r) {
        long creations = Long.parseLong(r.get("creations"));
        assertTrue(creations >= 1_000_000, "too few creations to mean anything: " + r);
        int max = Integer.parseInt(r.get("maxRanges"));
        assertTrue(max <= bound(r), "ranges mapped at once: " + max + " > bound " + bound(r)
                + " (2 x threshold0 + live + " + SLACK + "): " + r);
    }

    /** Runs the probe, checks that it ended cleanly and returns the fields of its CHURN line. */
    private static Map<String, String> churn(List<String> jvmArgs, String label, int threads, int livePerThread,
                                             long creations, int seconds, int stopAboveRanges) throws Exception {
        long start = System.nanoTime();
        Forked.Result res = Forked.run(ChurnProbe.class, Map.of(), jvmArgs, label, String.valueOf(threads),
                String.valueOf(livePerThread), String.valueOf(creations), String.valueOf(seconds),
                String.valueOf(stopAboveRanges));
        double wall = (System.nanoTime() - start) / 1e9;
        String line = res.output().lines().filter(l -> l.startsWith("CHURN ")).findFirst()
                .orElseThrow(() -> new AssertionError("no CHURN line, exit " + res.exitCode() + ":\n" + res.output()));
        System.out.printf("%s wallSeconds=%.1f%n", line, wall);
        Map<String, String> fields = new HashMap<>();
        for (String kv : line.substring("CHURN ".length()).split(" ")) {
            int eq = kv.indexOf('=');
            fields.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        assertEquals(0, res.exitCode(), "probe failed (wrong sum or exception):\n" + res.output());
        assertEquals("none", fields.get("error"), res.output());
        assertEquals("0", fields.get("wrongSums"), res.output());
        return fields;
    }
}
