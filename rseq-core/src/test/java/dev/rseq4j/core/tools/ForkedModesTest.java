package dev.rseq4j.core.tools;

import dev.rseq4j.testing.Forked;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

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
    }

    @Test
    void unknownModeValueMeansLockModeWithReason() throws Exception {
        Forked.Result r = Forked.run(Diagnostics.class, Map.of(), List.of("-Drseq4j.mode=fast"), "--seconds", "0.1");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().startsWith("mode=LOCK reason=\"unknown -Drseq4j.mode=fast"), r.output());
    }

    @Test
    void badArgumentsExitWithUsage() throws Exception {
        Forked.Result r = Forked.run(Diagnostics.class, Map.of(), List.of(), "--threads", "0");
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains("--threads must be > 0") && r.output().contains("usage:"), r.output());
    }
}
