package dev.rseq4j.bench;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.collections.PerCpuArena;
import dev.rseq4j.collections.PerCpuCounter;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * Measures bytes per counter for 10,000 counters: Java heap retained (used heap after full GCs,
 * before and after, with the counters strongly held) plus the pages a fresh arena mapped for them
 * (mmap: exact page multiples, no allocator overhead; the first range included).
 * Run in its own JVM with {@code -XX:+UseSerialGC} (exact "used after GC") and
 * {@code --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED} (to verify that every
 * LongAdder is fully inflated); {@link CounterReport} does that.
 */
public final class MemoryFootprint {
    static final int COUNTERS = 10_000;

    /** Bytes per counter, split into heap and native. */
    public record Footprint(String what, double heapBytes, double nativeBytes, String note) {
        double total() {
            return heapBytes + nativeBytes;
        }
    }

    private MemoryFootprint() {
    }

    /** What each measurement allocated, kept reachable so that a later measurement does not see it freed. */
    private static final List<Object> KEEP = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        // Warm up: load and initialise every class both measurements use, so the baselines hold them
        // (in an arena of its own: the measured arena starts empty).
        PerCpuCounter warm = PerCpuCounter.builder()
                .arena(new PerCpuArena(CpuIndexing.CPU)).build();
        warm.increment();
        Inflation.inflate(List.of(new LongAdder()));
        KEEP.add(warm);
        Footprint peer = inflatedLongAdders();
        Footprint ours = perCpuCounters();
        System.out.printf("MEMORY %s heap=%.1f native=%.1f total=%.1f %s%n", ours.what(), ours.heapBytes(),
                ours.nativeBytes(), ours.total(), ours.note());
        System.out.printf("MEMORY %s heap=%.1f native=%.1f total=%.1f %s%n", peer.what(), peer.heapBytes(),
                peer.nativeBytes(), peer.total(), peer.note());
        System.out.printf("MEMORY ratio=%.3f%n", ours.total() / peer.total());
    }

    static Footprint perCpuCounters() {
        // A fresh arena: every range these counters need is counted, the first one included.
        long heapBefore = usedAfterGc();
        PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU);
        PerCpuCounter.Builder builder = PerCpuCounter.builder().arena(arena);
        List<PerCpuCounter> keep = new ArrayList<>(COUNTERS);
        for (int i = 0; i < COUNTERS; i++) {
            PerCpuCounter c = builder.build();
            c.increment();
            keep.add(c);
        }
        long heapAfter = usedAfterGc();
        long nativeBefore = 0;
        long nativeAfter = arena.nativeBytes();
        KEEP.add(arena);
        KEEP.add(keep);
        double listBytes = 16 + 4.0 * COUNTERS;   // the ArrayList's array of references, not part of a counter
        double heap = (heapAfter - heapBefore - listBytes) / COUNTERS;
        String note = "(" + (nativeAfter - nativeBefore) + " bytes mapped in " + arena.ranges()
                + " ranges; sum check " + keep.stream().mapToLong(PerCpuCounter::sum).sum() + ")";
        return new Footprint("PerCpuCounter", heap, (double) (nativeAfter - nativeBefore) / COUNTERS, note);
    }

    static Footprint inflatedLongAdders() throws InterruptedException {
        long heapBefore = usedAfterGc();
        List<LongAdder> keep = new ArrayList<>(COUNTERS);
        for (int i = 0; i < COUNTERS; i++) {
            keep.add(new LongAdder());
        }
        Inflation.inflate(keep);
        long heapAfter = usedAfterGc();
        KEEP.add(keep);
        int full = 0;
        for (LongAdder a : keep) {
            full += Inflation.cells(a) >= Inflation.fullCells() ? 1 : 0;
        }
        double listBytes = 16 + 4.0 * COUNTERS;
        String note = Inflation.verifiable()
                ? "(" + full + " of " + COUNTERS + " fully inflated with " + Inflation.fullCells() + " cells)"
                : "(inflation not verifiable without --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED)";
        return new Footprint("LongAdder(inflated)", (heapAfter - heapBefore - listBytes) / COUNTERS, 0, note);
    }

    private static long usedAfterGc() {
        for (int i = 0; i < 4; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
