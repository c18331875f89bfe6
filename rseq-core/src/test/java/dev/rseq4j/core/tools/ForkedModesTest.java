package dev.rseq4j.core.tools;

import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.testing.Forked;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The diagnostics in fresh JVMs: glibc registration off (this library registers), and forced lock mode. */
class ForkedModesTest {

    private static void assumeLinuxX86_64() {
        assumeTrue(System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64"));
    }

    @Test
    void selfRegistrationWhenGlibcDoesNotRegister() throws Exception {
        assumeLinuxX86_64();
        Forked.Result r = Forked.run(Diagnostics.class, Map.of("GLIBC_TUNABLES", "glibc.pthread.rseq=0"), List.of(),
                "--seconds", "0.4");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().startsWith("mode=RSEQ"), r.output());
        assertTrue(r.output().contains("registrant=RSEQ4J"), r.output());
        assertTrue(r.output().contains("result=PASS"), r.output());
        assertStatusConsistent(r.output());
    }

    @Test
    void unregisteredThreadIsDetectedInsideTheStubAndRegistered() throws Exception {
        assumeLinuxX86_64();
        Forked.Result r = Forked.run(SelfRegistrationProbe.class, Map.of("GLIBC_TUNABLES", "glibc.pthread.rseq=0"),
                List.of());
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("firstMmCid=INDEX_INVALID"), r.output());
        assertTrue(r.output().contains("first=INDEX_INVALID"), r.output());
        assertTrue(r.output().contains("after=COMMITTED"), r.output());
        assertTrue(r.output().contains("invalidIndex=1"), r.output());
        assertTrue(r.output().contains("total=2"), r.output());
    }

    @Test
    void forcedLockMode() throws Exception {
        Forked.Result r = Forked.run(Diagnostics.class, Map.of(), List.of("-Drseq4j.mode=lock"), "--seconds", "0.3");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().startsWith("mode=LOCK reason=\"forced by -Drseq4j.mode=lock\""), r.output());
        assertTrue(r.output().contains("result=PASS"), r.output());
        assertTrue(r.output().contains("aborts=0"), r.output());
        assertStatusConsistent(r.output());
    }

    /** Without native access nothing can be bound: lock mode with the reason, and everything still works. */
    @Test
    void nativeAccessDeniedMeansLockModeThatStillWorks() throws Exception {
        Forked.Result r = Forked.run(Diagnostics.class, Map.of(), List.of("--illegal-native-access=deny"),
                "--seconds", "0.2");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().startsWith("mode=LOCK reason=\"native access denied: run the JVM with --enable-native-access"),
                r.output());
        assertTrue(r.output().contains("check ok") && r.output().contains("result=PASS"), r.output());
        assertStatusConsistent(r.output());
    }

    @Test
    void unknownModeValueMeansLockModeWithReason() throws Exception {
        Forked.Result r = Forked.run(Diagnostics.class, Map.of(), List.of("-Drseq4j.mode=fast"), "--seconds", "0.1");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().startsWith("mode=LOCK reason=\"unknown -Drseq4j.mode=fast"), r.output());
    }

    @Test
    void badArgumentsExitWithUsageNamingTheOption() throws Exception {
        for (String[] args : new String[][] {{"--threads", "0"}, {"--threads", "abc"}, {"--threads", "99999"}}) {
            Forked.Result r = Forked.run(Diagnostics.class, Map.of(), List.of(), args);
            assertEquals(2, r.exitCode(), r.output());
            assertTrue(r.output().contains("--threads must be an integer in [1, " + Diagnostics.MAX_THREADS + "], was "
                    + args[1]) && r.output().contains("usage:"), r.output());
        }
        Forked.Result r = Forked.run(Diagnostics.class, Map.of(), List.of(), "--seconds", "soon");
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains("--seconds must be a number in (0, 3600], was soon"), r.output());
    }

    /** Thousands of threads: the clock starts once all are running, so the run ends (it used to starve). */
    @Test
    void threeThousandThreadsFinish() throws Exception {
        Forked.Result r = Forked.run(Diagnostics.class, Map.of(), List.of(), "--threads", "3000", "--seconds", "0.2",
                "--delay", "100");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("threads=3000") && r.output().contains("result=PASS"), r.output());
        assertStatusConsistent(r.output());
    }

    /** In lock mode every operation is a slow path: slow paths equal operations, never exceed them. */
    @Test
    void lockModeCountsEveryOperationOnce() throws Exception {
        Forked.Result r = Forked.run(Diagnostics.class, Map.of(), List.of("-Drseq4j.mode=lock"), "--seconds", "0.2");
        assertEquals(0, r.exitCode(), r.output());
        Matcher m = Pattern.compile("ops=(\\d+) aborts=\\d+ slowPaths=(\\d+)").matcher(r.output());
        int lines = 0;
        while (m.find()) {
            assertEquals(m.group(1), m.group(2), r.output());
            lines++;
        }
        assertEquals(Arrays.stream(Operation.values()).filter(SelfTest::hasOwnRun).count(), lines, r.output());
    }

    /** A kernel without node_id and mm_cid (feature size capped at 20): RSEQ mode, cpu_id only. */
    @Test
    void olderKernelFeatureSize() throws Exception {
        assumeLinuxX86_64();
        Forked.Result r = Forked.run(Diagnostics.class, Map.of(),
                List.of("-D" + RseqRuntime.FEATURE_SIZE_LIMIT_PROPERTY + "=20"), "--index", "mmcid", "--seconds", "0.1");
        assertEquals(1, r.exitCode(), r.output());
        assertTrue(r.output().startsWith("mode=RSEQ") && r.output().contains("rseq.featureSize=20")
                && r.output().contains("rseq.mmCid=false") && r.output().contains("rseq.nodeId=false")
                && r.output().contains("index=mmcid unavailable"), r.output());
        assertStatusConsistent(r.output());
    }

    /**
     * rseq blocked (a seccomp filter, here strace's fault injection): lock mode, a reason naming ENOSYS,
     * and nothing of rseq reported as available; glibc registration and self-registration alike.
     */
    @Test
    void blockedRseqMeansLockModeAndAConsistentStatus() throws Exception {
        assumeLinuxX86_64();
        assumeTrue(STRACE != null, "strace is not installed (.ci/run installs it)");
        for (Map<String, String> env : List.of(Map.<String, String>of(), Map.of("GLIBC_TUNABLES", "glibc.pthread.rseq=0"))) {
            Forked.Result r = Forked.runWrapped(List.of(STRACE, "-f", "-qq", "-o", "/dev/null", "-e", "trace=rseq",
                    "-e", "inject=rseq:error=ENOSYS"), Diagnostics.class, env, List.of(), "--seconds", "0.1");
            assertEquals(0, r.exitCode(), r.output());
            assertTrue(r.output().startsWith("mode=LOCK reason=\"rseq(2) registration failed with ENOSYS"), r.output());
            assertTrue(r.output().contains("registrant=NONE") && r.output().contains("rseq.featureSize=0")
                    && r.output().contains("rseq.mmCid=false") && r.output().contains("membarrier.rseq=false"), r.output());
            assertTrue(r.output().contains("result=PASS"), r.output());
            assertStatusConsistent(r.output());
        }
    }

    private static final String STRACE = Stream.of("/usr/bin/strace", "/bin/strace")
            .filter(p -> Files.isExecutable(Path.of(p))).findFirst().orElse(null);

    /** The status lines agree with each other: lock mode reports no capability, RSEQ mode derives them from the feature size. */
    static void assertStatusConsistent(String output) {
        Map<String, String> f = new HashMap<>();
        output.lines().takeWhile(l -> !l.startsWith("currentCpu=")).forEach(l -> {
            int eq = l.indexOf('=');
            int end = l.indexOf(' ');
            f.put(l.substring(0, eq), l.substring(eq + 1, end > eq ? end : l.length()));
        });
        int featureSize = Integer.parseInt(f.get("rseq.featureSize"));
        if (f.get("mode").equals("LOCK")) {
            assertEquals("NONE", f.get("registrant"), output);
            assertEquals(0, featureSize, output);
            for (String flag : List.of("rseq.nodeId", "rseq.mmCid", "membarrier.rseq", "membarrier.perCpu", "rseq.sliceExtension")) {
                assertEquals("false", f.get(flag), flag + " in lock mode: " + output);
            }
        } else {
            assertTrue(!f.get("registrant").equals("NONE") && featureSize >= 20, output);
            assertEquals(String.valueOf(featureSize >= 24), f.get("rseq.nodeId"), output);
            assertEquals(String.valueOf(featureSize >= 28), f.get("rseq.mmCid"), output);
            assertEquals("true", f.get("membarrier.rseq"), output);
        }
    }
}
