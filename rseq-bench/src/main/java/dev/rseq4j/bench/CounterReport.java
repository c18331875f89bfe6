package dev.rseq4j.bench;

import dev.rseq4j.core.Rseq;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the counter benchmarks side by side in one JMH session and prints a Markdown table of ns/op
 * with ratios (ours / peer); then measures memory per counter in a separate JVM.
 *
 * <pre>
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport           full: docs/benchmarks.md
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --quick   the table of ./rseq4j diagnose
 * </pre>
 * Full: threads 1, 2, 4, 8 (sum benchmarks: 1); 3 x 1 s warm-up, 5 x 1 s measurement, 1 fork per benchmark. Quick:
 * threads 1, 2, 4; PerCpuCounter, LongAdder, AtomicLong; 1 x 0.5 s warm-up, 2 x 0.5 s measurement.
 */
public final class CounterReport {
    private static final String[] FULL = {"perCpuCounter", "longAdder", "atomicLong", "jctoolsStriped", "emptyDowncall",
        "stubOnly", "opsOnConstantArea"};
    private static final String[] QUICK = {"perCpuCounter", "longAdder", "atomicLong"};

    private CounterReport() {
    }

    public static void main(String[] args) throws Exception {
        boolean quick = List.of(args).contains("--quick");
        int[] threads = quick ? new int[] {1, 2, 4} : new int[] {1, 2, 4, 8};
        String[] benchmarks = quick ? QUICK : FULL;
        System.out.println("mode=" + Rseq.status().mode() + " cpus=" + Runtime.getRuntime().availableProcessors()
                + " jdk=" + Runtime.version() + (quick ? " (quick JMH run: noisy, see docs/benchmarks.md)" : ""));
        Map<Integer, Map<String, RunResult>> results = new LinkedHashMap<>();
        for (int t : threads) {
            Map<String, RunResult> row = new LinkedHashMap<>();
            for (String b : benchmarks) {
                row.put(b, run(CounterBenchmarks.class.getName() + "." + b + "$", t, quick));
            }
            results.put(t, row);
        }
        printIncrementTable(results, benchmarks);
        if (!quick) {
            Map<String, RunResult> sums = new LinkedHashMap<>();
            for (String b : new String[] {"perCpuCounterSum", "longAdderSum"}) {
                sums.put(b, run(CounterBenchmarks.class.getName() + "." + b + "$", 1, false));
            }
            System.out.println();
            System.out.println("| sum() of a counter updated from every CPU | ns/op |");
            System.out.println("|---|---|");
            sums.forEach((b, r) -> System.out.println("| " + b + " | " + score(r) + " |"));
            System.out.printf("| ratio PerCpuCounter / LongAdder | %.2f |%n",
                    value(sums.get("perCpuCounterSum")) / value(sums.get("longAdderSum")));
            System.out.println();
            memory().forEach(System.out::println);
        }
    }

    private static RunResult run(String regex, int threads, boolean quick) throws RunnerException {
        ChainedOptionsBuilder o = new OptionsBuilder().include(regex).threads(threads).forks(1)
                .verbosity(VerboseMode.SILENT).shouldFailOnError(true);
        if (Runtime.version().feature() >= 24) {
            // JMH calls sun.misc.Unsafe, which JDK 24+ warns about in every fork.
            o.jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                    "--add-opens", "java.base/java.util.concurrent.atomic=ALL-UNNAMED");
        }
        if (quick) {
            o.warmupIterations(1).warmupTime(TimeValue.milliseconds(500))
                    .measurementIterations(2).measurementTime(TimeValue.milliseconds(500));
        }
        Collection<RunResult> r = new Runner(o.build()).run();
        if (r.size() != 1) {
            throw new IllegalStateException("expected one result for " + regex + ", got " + r.size());
        }
        RunResult result = r.iterator().next();
        System.err.printf("  %-60s threads=%d %s ns/op%n", regex, threads, score(result));
        return result;
    }

    private static void printIncrementTable(Map<Integer, Map<String, RunResult>> results, String[] benchmarks) {
        StringBuilder head = new StringBuilder("| threads |");
        StringBuilder rule = new StringBuilder("|---|");
        for (String b : benchmarks) {
            head.append(' ').append(b).append(" ns/op |");
            rule.append("---|");
        }
        List<String> ratios = new ArrayList<>(List.of("PerCpuCounter / LongAdder", "PerCpuCounter / AtomicLong"));
        if (List.of(benchmarks).contains("jctoolsStriped")) {
            ratios.add("PerCpuCounter / JCTools");
            ratios.add("PerCpuCounter / empty downcall");
        }
        for (String r : ratios) {
            head.append(' ').append(r).append(" |");
            rule.append("---|");
        }
        System.out.println();
        System.out.println("increment() of one shared counter, average time per operation per thread (lower is better)");
        System.out.println();
        System.out.println(head);
        System.out.println(rule);
        results.forEach((t, row) -> {
            StringBuilder line = new StringBuilder("| " + t + " |");
            for (String b : benchmarks) {
                line.append(' ').append(score(row.get(b))).append(" |");
            }
            double ours = value(row.get("perCpuCounter"));
            line.append(String.format(" %.2f | %.2f |", ours / value(row.get("longAdder")), ours / value(row.get("atomicLong"))));
            if (row.containsKey("jctoolsStriped")) {
                line.append(String.format(" %.2f | %.2f |", ours / value(row.get("jctoolsStriped")),
                        ours / value(row.get("emptyDowncall"))));
            }
            System.out.println(line);
        });
    }

    private static double value(RunResult r) {
        return r.getPrimaryResult().getScore();
    }

    /** Score ± the 99.9% confidence half-width, which JMH cannot compute from fewer than 3 iterations. */
    private static String score(RunResult r) {
        double error = r.getPrimaryResult().getScoreError();
        return Double.isFinite(error) ? String.format("%.2f ± %.2f", r.getPrimaryResult().getScore(), error)
                : String.format("%.2f", r.getPrimaryResult().getScore());
    }

    /** Runs {@link MemoryFootprint} in its own JVM and returns its Markdown table. */
    private static List<String> memory() throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "-XX:+UseSerialGC", "-Xmx2g", "--enable-native-access=ALL-UNNAMED",
                "--add-opens", "java.base/java.util.concurrent.atomic=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), MemoryFootprint.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("MemoryFootprint failed:\n" + out);
        }
        List<String> table = new ArrayList<>(List.of(
                "| memory per counter, " + MemoryFootprint.COUNTERS + " counters | heap bytes | native bytes | total | note |",
                "|---|---|---|---|---|"));
        for (String line : out.lines().filter(l -> l.startsWith("MEMORY ")).toList()) {
            String[] f = line.substring(7).split(" ", 5);
            if (f[0].startsWith("ratio=")) {
                table.add("| ratio PerCpuCounter / LongAdder | | | " + f[0].substring(6) + " | |");
            } else {
                table.add("| " + f[0] + " | " + f[1].substring(5) + " | " + f[2].substring(7) + " | "
                        + f[3].substring(6) + " | " + (f.length > 4 ? f[4] : "") + " |");
            }
        }
        return table;
    }
}
