package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.RseqStatus;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PoolTotals;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JDK Flight Recorder events ({@code dev.rseq4j.Status}, {@code dev.rseq4j.PerCpuStatistics},
 * {@code dev.rseq4j.LockStatistics}): recorded in this JVM around the diagnostics' workloads and read
 * back with {@link RecordingFile}; and recorded by {@code -XX:StartFlightRecording} in a JVM that runs
 * the self-test on the module path, as {@code ./rseq4j diagnose} does.
 */
class JfrEventsTest {
    private static final List<String> KINDS = List.of("core", "counter", "freeList", "ring", "recordRing", "spinLock");

    @Test
    void recordsStatusAndPerKindStatisticsAroundTheSelfTests(@TempDir Path dir) throws Exception {
        new PerCpuCounter().increment();    // the library has started (and registered its events) before the recording
        Path file = dir.resolve("rseq4j.jfr");
        List<PoolSelfTest.Result> pools;
        List<RingSelfTest.Result> rings;
        List<LockSelfTest.Result> locks;
        long[] poolTotals;
        PerCpuCounter counter = new PerCpuCounter();
        PerCpuOps core = Rseq.status().mode() == RseqStatus.Mode.RSEQ
                ? OpsVariant.of(CpuIndexing.CPU).withDelay(20_000).create() : OpsVariant.lockMode();
        PerCpuArea area = PerCpuArea.forPossibleCpus(CpuIndexing.CPU, 64);
        try (Recording recording = new Recording()) {
            recording.enable("dev.rseq4j.Status");
            recording.enable("dev.rseq4j.PerCpuStatistics").withPeriod(Duration.ofMillis(100));
            recording.enable("dev.rseq4j.LockStatistics").withPeriod(Duration.ofMillis(100));
            recording.enable("dev.rseq4j.PoolStatistics").withPeriod(Duration.ofMillis(100));
            recording.start();
            pools = PoolSelfTest.run(CpuIndexing.CPU, 20_000, 4, 300);
            poolTotals = new long[] {PoolTotals.refills(), PoolTotals.spills(), PoolTotals.created()};
            rings = RingSelfTest.run(CpuIndexing.CPU, 20_000, 4, 300);
            locks = LockSelfTest.run(CpuIndexing.CPU, 20_000, 4, 300);
            hammer(counter, 4, 200);
            hammer(() -> core.add(area, 8, 1), 4, 200);   // PerCpuOps used directly: kind "core"
            Thread.sleep(300);  // at least two periods after the workloads
            recording.stop();
            recording.dump(file);
        }
        assertTrue(pools.stream().allMatch(PoolSelfTest.Result::ok), pools.toString());
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        RseqStatus status = Rseq.status();

        List<RecordedEvent> statuses = named(events, "dev.rseq4j.Status");
        assertFalse(statuses.isEmpty(), "no Status event in " + summary(events));
        for (RecordedEvent s : statuses) {
            assertEquals(status.mode().name(), s.getString("mode"), s.toString());
            assertEquals(status.registrant().name(), s.getString("registrant"), s.toString());
            assertEquals(status.featureSize(), s.getInt("featureSize"), s.toString());
            assertEquals(status.sliceExtension(), s.getBoolean("sliceExtension"), s.toString());
            assertEquals(status.lockReason().orElse(""), s.getString("reason"), s.toString());
            assertEquals(status.possibleCpus(), s.getInt("possibleCpus"), s.toString());
        }

        Map<String, RecordedEvent> last = new HashMap<>();
        Map<String, Integer> perKind = new HashMap<>();
        for (RecordedEvent e : named(events, "dev.rseq4j.PerCpuStatistics")) {
            String kind = e.getString("kind");
            perKind.merge(kind, 1, Integer::sum);
            RecordedEvent before = last.get(kind);
            if (before == null || !e.getEndTime().isBefore(before.getEndTime())) {
                if (before != null) {   // cumulative: never goes down
                    assertTrue(e.getLong("aborts") >= before.getLong("aborts"), e + " after " + before);
                    assertTrue(e.getLong("slowPaths") >= before.getLong("slowPaths"), e + " after " + before);
                }
                last.put(kind, e);
            }
        }
        assertEquals(KINDS.stream().sorted().toList(), last.keySet().stream().sorted().toList(), summary(events));
        for (String kind : KINDS) {
            assertTrue(perKind.get(kind) >= 3, "a 100 ms period over more than a second: " + perKind);
        }
        // the kinds' totals include the self-tests' own operations (their stats add to their kind's total)
        assertAtLeast(last.get("freeList"), "slowPaths", pools.stream().mapToLong(PoolSelfTest.Result::slowPaths).sum());
        assertAtLeast(last.get("freeList"), "aborts", pools.stream().mapToLong(PoolSelfTest.Result::aborts).sum());
        assertAtLeast(last.get("ring"), "slowPaths", rings.get(0).slowPaths());
        assertAtLeast(last.get("recordRing"), "slowPaths", rings.get(1).slowPaths());
        assertAtLeast(last.get("spinLock"), "slowPaths", locks.stream().mapToLong(LockSelfTest.Result::slowPaths).sum());
        assertTrue(area.sumLongOpaque(8) >= 4 * 1000L, "every add counted");
        assertAtLeast(last.get("core"), "aborts", core.stats().aborts());
        assertAtLeast(last.get("core"), "slowPaths", core.stats().slowPaths());
        assertTrue(last.get("freeList").getLong("slowPaths") > 0, "forced and stealing slow paths: " + last.get("freeList"));
        if (status.mode() == RseqStatus.Mode.RSEQ) {
            // 20,000 delay loops before every commit: the kernel aborts some sequences
            assertTrue(last.get("freeList").getLong("aborts") > 0, last.get("freeList").toString());
            assertTrue(last.get("spinLock").getLong("aborts") > 0, last.get("spinLock").toString());
            assertTrue(last.get("core").getLong("aborts") > 0, last.get("core").toString());
        } else {
            assertEquals(0, last.get("freeList").getLong("aborts"), "nothing aborts in lock mode");
            assertTrue(last.get("counter").getLong("slowPaths") >= 4000, "every add is a slow path in lock mode: "
                    + last.get("counter"));
        }
        assertTrue(last.get("freeList").getDuration("guardWaitTime").toNanos() >= 0);

        List<RecordedEvent> lockEvents = named(events, "dev.rseq4j.LockStatistics");
        assertTrue(lockEvents.size() >= 3, summary(events));
        RecordedEvent lastLock = lockEvents.stream().max((a, b) -> a.getEndTime().compareTo(b.getEndTime())).orElseThrow();
        assertAtLeast(lastLock, "parks", locks.stream().mapToLong(LockSelfTest.Result::parks).sum());
        assertTrue(lastLock.getLong("contended") > 0, "4 threads on a lock whose holders spin 20,000 loops: " + lastLock);

        // the pools' process-wide totals: every period after the pool self-test reports at least them
        List<RecordedEvent> poolEvents = named(events, "dev.rseq4j.PoolStatistics");
        assertTrue(poolEvents.size() >= 3, summary(events));
        RecordedEvent lastPool = poolEvents.stream().max((a, b) -> a.getEndTime().compareTo(b.getEndTime())).orElseThrow();
        assertAtLeast(lastPool, "refills", poolTotals[0]);
        assertAtLeast(lastPool, "spills", poolTotals[1]);
        assertAtLeast(lastPool, "created", poolTotals[2]);
        assertTrue(poolTotals[2] > 0 && poolTotals[1] > 0, "the self-test's pools made objects and spilled batches: "
                + java.util.Arrays.toString(poolTotals));
    }

    /**
     * {@code -XX:StartFlightRecording=filename=...,settings=default}, the library on the module path. The
     * statistics come every second (the default period) and none at exit, so each self-test phase runs
     * long enough (1 s per structure) for a later tick to see it; the last phase (the locks) is
     * seen by a tick during its second structure.
     */
    @Test
    void startFlightRecordingFlagRecordsTheSelfTestOnTheModulePath(@TempDir Path dir) throws Exception {
        RseqStatus status = Rseq.status();  // the same machine and environment as the forked JVM
        List<RecordedEvent> events = recordSelfTest(dir, List.of());
        RecordedEvent s = named(events, "dev.rseq4j.Status").get(0);
        assertEquals(status.mode().name(), s.getString("mode"), s.toString());
        assertEquals(status.registrant().name(), s.getString("registrant"), s.toString());
        assertEquals(status.featureSize(), s.getInt("featureSize"), s.toString());
        assertEquals(status.sliceExtension(), s.getBoolean("sliceExtension"), s.toString());
        if (status.mode() == RseqStatus.Mode.RSEQ) {
            RecordedEvent freeList = lastOfKind(events, "freeList");
            assertTrue(freeList.getLong("aborts") > 0, "20,000 delay loops before every commit: " + freeList);
        }
    }

    /** The same in forced lock mode: the Status says so and why, and nothing aborts. */
    @Test
    void startFlightRecordingFlagRecordsLockMode(@TempDir Path dir) throws Exception {
        List<RecordedEvent> events = recordSelfTest(dir, List.of("-Drseq4j.mode=lock"));
        RecordedEvent s = named(events, "dev.rseq4j.Status").get(0);
        assertEquals("LOCK", s.getString("mode"), s.toString());
        assertEquals("NONE", s.getString("registrant"), s.toString());
        assertEquals(0, s.getInt("featureSize"), s.toString());
        assertFalse(s.getString("reason").isEmpty(), "lock mode says why: " + s);
        for (String kind : List.of("freeList", "ring", "spinLock")) {
            assertEquals(0, lastOfKind(events, kind).getLong("aborts"), "nothing to abort in lock mode");
        }
    }

    /**
     * Runs the collections' self-test ({@code ./rseq4j diagnose}'s second part) in a JVM started with
     * {@code -XX:StartFlightRecording=filename=...,settings=default}, the library on the module path;
     * checks what every mode must show and returns the recording's events. The statistics come every
     * second (the default period) and none at exit, so each self-test phase runs long enough (1 s per
     * structure) for a later tick to see it; the last phase (the locks) is seen by a tick during its
     * second structure.
     */
    private static List<RecordedEvent> recordSelfTest(Path dir, List<String> jvmArgs) throws Exception {
        Path file = dir.resolve("diagnose.jfr");
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-XX:StartFlightRecording=filename=" + file + ",settings=default"));
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("--module-path", libraryPath(), "--enable-native-access=dev.rseq4j.core",
                "-m", "dev.rseq4j.collections/dev.rseq4j.collections.PoolSelfTest",
                "--seconds", "1", "--threads", "4"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "did not finish: " + cmd);
        System.out.println(output.strip());
        assertEquals(0, p.exitValue(), output);
        assertTrue(output.contains("pools=PASS") && output.contains("locks=PASS"), output);
        assertTrue(Files.size(file) > 0, "no recording at " + file + ":\n" + output);

        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        assertEquals(1, named(events, "dev.rseq4j.Status").size(),
                "one Status: the library started after the recording, in its only chunk " + summary(events));
        for (String kind : List.of("freeList", "ring", "spinLock")) {
            RecordedEvent e = lastOfKind(events, kind);
            assertTrue(e.getLong("slowPaths") > 0, "forced slow paths (every operation in lock mode): " + e);
        }
        assertFalse(named(events, "dev.rseq4j.LockStatistics").isEmpty(), summary(events));
        return events;
    }

    private static RecordedEvent lastOfKind(List<RecordedEvent> events, String kind) {
        return named(events, "dev.rseq4j.PerCpuStatistics").stream().filter(e -> e.getString("kind").equals(kind))
                .max((a, b) -> a.getEndTime().compareTo(b.getEndTime()))
                .orElseThrow(() -> new AssertionError("no PerCpuStatistics of kind " + kind + " in " + summary(events)));
    }

    private static void hammer(PerCpuCounter counter, int threads, long millis) throws InterruptedException {
        hammer(counter::increment, threads, millis);
    }

    /** {@code threads} threads run {@code op} at least 1000 times each and for at least {@code millis}. */
    private static void hammer(Runnable op, int threads, long millis) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            all.add(Thread.ofPlatform().start(() -> {
                int n = 0;
                while (n < 1000 || System.nanoTime() < end) {
                    op.run();
                    n++;
                }
            }));
        }
        for (Thread t : all) {
            t.join();
        }
    }

    private static void assertAtLeast(RecordedEvent e, String field, long min) {
        assertNotNull(e);
        assertTrue(e.getLong(field) >= min, field + " must be at least " + min + " (the self-test's own count): " + e);
    }

    private static List<RecordedEvent> named(List<RecordedEvent> events, String name) {
        return events.stream().filter(e -> e.getEventType().getName().equals(name)).toList();
    }

    private static String summary(List<RecordedEvent> events) {
        return events.stream().map(e -> e.getEventType().getName()).filter(n -> n.startsWith("dev.rseq4j"))
                .collect(Collectors.groupingBy(n -> n, Collectors.counting())).toString();
    }

    private static String libraryPath() throws URISyntaxException {
        Path core = Path.of(Rseq.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path collections = Path.of(PerCpuCounter.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path jctools = Path.of(org.jctools.queues.MessagePassingQueue.class.getProtectionDomain().getCodeSource()
                .getLocation().toURI());
        return core + File.pathSeparator + collections + File.pathSeparator + jctools;
    }
}
