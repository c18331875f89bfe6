package dev.rseq4j.bench;

import dev.rseq4j.core.Rseq;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --memory  the memory tables alone
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --pools   the pool tables alone ({@link PoolBenchmarks})
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --pools --quick
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --rings   the ring tables alone ({@link RingBenchmarks}, {@link RecordRingBenchmarks})
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --rings --quick
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --locks   the lock tables alone ({@link LockBenchmarks})
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --locks --quick
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --service the service tables alone ({@link ServiceBenchmark})
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.CounterReport --service --quick
 * </pre>
 * {@code --smoke} (with any of them) runs the quick benchmark sets with 0 warm-up and one 200 ms
 * iteration: it checks the plumbing (tables, JSON, charts), its figures mean nothing.
 * Every report also writes JMH's JSON results of all its runs, {@code rseq-bench/target/jmh-NAME.json}
 * (NAME: counter, pools, rings, locks, service; rewritten after each run), and draws one SVG chart per
 * table from it into {@code rseq-bench/target/charts/} ({@link Charts}). Quick and smoke runs write
 * {@code jmh-NAME-quick.json} / {@code charts-quick/} and {@code jmh-NAME-smoke.json} / {@code charts-smoke/}
 * instead, so that they never replace the charts of a full run.
 * Full: threads 1, 2, 4, 8 (sum benchmarks: 1); 3 x 1 s warm-up, 5 x 1 s measurement, 1 fork per benchmark. Quick:
 * threads 1, 2, 4; PerCpuCounter, LongAdder, AtomicLong; 1 x 0.5 s warm-up, 2 x 0.5 s measurement.
 * Pools: every {@link PoolBenchmarks} benchmark at threads 1, 2, 4, 8 (quick: the same, with the quick
 * iterations), with JMH's GC profiler for the bytes allocated per operation; about 8 minutes
 * (quick: 3).
 * Rings: every queue of {@link RingBenchmarks}, then both rings of {@link RecordRingBenchmarks} at each
 * record size, with 1, 2, 4 and 8 producers and one consumer, successful offers (writes) per second
 * with ours / peer ratios; about 7 minutes (quick: 2).
 * Locks: every {@link LockBenchmarks} benchmark, all in one JMH run per thread count (1, 2, 4, 8), with
 * the GC profiler; ns/op and ours / peer ratios, also written to {@code rseq-bench/target/lock-benchmarks.md};
 * about 6 minutes (quick: 2).
 * Service: {@link ServiceBenchmark}, 10,000 virtual threads per batch, the three implementations, counters
 * only and the full task, at 1, 2, 4 and 8 carrier threads, one JVM per carrier count started with
 * {@code -Djdk.virtualThreadScheduler.parallelism=N}; tasks per second of the whole program and ours / peer;
 * 3 x 2 s warm-up, 5 x 2 s measurement, about 7 minutes (quick: 1 and 2 carriers, 2 x 1 s warm-up and
 * measurement, about 1.5 minutes).
 */
public final class CounterReport {
    private static final String[] FULL = {"perCpuCounter", "longAdder", "atomicLong", "jctoolsStriped", "emptyDowncall",
        "stubOnly", "opsOnConstantArea"};
    private static final String[] QUICK = {"perCpuCounter", "longAdder", "atomicLong"};

    private CounterReport() {
    }

    /** The suites, of which a run takes at most one (none: the counter tables), and the modifiers. */
    private static final List<String> SUITES = List.of("--pools", "--rings", "--locks", "--service", "--memory");
    private static final List<String> MODIFIERS = List.of("--quick", "--smoke");

    /**
     * Refuses an unknown option or two suites with exit status 2 (the launcher then prints its usage),
     * so that a typo never starts the wrong suite, which takes minutes.
     */
    private static void checkArguments(String[] args) {
        long suites = 0;
        for (String a : args) {
            if (!SUITES.contains(a) && !MODIFIERS.contains(a)) {
                System.err.println("rseq4j bench: unknown option '" + a + "' (options: one of " + String.join(", ", SUITES)
                        + ", and " + String.join(", ", MODIFIERS) + ")");
                System.exit(2);
            }
            suites += SUITES.contains(a) ? 1 : 0;
        }
        if (suites > 1) {
            System.err.println("rseq4j bench: at most one of " + String.join(", ", SUITES) + " per run, got "
                    + String.join(" ", args));
            System.exit(2);
        }
    }

    public static void main(String[] args) throws Exception {
        checkArguments(args);
        if (List.of(args).contains("--memory")) {   // the memory section alone (no JMH)
            memory().forEach(System.out::println);
            return;
        }
        smoke = List.of(args).contains("--smoke");
        boolean quick = smoke || List.of(args).contains("--quick");
        String tag = smoke ? "-smoke" : quick ? "-quick" : "";
        if (List.of(args).contains("--pools")) {   // the pool tables alone
            record("pools", tag);
            pools(quick);
            charts();
            return;
        }
        if (List.of(args).contains("--rings")) {   // the ring tables alone
            record("rings", tag);
            rings(quick);
            charts();
            return;
        }
        if (List.of(args).contains("--locks")) {   // the lock tables alone
            record("locks", tag);
            locks(quick);
            charts();
            return;
        }
        if (List.of(args).contains("--service")) {   // the service tables alone
            record("service", tag);
            service(quick);
            charts();
            return;
        }
        record("counter", tag);
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
        charts();
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

    /** --smoke: 0 warm-up, one 200 ms iteration. */
    private static boolean smoke;
    /** Every result of this report so far, and the JSON file they are written to (null: none). */
    private static final List<RunResult> RESULTS = new ArrayList<>();
    private static Path resultFile;
    private static Path chartDirectory;

    /** Starts recording the results of the report {@code name} into {@code jmh-NAME{tag}.json}. */
    private static void record(String name, String tag) {
        resultFile = reportDirectory().resolve("jmh-" + name + tag + ".json");
        chartDirectory = reportDirectory().resolve("charts" + tag);
    }

    /** Adds {@code results} to the report's and rewrites its JSON file (JMH's own format and writer). */
    private static Collection<RunResult> recorded(Collection<RunResult> results) {
        RESULTS.addAll(results);
        if (resultFile != null) {
            try (PrintStream out = new PrintStream(Files.newOutputStream(resultFile), false, StandardCharsets.UTF_8)) {
                ResultFormatFactory.getInstance(ResultFormatType.JSON, out).writeOut(RESULTS);
            } catch (IOException e) {
                System.err.println("  could not write " + resultFile + ": " + e);
            }
        }
        return results;
    }

    /** Draws the charts of the report's JSON file; a failure is reported, the tables stand. */
    private static void charts() {
        if (resultFile == null || RESULTS.isEmpty()) {
            return;
        }
        try {
            List<Path> written = Charts.write(resultFile, chartDirectory);
            System.out.println();
            System.out.println("JMH results: " + resultFile);
            written.forEach(p -> System.out.println("chart: " + p));
        } catch (Exception | Error e) {   // AWT without fonts throws Errors
            System.err.println("rseq4j bench: charts FAILED (" + e + "); the tables above stand, results in " + resultFile);
        }
    }

    private static RunResult run(String regex, int threads, boolean quick) throws RunnerException {
        return run(regex, threads, quick, false);
    }

    private static RunResult run(String regex, int threads, boolean quick, boolean gc) throws RunnerException {
        ChainedOptionsBuilder o = options(regex, quick).threads(threads);
        if (gc) {
            o.addProfiler(GCProfiler.class);
        }
        RunResult result = runOne(o, regex);
        System.err.printf("  %-60s threads=%d %s ns/op%n", regex, threads, score(result));
        return result;
    }

    /**
     * The options every run shares: one fork, silent, the JDK 24+ flags and {@code jvmArgs}, the quick
     * (or smoke) iterations if asked.
     */
    private static ChainedOptionsBuilder options(String regex, boolean quick, String... jvmArgs) {
        ChainedOptionsBuilder o = new OptionsBuilder().include(regex).forks(1)
                .verbosity(VerboseMode.SILENT).shouldFailOnError(true);
        List<String> flags = new ArrayList<>();
        if (Runtime.version().feature() >= 24) {
            // JMH calls sun.misc.Unsafe, which JDK 24+ warns about in every fork; these flags replace the
            // benchmarks' own @Fork flags, so they include RecordRingBenchmarks' export for Agrona.
            flags.addAll(List.of("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                    "--add-opens", "java.base/java.util.concurrent.atomic=ALL-UNNAMED",
                    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED"));
        } else if (jvmArgs.length > 0) {
            flags.add("--enable-native-access=ALL-UNNAMED");   // replaced @Fork flags: keep what every benchmark needs
        }
        flags.addAll(List.of(jvmArgs));
        if (!flags.isEmpty()) {
            o.jvmArgsAppend(flags.toArray(String[]::new));   // one call: a second would replace the first
        }
        if (smoke) {
            o.warmupIterations(0).measurementIterations(1).measurementTime(TimeValue.milliseconds(200));
        } else if (quick) {
            o.warmupIterations(1).warmupTime(TimeValue.milliseconds(500))
                    .measurementIterations(2).measurementTime(TimeValue.milliseconds(500));
        }
        return o;
    }

    private static RunResult runOne(ChainedOptionsBuilder o, String regex) throws RunnerException {
        Collection<RunResult> r = recorded(new Runner(o.build()).run());
        if (r.size() != 1) {
            throw new IllegalStateException("expected one result for " + regex + ", got " + r.size());
        }
        return r.iterator().next();
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

    private static final String[] OBJECT_POOLS = {"objPerCpuPool", "objThreadLocal", "objMpmcQueue",
        "objConcurrentLinkedQueue", "objNew"};
    private static final String[] MEMORY_POOLS = {"memPerCpuPool", "memMpmcQueue", "memConcurrentLinkedQueue",
        "memArenaConfined", "memArenaShared", "memMalloc"};

    /** Runs {@link PoolBenchmarks} at 1, 2, 4 and 8 threads and prints two tables: ns/op, B/op and ours / peer. */
    private static void pools(boolean quick) throws RunnerException {
        System.out.println("mode=" + Rseq.status().mode() + " cpus=" + Runtime.getRuntime().availableProcessors()
                + " possibleCpus=" + Rseq.possibleCpus() + " jdk=" + Runtime.version()
                + (quick ? " (quick JMH run: noisy)" : ""));
        for (String[] group : new String[][] {OBJECT_POOLS, MEMORY_POOLS}) {
            Map<Integer, Map<String, RunResult>> results = new LinkedHashMap<>();
            for (int t : new int[] {1, 2, 4, 8}) {
                Map<String, RunResult> row = new LinkedHashMap<>();
                for (String b : group) {
                    row.put(b, run(PoolBenchmarks.class.getName() + "." + b + "$", t, quick, true));
                }
                results.put(t, row);
            }
            System.out.println();
            System.out.println(group == OBJECT_POOLS
                    ? "acquire + close of a 64-byte object, one shared pool, average time per operation per thread (lower is better)"
                    : "allocate + free of a 256-byte block, one shared pool, average time per operation per thread (lower is better)");
            System.out.println();
            System.out.print(poolTable(results, group));
        }
    }

    /** ns/op (and B/op from the GC profiler) per benchmark and thread count, then ours / each peer. */
    static String poolTable(Map<Integer, Map<String, RunResult>> results, String[] group) {
        StringBuilder t = new StringBuilder("| threads |");
        StringBuilder rule = new StringBuilder("|---|");
        for (String b : group) {
            t.append(' ').append(b).append(" ns/op (B/op) |");
            rule.append("---|");
        }
        for (int i = 1; i < group.length; i++) {
            t.append(" ours / ").append(group[i].replaceFirst("^(obj|mem)", "")).append(" |");
            rule.append("---|");
        }
        t.append('\n').append(rule).append('\n');
        results.forEach((threads, row) -> {
            t.append("| ").append(threads).append(" |");
            for (String b : group) {
                t.append(' ').append(score(row.get(b))).append(allocated(row.get(b))).append(" |");
            }
            double ours = value(row.get(group[0]));
            for (int i = 1; i < group.length; i++) {
                // 3 significant digits: ratios span 1e-5 (shared arenas) to 1e2
                t.append(String.format(" %.3g |", ours / value(row.get(group[i]))));
            }
            t.append('\n');
        });
        return t.toString();
    }

    private static final int[] PRODUCERS = {1, 2, 4, 8};
    private static final String[] QUEUES = {"PerCpuRingBuffer", "MpscArrayQueue", "MpscUnboundedXaddArrayQueue",
        "ArrayBlockingQueue", "ConcurrentLinkedQueue"};
    private static final String[] RECORD_RINGS = {"ours", "agrona"};

    /**
     * Runs {@link RingBenchmarks} (every queue) and {@link RecordRingBenchmarks} (both rings, each record
     * size) with 1, 2, 4 and 8 producers and one consumer, and prints a table of successful offers per
     * second and ours / peer for the objects and for each record size.
     */
    private static void rings(boolean quick) throws RunnerException {
        int cpus = Runtime.getRuntime().availableProcessors();
        System.out.println("mode=" + Rseq.status().mode() + " cpus=" + cpus + " possibleCpus=" + Rseq.possibleCpus()
                + " jdk=" + Runtime.version() + (quick ? " (quick JMH run: noisy)" : ""));
        System.out.println("Rows with producers + 1 consumer > cpus (" + cpus + ") are oversubscribed: time-sliced"
                + " threads, the figures measure the scheduler as much as the queue.");
        Map<Integer, Map<String, RunResult>> objects = new LinkedHashMap<>();
        for (int n : PRODUCERS) {
            Map<String, RunResult> row = new LinkedHashMap<>();
            for (String q : QUEUES) {
                row.put(q, runRing(RingBenchmarks.class.getName() + ".queue$", n, quick, "queue", q));
            }
            objects.put(n, row);
        }
        System.out.println();
        System.out.println("offer of a preallocated object, one consumer draining concurrently, successful offers per"
                + " second of all producers together, millions (higher is better; in parentheses: failed offers,"
                + " queue full, as a share of all offers)");
        System.out.println();
        System.out.print(ringTable(objects, QUEUES));
        for (String size : new String[] {"16", "64", "256"}) {
            Map<Integer, Map<String, RunResult>> records = new LinkedHashMap<>();
            for (int n : PRODUCERS) {
                Map<String, RunResult> row = new LinkedHashMap<>();
                for (String ring : RECORD_RINGS) {
                    row.put(ring, runRing(RecordRingBenchmarks.class.getName() + "." + ring + "$", n, quick, "size", size));
                }
                records.put(n, row);
            }
            System.out.println();
            System.out.println("write of a " + size + "-byte record, one consumer reading concurrently, successful writes"
                    + " per second of all producers together, millions (higher is better; in parentheses: failed"
                    + " writes, ring full)");
            System.out.println();
            System.out.print(ringTable(records, RECORD_RINGS));
        }
    }

    /** One thread group of {@code producers} producers and one consumer (JMH orders a group's methods by name: offer first). */
    private static RunResult runRing(String regex, int producers, boolean quick, String param, String value)
            throws RunnerException {
        RunResult result = runOne(options(regex, quick).threadGroups(producers, 1).param(param, value), regex);
        System.err.printf("  %-60s %s=%s producers=%d %s M offers/s%s%n", regex, param, value, producers,
                score(offers(result), 1e-6), failed(result));
        return result;
    }

    /** Successful offers per second (a secondary result: the {@link RingBenchmarks.Offers} counter). */
    private static Result<?> offers(RunResult r) {
        return r.getSecondaryResults().get("offersMade");
    }

    /** " (F%)": failed offers as a share of all offers. */
    private static String failed(RunResult r) {
        double made = offers(r).getScore();
        double failed = r.getSecondaryResults().get("offersFailed").getScore();
        return String.format(" (%.0f%%)", 100 * failed / (made + failed));
    }

    /** Millions of successful offers per second per ring and producer count, then ours (the first) / each peer. */
    static String ringTable(Map<Integer, Map<String, RunResult>> results, String[] rings) {
        StringBuilder t = new StringBuilder("| producers |");
        StringBuilder rule = new StringBuilder("|---|");
        for (String b : rings) {
            t.append(' ').append(b).append(" M/s (failed) |");
            rule.append("---|");
        }
        for (int i = 1; i < rings.length; i++) {
            t.append(" ours / ").append(rings[i]).append(" |");
            rule.append("---|");
        }
        t.append('\n').append(rule).append('\n');
        results.forEach((producers, row) -> {
            t.append("| ").append(producers).append(" |");
            for (String b : rings) {
                t.append(' ').append(score(offers(row.get(b)), 1e-6)).append(failed(row.get(b))).append(" |");
            }
            double ours = offers(row.get(rings[0])).getScore();
            for (int i = 1; i < rings.length; i++) {
                t.append(String.format(" %.3g |", ours / offers(row.get(rings[i])).getScore()));
            }
            t.append('\n');
        });
        return t.toString();
    }

    /**
     * Runs {@link ServiceBenchmark} (every implementation, counters only and the full task) in one JVM per
     * carrier count (the virtual-thread scheduler's parallelism is a JVM flag) and prints one table per
     * task shape: millions of tasks per second and ours / each peer.
     */
    private static void service(boolean quick) throws RunnerException {
        int cpus = Runtime.getRuntime().availableProcessors();
        System.out.println("mode=" + Rseq.status().mode() + " cpus=" + cpus + " possibleCpus=" + Rseq.possibleCpus()
                + " jdk=" + Runtime.version() + (quick ? " (quick JMH run: noisy)" : ""));
        System.out.println("Rows with more carriers than cpus (" + cpus + ") are oversubscribed: the carriers take"
                + " turns on the cores.");
        String regex = ServiceBenchmark.class.getName() + ".batch$";
        Map<String, Map<Integer, Map<String, RunResult>>> byWork = new LinkedHashMap<>();
        for (int n : quick ? new int[] {1, 2} : new int[] {1, 2, 4, 8}) {
            ChainedOptionsBuilder o = options(regex, quick, "-Djdk.virtualThreadScheduler.parallelism=" + n)
                    .param("carriers", String.valueOf(n));
            if (quick && !smoke) {
                // A batch takes milliseconds and the JIT needs a few dozen of them: the common quick
                // iterations (0.5 s) would measure a half-compiled program.
                o.warmupIterations(2).warmupTime(TimeValue.seconds(1)).measurementIterations(2)
                        .measurementTime(TimeValue.seconds(1));
            }
            for (RunResult r : recorded(new Runner(o.build()).run())) {
                String impl = r.getParams().getParam("impl");
                String work = r.getParams().getParam("work");
                byWork.computeIfAbsent(work, w -> new LinkedHashMap<>()).computeIfAbsent(n, c -> new LinkedHashMap<>())
                        .put(impl, r);
                System.err.printf("  %-60s impl=%s work=%s carriers=%d %s M tasks/s%n", regex, impl, work, n,
                        score(r.getPrimaryResult(), 1e-6));
            }
        }
        byWork.forEach((work, results) -> {
            System.out.println();
            System.out.println(ServiceBenchmark.TASKS_PER_BATCH + " virtual threads per batch, each: about "
                    + ServiceBenchmark.ROUNDS + " rounds of a 64-bit mix, 3 counters updated"
                    + (work.equals("full") ? ", a 256-byte buffer taken from a pool, 16 bytes filled, an event offered to"
                    + " a ring drained by one consumer thread, the buffer given back" : "")
                    + "; tasks per second of the whole program (batch start to the last task and, with a ring, the"
                    + " last event consumed), millions (higher is better; ours / peer > 1: ours faster). Counters and"
                    + " events checked exactly after every iteration.");
            for (String impl : ServiceBenchmark.IMPLS) {
                System.out.println("  " + ServiceBenchmark.label(impl, work));
            }
            System.out.println();
            System.out.print(serviceTable(results));
        });
    }

    /** Millions of tasks per second per implementation and carrier count, then ours / each peer. */
    static String serviceTable(Map<Integer, Map<String, RunResult>> results) {
        String[] impls = ServiceBenchmark.IMPLS;
        StringBuilder t = new StringBuilder("| carriers |");
        StringBuilder rule = new StringBuilder("|---|");
        for (String impl : impls) {
            t.append(' ').append(impl).append(" M tasks/s |");
            rule.append("---|");
        }
        for (int i = 1; i < impls.length; i++) {
            t.append(" ours / ").append(impls[i]).append(" |");
            rule.append("---|");
        }
        t.append('\n').append(rule).append('\n');
        results.forEach((carriers, row) -> {
            t.append("| ").append(carriers).append(" |");
            for (String impl : impls) {
                RunResult r = row.get(impl);
                t.append(' ').append(r == null ? "-" : score(r.getPrimaryResult(), 1e-6)).append(" |");
            }
            RunResult ours = row.get(impls[0]);
            for (int i = 1; i < impls.length; i++) {
                RunResult peer = row.get(impls[i]);
                t.append(ours == null || peer == null ? " - |" : String.format(" %.2f |", value(ours) / value(peer)));
            }
            t.append('\n');
        });
        return t.toString();
    }

    private static final String[] LOCK_UPDATES = {"updatePerCpu", "updateStriped", "updateSynchronized",
        "updateReentrantLock", "updateSpinLockDirect", "countLongAdder", "countAtomicLong"};
    private static final String[] LOCK_UNLOCKS = {"lockUnlockPerCpuSpinLock", "lockUnlockReentrantLock"};

    /**
     * Runs every {@link LockBenchmarks} benchmark in one JMH run per thread count (1, 2, 4, 8; JMH takes
     * one thread count per run) and prints two tables, update and lock+unlock, of ns/op (B/op) and
     * ours / peer with the targets; writes them to {@code lock-benchmarks.md} beside the benchmarks jar
     * ({@code rseq-bench/target}).
     */
    private static void locks(boolean quick) throws RunnerException, IOException {
        int cpus = Runtime.getRuntime().availableProcessors();
        StringBuilder out = new StringBuilder();
        out.append("mode=").append(Rseq.status().mode()).append(" cpus=").append(cpus).append(" possibleCpus=")
                .append(Rseq.possibleCpus()).append(" jdk=").append(Runtime.version())
                .append(quick ? " (quick JMH run: noisy)" : "").append('\n');
        out.append("Rows with more threads than cpus (").append(cpus).append(") are oversubscribed: a lock holder can be")
                .append(" preempted inside, so they measure the scheduler as much as the lock.\n");
        String regex = LockBenchmarks.class.getName() + "\\.";
        Map<Integer, Map<String, RunResult>> results = new LinkedHashMap<>();
        for (int t : new int[] {1, 2, 4, 8}) {
            ChainedOptionsBuilder o = options(regex, quick).threads(t).addProfiler(GCProfiler.class);
            Map<String, RunResult> row = new LinkedHashMap<>();
            for (RunResult r : recorded(new Runner(o.build()).run())) {
                String b = r.getParams().getBenchmark();
                row.put(b.substring(b.lastIndexOf('.') + 1), r);
            }
            for (String b : concat(LOCK_UPDATES, LOCK_UNLOCKS)) {
                if (!row.containsKey(b)) {
                    throw new IllegalStateException("no result for " + b + " at " + t + " threads: " + row.keySet());
                }
                System.err.printf("  %-60s threads=%d %s ns/op%n", b, t, score(row.get(b)));
            }
            results.put(t, row);
        }
        out.append('\n').append("update of a small object (Stats: count, sum, max; padded to 128 B), average time per")
                .append(" operation per thread, ns (B/op) (lower is better). withCurrent = PerCpu.withCurrent, one Stats")
                .append(" per CPU; striped = 2 x cpus ReentrantLocks by threadId; synchronized / ReentrantLock = one shared")
                .append(" Stats; lock() + Stats[region]: withCurrent written out without its lambda, a reference;"
                        + " LongAdder / AtomicLong: reference rows, a count only.").append('\n')
                .append("Target: withCurrent faster than striped at every thread count (withCurrent / striped < 1).\n\n");
        out.append(lockTable(results, LOCK_UPDATES, new String[] {"updateStriped", "updateSynchronized", "updateReentrantLock"},
                "updateStriped", 1.0, 1));
        out.append('\n').append("lock() + unlock(region) of PerCpuSpinLock, empty section, against ReentrantLock.lock() +")
                .append(" unlock() of one shared lock, average time per operation per thread, ns (B/op) (lower is better).\n")
                .append("Target: lock+unlock / ReentrantLock <= 0.5 at 2 threads and more.\n\n");
        out.append(lockTable(results, LOCK_UNLOCKS, new String[] {"lockUnlockReentrantLock"},
                "lockUnlockReentrantLock", 0.5, 2));
        System.out.println();
        System.out.print(out);
        Path file = reportDirectory().resolve("lock-benchmarks.md");
        Files.writeString(file, out);
        System.err.println("  written to " + file);
    }

    private static String[] concat(String[] a, String[] b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /**
     * ns/op (B/op) of {@code shown} per thread count, then ours (the first) / each of {@code peers}, and
     * whether ours / {@code target} is at most {@code bound} (rows of {@code fromThreads} threads and more).
     */
    static String lockTable(Map<Integer, Map<String, RunResult>> results, String[] shown, String[] peers,
            String target, double bound, int fromThreads) {
        StringBuilder t = new StringBuilder("| threads |");
        StringBuilder rule = new StringBuilder("|---|");
        for (String b : shown) {
            t.append(' ').append(lockLabel(b)).append(" |");
            rule.append("---|");
        }
        for (String p : peers) {
            t.append(' ').append(lockLabel(shown[0])).append(" / ").append(lockLabel(p)).append(" |");
            rule.append("---|");
        }
        t.append(" target |");
        rule.append("---|");
        t.append('\n').append(rule).append('\n');
        results.forEach((threads, row) -> {
            t.append("| ").append(threads).append(" |");
            for (String b : shown) {
                t.append(' ').append(score(row.get(b))).append(allocated(row.get(b))).append(" |");
            }
            double ours = value(row.get(shown[0]));
            for (String p : peers) {
                t.append(String.format(" %.2f |", ours / value(row.get(p))));
            }
            double ratio = ours / value(row.get(target));
            String bounds = bound == 1.0 ? "< 1" : "<= " + bound;
            t.append(threads < fromThreads ? " (none below " + fromThreads + " threads)"
                    : (bound == 1.0 ? ratio < bound : ratio <= bound) ? " met (" + bounds + ")" : " MISSED (" + bounds + ")").append(" |");
            t.append('\n');
        });
        return t.toString();
    }

    private static String lockLabel(String benchmark) {
        return switch (benchmark) {
            case "updatePerCpu" -> "withCurrent";
            case "updateStriped" -> "striped";
            case "updateSynchronized" -> "synchronized";
            case "updateReentrantLock" -> "ReentrantLock";
            case "updateSpinLockDirect" -> "lock() + Stats[region] (no lambda)";
            case "countLongAdder" -> "LongAdder (count)";
            case "countAtomicLong" -> "AtomicLong (count)";
            case "lockUnlockPerCpuSpinLock" -> "lock+unlock";
            case "lockUnlockReentrantLock" -> "ReentrantLock";
            default -> benchmark;
        };
    }

    /** The directory of the benchmarks jar (or of the classes): rseq-bench/target when built by Maven. */
    private static Path reportDirectory() {
        try {
            Path p = Path.of(CounterReport.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path dir = p.getParent();   // target/benchmarks.jar or target/classes: target
            return dir != null ? dir : Path.of("");
        } catch (Exception e) {
            return Path.of("");
        }
    }

    /** " (N B)" from the GC profiler's gc.alloc.rate.norm, or "" without it. */
    private static String allocated(RunResult r) {
        Result<?> norm = r.getSecondaryResults().get("gc.alloc.rate.norm");
        return norm == null ? "" : String.format(" (%.1f B)", norm.getScore());
    }

    private static double value(RunResult r) {
        return r.getPrimaryResult().getScore();
    }

    private static String score(RunResult r) {
        return score(r.getPrimaryResult(), 1);
    }

    /** Score ± the 99.9% confidence half-width (JMH cannot compute it from fewer than 3 iterations), times {@code scale}. */
    private static String score(Result<?> r, double scale) {
        double error = r.getScoreError();
        return Double.isFinite(error) ? String.format("%.2f ± %.2f", r.getScore() * scale, error * scale)
                : String.format("%.2f", r.getScore() * scale);
    }

    /**
     * Runs {@link MemoryFootprint} in its own JVM (SerialGC for exact used-after-GC; a fixed,
     * pre-touched heap so that RSS deltas are native memory) and returns its Markdown tables.
     */
    static List<String> memory() throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "-XX:+UseSerialGC", "-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch",
                "--enable-native-access=ALL-UNNAMED",
                "--add-opens", "java.base/java.util.concurrent.atomic=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), MemoryFootprint.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("MemoryFootprint failed:\n" + out);
        }
        List<String> raw = out.lines().filter(l -> l.startsWith("MEMORY ")).toList();
        System.err.println(String.join("\n", raw));
        return memoryTables(raw);
    }

    /** One {@code MEMORY kind k=v ...} line as its kind (key "type") and fields. */
    private static Map<String, String> fields(String line) {
        Map<String, String> m = new LinkedHashMap<>();
        String[] f = line.substring(7).split(" ");
        m.put("type", f[0]);
        for (int i = 1; i < f.length; i++) {
            int eq = f[i].indexOf('=');
            if (eq > 0) {
                m.put(f[i].substring(0, eq), f[i].substring(eq + 1));
            }
        }
        return m;
    }

    private static double d(Map<String, String> m, String k) {
        return Double.parseDouble(m.get(k));
    }

    private static String mb(Map<String, String> m, String k, String base) {
        return String.format("%+.2f", (d(m, k) - d(m, base)) / (1 << 20));
    }

    static List<String> memoryTables(List<String> lines) {
        List<Map<String, String>> all = lines.stream().map(CounterReport::fields).toList();
        List<String> t = new ArrayList<>();
        all.stream().filter(m -> m.get("type").equals("env")).forEach(m -> t.add("Memory: " + m.get("possibleCpus")
                + " possible CPUs, " + m.get("mode") + " mode, JDK " + m.get("jdk") + "."));
        t.add("");
        t.add("| counters | | heap B | native B (mapped) | VmRSS delta B (RssAnon) | heap + native B | ours / peer (heap + native) |");
        t.add("|---|---|---|---|---|---|---|");
        List<Map<String, String>> fp = all.stream().filter(m -> m.get("type").equals("footprint")).toList();
        Map<String, String> inflated = all.stream().filter(m -> m.get("type").equals("inflated")).findFirst().orElse(null);
        for (Map<String, String> ours : fp) {
            if (!ours.get("kind").equals("PerCpuCounter")) {
                continue;
            }
            String n = ours.get("n");
            t.add(String.format("| %,d | PerCpuCounter (%s ranges) | %.2f | %.2f | %.2f (%.2f) | %.2f | |", Integer.parseInt(n),
                    ours.get("ranges"), d(ours, "heap"), d(ours, "native"), d(ours, "rss"), d(ours, "rssAnon"),
                    d(ours, "total")));
            for (Map<String, String> peer : fp) {
                if (peer.get("kind").equals("LongAdder") && peer.get("n").equals(n)) {
                    t.add(String.format("| %,d | LongAdder, uncontended | %.2f | 0 | %.2f (%.2f) | %.2f | **%.3f** |",
                            Integer.parseInt(n), d(peer, "heap"), d(peer, "rss"), d(peer, "rssAnon"), d(peer, "total"),
                            d(ours, "total") / d(peer, "total")));
                }
            }
            if (inflated != null && inflated.get("n").equals(n)) {
                t.add(String.format("| %,d | LongAdder, fully inflated (%s of %s with %s cells) | %.2f | 0 | | %.2f | **%.3f** |",
                        Integer.parseInt(n), inflated.get("full"), n, inflated.get("cells"), d(inflated, "heap"),
                        d(inflated, "total"), d(ours, "total") / d(inflated, "total")));
            }
        }
        t.add("");
        t.add("| counters | creation + one increment, ns per counter: PerCpuCounter best (median) | LongAdder best (median) | ours / LongAdder (best) |");
        t.add("|---|---|---|---|");
        List<Map<String, String>> cr = all.stream().filter(m -> m.get("type").equals("creation")).toList();
        for (Map<String, String> ours : cr) {
            if (ours.get("kind").equals("PerCpuCounter")) {
                for (Map<String, String> peer : cr) {
                    if (peer.get("kind").equals("LongAdder") && peer.get("n").equals(ours.get("n"))) {
                        t.add(String.format("| %,d | %.1f (%.1f) | %.1f (%.1f) | **%.2f** |", Integer.parseInt(ours.get("n")),
                                d(ours, "best"), d(ours, "median"), d(peer, "best"), d(peer, "median"),
                                d(ours, "best") / d(peer, "best")));
                    }
                }
            }
        }
        t.add("");
        t.add("| counters | | baseline heap / RSS MB | held: heap / RSS MB | dropped, one System.gc(): heap / RSS MB (highest heap seen later) | dropped, GC + 20 ms sleeps until within tolerance: heap / RSS MB (tolerance heap / RSS, time, GCs) | ranges mapped then | after `arena.ranges()` drains: heap / RSS MB |");
        t.add("|---|---|---|---|---|---|---|---|");
        for (Map<String, String> m : fp) {
            t.add(String.format("| %,d | %s | %.2f / %.2f | %s / %s | %s / %s (%s) | %s / %s (%.2f / %.2f MB, %s ms, %s GCs) | %s | %s / %s |",
                    Integer.parseInt(m.get("n")), m.get("kind"), d(m, "heapBefore") / (1 << 20), d(m, "rssBefore") / (1 << 20),
                    mb(m, "heapHeld", "heapBefore"), mb(m, "rssHeld", "rssBefore"),
                    mb(m, "heapFirstGc", "heapBefore"), mb(m, "rssFirstGc", "rssBefore"), mb(m, "heapMaxDropped", "heapBefore"),
                    mb(m, "heapDropped", "heapBefore"), mb(m, "rssDropped", "rssBefore"), d(m, "tolerance") / (1 << 20), d(m, "rssTolerance") / (1 << 20),
                    m.get("returnMs"), m.get("gcs"),
                    m.get("kind").equals("PerCpuCounter") ? m.get("rangesDropped") : "",
                    mb(m, "heapDrained", "heapBefore"), mb(m, "rssDrained", "rssBefore")));
        }
        t.add("");
        t.add("| -Xmx64m, 1,000,000 counters held | PerCpuCounter | LongAdder |");
        t.add("|---|---|---|");
        List<Map<String, String>> holds = all.stream().filter(m -> m.get("type").equals("hold")).toList();
        for (String gc : holds.stream().map(m -> m.get("gc")).distinct().toList()) {
            StringBuilder row = new StringBuilder("| " + gc + " |");
            for (String k : new String[] {"PerCpuCounter", "LongAdder"}) {
                holds.stream().filter(m -> m.get("gc").equals(gc) && m.get("kind").equals(k)).findFirst()
                        .ifPresent(m -> row.append(' ').append(m.get("result"))
                                .append(m.containsKey("heapUsedAfterGc")
                                        ? String.format(" (heap used after GC %.1f MB)", d(m, "heapUsedAfterGc") / (1 << 20))
                                        : "").append(" |"));
            }
            t.add(row.toString());
        }
        all.stream().filter(m -> m.get("type").equals("formula")).findFirst().ifPresent(f -> {
            t.add("");
            t.add(String.format("Per counter with N possible CPUs: ours = %s B heap (24 B counter + %s B of chunk, weak"
                    + " reference and range objects amortised) + %s B x N native; uncontended LongAdder %s B;"
                    + " inflated LongAdder = %s B + cell array + %s B per cell (cells: power of two >= N)."
                    + " Largest N at which ours <= uncontended LongAdder: %s.",
                    f.get("oursHeap"), String.format("%.2f", d(f, "chunkAndRange")), f.get("nativePerCpu"),
                    f.get("uncontended"), f.get("uncontended"), f.get("inflatedCell"),
                    f.get("crossover").equals("-1") ? "none (the heap part alone exceeds it)" : f.get("crossover")));
            t.add("");
            t.add("| N possible CPUs | ours B | uncontended LongAdder B | inflated LongAdder B | ours / uncontended | ours / inflated |");
            t.add("|---|---|---|---|---|---|");
            all.stream().filter(m -> m.get("type").equals("formulaRow")).forEach(m -> t.add("| " + m.get("cpus") + " | "
                    + m.get("ours") + " | " + m.get("uncontended") + " | " + m.get("inflated") + " | "
                    + m.get("oursPerUncontended") + " | " + m.get("oursPerInflated") + " |"));
        });
        return t;
    }
}
