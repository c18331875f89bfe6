package dev.rseq4j.bench;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.Rseq;

import dev.rseq4j.collections.PerCpuArena;
import dev.rseq4j.collections.PerCpuCounter;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * Memory and creation cost of counters, against {@link LongAdder}s both fully inflated (the worst
 * case a per-CPU design is compared with) and uncontended (the common case: many counters, few hot).
 *
 * <p>For {@value #SMALL} and {@value #LARGE} counters, each incremented once:
 * <ul>
 *   <li>heap bytes per counter: used heap after full GCs, before and after, with the counters held in
 *       an array allocated <em>before</em> the baseline (so the array is not counted);</li>
 *   <li>native bytes per counter: what a fresh arena mapped ({@code arena.nativeBytes()}), and
 *       separately the VmRSS delta of this process (pages of CPUs a counter never ran on may stay
 *       untouched, so RSS can be below the mapping);</li>
 *   <li>creation: ns per counter to create {@code N} and increment each once into a preallocated
 *       array, best of {@value #ROUNDS} interleaved rounds (a fresh arena each) after a JIT warm-up of
 *       {@value #WARMUP_ROUNDS} x {@value #LARGE} of each kind, the same loop shape for both;</li>
 *   <li>after dropping them: heap used after GC and VmRSS against the baseline, with only
 *       {@code System.gc()} and short sleeps in between (no call into the arena: its ranges are
 *       unmapped by the collector's cleaner), then once more after {@code arena.ranges()} (which
 *       drains the arena's reference queue).</li>
 * </ul>
 * Plus the fully inflated {@code LongAdder} at {@value #SMALL}, the {@code -Xmx64m} check (child JVMs
 * holding {@value #LARGE} counters), and the per-counter formula for N possible CPUs.
 *
 * <p>Run in its own JVM with {@code -XX:+UseSerialGC} (exact "used after GC"), a fixed pre-touched
 * heap ({@code -Xms512m -Xmx512m -XX:+AlwaysPreTouch}: heap pages are resident from the start, so
 * the RSS delta is native memory, not heap growth) and
 * {@code --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED} (to verify that every
 * inflated LongAdder has all its cells); {@link CounterReport} does that. Output: {@code MEMORY ...}
 * lines of {@code key=value} fields, which {@link CounterReport} turns into Markdown.
 *
 * <p>{@code --hold PerCpuCounter|LongAdder N}: create and hold N counters, print one {@code MEMORY hold}
 * line (ok or OOM) and exit; the {@code -Xmx64m} check runs that in child JVMs.
 */
public final class MemoryFootprint {
    static final int SMALL = 10_000;
    static final int LARGE = 1_000_000;
    static final int ROUNDS = 5;
    /** JIT warm-up rounds of LARGE counters of each kind, before anything is measured. */
    static final int WARMUP_ROUNDS = 3;

    private MemoryFootprint() {
    }

    /** What each measurement allocated and must stay reachable (the inflated adders, the warm-up arena). */
    private static final List<Object> KEEP = new ArrayList<>();

    /** The counter kinds compared. */
    enum Kind {
        PerCpuCounter, LongAdder
    }

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        if (args.length == 3 && args[0].equals("--hold")) {
            hold(Kind.valueOf(args[1]), Integer.parseInt(args[2]));
            return;
        }
        int cpus = Rseq.possibleCpus();
        System.out.printf("MEMORY env cpus=%d possibleCpus=%d mode=%s jdk=%s heapMax=%d%n",
                Runtime.getRuntime().availableProcessors(), cpus, Rseq.status().mode(), Runtime.version(),
                Runtime.getRuntime().maxMemory());
        // Warm up: load and initialise every class the measurements use, so the baselines hold them
        // (in an arena of its own: every measured arena starts empty).
        PerCpuArena warmArena = new PerCpuArena(CpuIndexing.CPU);
        PerCpuCounter warm = PerCpuCounter.builder().arena(warmArena).build();
        warm.increment();
        Inflation.inflate(List.of(new LongAdder()));
        KEEP.add(warm);
        KEEP.add(warmArena);
        // JIT warm-up of both creation loops (the same methods the footprints and timings use), so
        // that compilation neither costs time in the timed rounds nor moves RSS in the measured ones.
        Object[] warmUp = new Object[LARGE];
        for (int r = 0; r < WARMUP_ROUNDS; r++) {
            createCountersOnly(warmUp, new PerCpuArena(CpuIndexing.CPU));
            Arrays.fill(warmUp, null);
            createAddersOnly(warmUp);
            Arrays.fill(warmUp, null);
        }
        warmUp = null;

        double inflated = inflatedLongAdders(SMALL);
        creation(SMALL);
        creation(LARGE);
        double ours = 0;
        double uncontended = 0;
        for (int n : new int[] {SMALL, LARGE}) {
            ours = footprint(Kind.PerCpuCounter, n);
            uncontended = footprint(Kind.LongAdder, n);
        }
        for (String gc : new String[] {"-XX:+UseSerialGC", "-XX:+UseG1GC"}) {
            for (Kind k : Kind.values()) {
                holdInChild(k, LARGE, gc);
            }
        }
        formula(cpus, ours, uncontended, inflated);
    }

    // ---- footprint: heap, native, RSS, and what returns after dropping -----------------------------

    /** Prints the footprint of n counters of {@code kind}; returns heap bytes per counter. */
    static double footprint(Kind kind, int n) throws InterruptedException {
        Object[] hold = new Object[n];   // before the baseline: not counted
        long heap0 = usedAfterGc();
        long rss0 = rss();
        long anon0 = rss("RssAnon:");
        PerCpuArena arena = kind == Kind.PerCpuCounter ? new PerCpuArena(CpuIndexing.CPU) : null;
        if (kind == Kind.PerCpuCounter) {
            createCountersOnly(hold, arena);
        } else {
            createAddersOnly(hold);
        }
        long heap1 = usedAfterGc();
        long rss1 = rss();
        long anon1 = rss("RssAnon:");
        long mapped = arena == null ? 0 : arena.nativeBytes();
        int ranges = arena == null ? 0 : arena.ranges();
        long sum = sum(hold);
        if (sum != n) {
            throw new AssertionError("sum check: " + sum + " != " + n);
        }
        // Drop every counter, keep the arena (as a program keeps its shared arena), allocate nothing
        // from it: only collections and short sleeps until heap and RSS are back, or 5 s.
        Arrays.fill(hold, null);
        long t0 = System.nanoTime();
        long heapFirst = usedAfterOneGc();   // one collection, no wait
        Thread.sleep(20);
        long rssFirst = rss();
        // "Back": within 1% of what was held, and at least 64 KiB of heap, 256 KiB of RSS (its noise
        // from the JIT and malloc is about 160 KiB here).
        long tolerance = Math.max(64 << 10, (heap1 - heap0) / 100);
        long rssTolerance = Math.max(256 << 10, tolerance);
        long heap2;
        long rss2;
        int gcs = 1;
        long heapMax = heapFirst;
        do {
            heap2 = usedAfterOneGc();
            heapMax = Math.max(heapMax, heap2);
            gcs++;
            Thread.sleep(20);
            rss2 = rss();
        } while ((heap2 - heap0 > tolerance || rss2 - rss0 > rssTolerance) && System.nanoTime() - t0 < 5_000_000_000L);
        long returnMs = (System.nanoTime() - t0) / 1_000_000;
        // Then once through the arena: ranges() drains its reference queue (what a next allocation would do).
        int rangesAfter = arena == null ? 0 : arena.ranges();
        long mappedAfter = arena == null ? 0 : arena.nativeBytes();
        long heap3 = usedAfterGc();
        long rss3 = rss();
        System.out.printf("MEMORY footprint kind=%s n=%d heap=%.2f native=%.2f rss=%.2f total=%.2f ranges=%d"
                        + " rssAnon=%.2f heapBefore=%d heapHeld=%d rssBefore=%d rssHeld=%d"
                        + " heapFirstGc=%d heapMaxDropped=%d rssFirstGc=%d tolerance=%d rssTolerance=%d heapDropped=%d rssDropped=%d returnMs=%d gcs=%d"
                        + " rangesDropped=%d nativeDropped=%d heapDrained=%d rssDrained=%d%n",
                kind, n, (double) (heap1 - heap0) / n, (double) mapped / n, (double) (rss1 - rss0) / n,
                (double) (heap1 - heap0 + mapped) / n, ranges, (double) (anon1 - anon0) / n, heap0, heap1, rss0, rss1, heapFirst, heapMax, rssFirst, tolerance, rssTolerance, heap2, rss2, returnMs, gcs,
                rangesAfter, mappedAfter, heap3, rss3);
        KEEP.add(hold);   // the empty array, so that it stays out of later deltas
        return (double) (heap1 - heap0) / n;
    }

    static long sum(Object[] counters) {
        long sum = 0;
        for (Object o : counters) {
            sum += o instanceof PerCpuCounter c ? c.sum() : ((LongAdder) o).sum();
        }
        return sum;
    }

    // ---- creation time ----------------------------------------------------------------------------

    /** ns per counter to create n counters and increment each once, best and median of the rounds. */
    static void creation(int n) throws InterruptedException {
        Object[] into = new Object[n];
        double[][] ns = new double[2][ROUNDS];
        // Interleaved rounds: a slow phase of this shared host hits both kinds alike.
        for (int r = -1; r < ROUNDS; r++) {   // one more warm-up round at this size
            for (Kind k : Kind.values()) {
                Arrays.fill(into, null);
                usedAfterGc();   // every round starts from an empty young generation, the previous ranges unmapped
                PerCpuArena arena = k == Kind.PerCpuCounter ? new PerCpuArena(CpuIndexing.CPU) : null;
                long t0 = System.nanoTime();
                if (k == Kind.PerCpuCounter) {
                    createCountersOnly(into, arena);
                } else {
                    createAddersOnly(into);
                }
                long t = System.nanoTime() - t0;
                if (r >= 0) {
                    ns[k.ordinal()][r] = (double) t / n;
                }
            }
        }
        Arrays.fill(into, null);
        usedAfterGc();   // the last rounds' arenas unmapped before the next measurement
        for (Kind k : Kind.values()) {
            double[] s = ns[k.ordinal()].clone();
            Arrays.sort(s);
            System.out.printf("MEMORY creation kind=%s n=%d best=%.1f median=%.1f rounds=%s%n", k, n, s[0],
                    s[s.length / 2], Arrays.toString(ns[k.ordinal()]).replace(" ", ""));
        }
    }

    static void createCountersOnly(Object[] into, PerCpuArena arena) {
        PerCpuCounter.Builder b = PerCpuCounter.builder().arena(arena);
        for (int i = 0; i < into.length; i++) {
            PerCpuCounter c = b.build();
            c.increment();
            into[i] = c;
        }
    }

    static void createAddersOnly(Object[] into) {
        for (int i = 0; i < into.length; i++) {
            LongAdder c = new LongAdder();
            c.increment();
            into[i] = c;
        }
    }

    // ---- inflated LongAdders ----------------------------------------------------------------------

    /** Prints the footprint of n fully inflated adders; returns heap bytes per adder. */
    static double inflatedLongAdders(int n) throws InterruptedException {
        long heapBefore = usedAfterGc();
        List<LongAdder> keep = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            keep.add(new LongAdder());
        }
        Inflation.inflate(keep);
        long heapAfter = usedAfterGc();
        KEEP.add(keep);
        int full = 0;
        for (LongAdder a : keep) {
            full += Inflation.cells(a) >= Inflation.fullCells() ? 1 : 0;
        }
        double listBytes = 16 + 4.0 * n;   // the ArrayList's array of references, not part of a counter
        double heap = (heapAfter - heapBefore - listBytes) / n;
        System.out.printf("MEMORY inflated kind=LongAdder n=%d heap=%.2f native=0 total=%.2f full=%d cells=%d"
                + " verified=%b%n", n, heap, heap, full, Inflation.fullCells(), Inflation.verifiable());
        return heap;
    }

    // ---- -Xmx64m ----------------------------------------------------------------------------------

    /** Child mode: create and hold n counters; report ok (with used heap after GC) or OOM. */
    static void hold(Kind kind, int n) throws InterruptedException {
        String result;
        Object[] into = null;
        try {
            into = new Object[n];
            if (kind == Kind.PerCpuCounter) {
                createCountersOnly(into, new PerCpuArena(CpuIndexing.CPU));
            } else {
                createAddersOnly(into);
            }
            long sum = sum(into);
            result = "ok sum=" + sum + " heapUsedAfterGc=" + usedAfterGc();
        } catch (OutOfMemoryError e) {
            into = null;
            result = "OOM " + String.valueOf(e.getMessage()).replace(' ', '_');
        }
        System.out.println("MEMORY hold kind=" + kind + " n=" + n + " heapMax=" + Runtime.getRuntime().maxMemory()
                + " result=" + result);
        java.lang.ref.Reference.reachabilityFence(into);
    }

    static void holdInChild(Kind kind, int n, String gc) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "-Xmx64m", gc, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), MemoryFootprint.class.getName(),
                "--hold", kind.name(), Integer.toString(n))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        String line = out.lines().filter(l -> l.startsWith("MEMORY hold ")).findFirst()
                .orElse("MEMORY hold kind=" + kind + " n=" + n + " result=failed(exit" + rc + ")");
        System.out.println(line.replace("MEMORY hold ", "MEMORY hold xmx=64m gc=" + gc.substring(gc.indexOf("Use") + 3) + " "));
    }

    // ---- formula ----------------------------------------------------------------------------------

    /**
     * Per-counter bytes for N possible CPUs from the layout, with the heap parts measured here:
     * ours(N) = heap + (8 + 64 / 504) x N (a word per CPU, and a 64-byte header line per CPU shared
     * by a range's 504 words), where heap = the 24-byte counter + a chunk and its weak reference per 8
     * counters + a range's objects per 504 (measured at {@value #LARGE}: {@code oursHeap}).
     * Uncontended LongAdder: its measured object (no cells). Inflated: the object + the cell array
     * (16 + 4 x cells, 8-aligned) + one padded cell per slot, the cells being the power of two at or
     * above N; the padded cell's size is derived from the inflated measurement on this machine.
     */
    static void formula(int cpus, double oursHeap, double uncontended, double inflated) {
        double perCpu = 8 + 64.0 / PerCpuArena.WORDS_PER_RANGE;
        int cells = Inflation.fullCells();
        double cell = (inflated - uncontended - cellArray(cells)) / cells;
        // Largest N at which ours(N) <= uncontended; -1: none (the heap part alone is larger).
        int crossover = oursHeap > uncontended ? -1 : (int) Math.floor((uncontended - oursHeap) / perCpu);
        System.out.printf("MEMORY formula oursHeap=%.2f counterObject=24 chunkAndRange=%.2f nativePerCpu=%.4f"
                        + " uncontended=%.2f inflatedCell=%.1f inflatedMeasuredCells=%d crossover=%d cpus=%d%n",
                oursHeap, oursHeap - 24, perCpu, uncontended, cell, cells, crossover, cpus);
        for (int n : new int[] {1, 2, 4, 8, 16, 32, 64, 128, 256}) {
            int c = n <= 1 ? 1 : Integer.highestOneBit(n - 1) << 1;
            double o = oursHeap + perCpu * n;
            double inf = uncontended + cellArray(c) + cell * c;
            System.out.printf("MEMORY formulaRow cpus=%d ours=%.1f uncontended=%.1f inflated=%.1f"
                    + " oursPerUncontended=%.2f oursPerInflated=%.3f%n", n, o, uncontended, inf, o / uncontended, o / inf);
        }
    }

    private static double cellArray(int cells) {
        return (16 + 4L * cells + 7) & ~7L;
    }

    // ---- helpers ----------------------------------------------------------------------------------

    /**
     * Used heap after full collections, repeated 50 ms apart until heap and VmRSS have not moved for
     * four collections in a row (at most 3 s). Back-to-back System.gc() calls are not enough here:
     * a dropped arena's ranges are unmapped by the JDK's cleaner thread after the collection that
     * found them, and their cleanables and segments are garbage only at a later one (with 1,000,000
     * counters dropped, heap used after GC rises by about 3 MB for about 100 ms, then falls).
     */
    static long usedAfterGc() throws InterruptedException {
        long heap = -1;
        long rss = -1;
        int stable = 0;
        for (int i = 0; i < 60 && stable < 4; i++) {
            System.gc();
            long h = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long r = rss();
            stable = Math.abs(h - heap) <= 1024 && Math.abs(r - rss) <= 16 << 10 ? stable + 1 : 1;
            heap = h;
            rss = r;
            Thread.sleep(50);
        }
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long usedAfterOneGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** VmRSS of this process, bytes. */
    static long rss() {
        return rss("VmRSS:");
    }

    /** A size field of /proc/self/status (VmRSS:, RssAnon:), bytes. */
    static long rss(String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith(field)) {
                    return Long.parseLong(l.substring(field.length()).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
