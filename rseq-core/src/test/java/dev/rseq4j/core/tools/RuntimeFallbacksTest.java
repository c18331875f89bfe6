package dev.rseq4j.core.tools;

import dev.rseq4j.testing.Forked;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The runtime's fallbacks when the platform changes under it, in forked JVMs: membarrier failing
 * after start-up (strace injects EPERM, as a seccomp policy would), self-registration failing for a
 * thread (strace injects EINVAL), and the possible-CPU list unreadable under {@code taskset}.
 * strace counts its {@code when=} injections per thread: the thread that initialises the library
 * makes three membarrier calls and one rseq call at start-up, which stay real.
 */
class RuntimeFallbacksTest {

    private static void assumeLinuxX86_64() {
        assumeTrue(System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64"));
    }

    /** Item 3: membarrier fails with EPERM after start-up; the affinity fence takes over and nothing is lost. */
    @Test
    void membarrierFailingAtRunTimeFallsBackToTheAffinityFence() throws Exception {
        assumeLinuxX86_64();
        Forked.Result r = Forked.runWrapped(List.of(Forked.straceOrSkip(), "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null",
                        "-e", "trace=membarrier", "-e", "inject=membarrier:error=EPERM:when=4+"),
                MembarrierFallbackProbe.class, Map.of(), List.of());
        System.out.println("membarrier-fallback " + r.output());
        assertTrue(r.output().contains("mode=RSEQ"), r.output());
        assertTrue(r.output().contains("membarrierFailure=membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) failed with EPERM"),
                r.output());
        Matcher m = Pattern.compile("fallbackFences=(\\d+)").matcher(r.output());
        assertTrue(m.find() && Long.parseLong(m.group(1)) > 0, r.output());
        assertTrue(r.output().contains("result=PASS"), r.output());
        assertEquals(0, r.exitCode(), r.output());
    }

    /** Item 3: when sched_setaffinity fails too, the error names both causes and no guard stays held. */
    @Test
    void fallbackFenceFailingTooNamesBothCausesAndReleasesTheGuards() throws Exception {
        assumeLinuxX86_64();
        Forked.Result r = Forked.runWrapped(List.of(Forked.straceOrSkip(), "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null",
                        "-e", "trace=membarrier,sched_setaffinity", "-e", "inject=membarrier:error=EPERM:when=4+",
                        "-e", "inject=sched_setaffinity:error=EPERM"),
                MembarrierFallbackProbe.class, Map.of(), List.of(), "expect-failure");
        System.out.println("fallback-failure " + r.output());
        String both = "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) failed with EPERM, and the fallback fence";
        assertTrue(r.output().contains("message=" + both), r.output());
        assertTrue(r.output().contains("sumThenResetMessage=" + both + " (running this thread on every CPU) failed: "
                + "sched_setaffinity(CPU "), r.output());
        assertTrue(r.output().contains(") failed with EPERM"), r.output());
        assertTrue(r.output().contains("guardsFree=true"), r.output());
        assertEquals(0, r.exitCode(), r.output());
    }

    /** Item 9a: a thread that cannot register pays the slow path, not two failing rseq calls per operation. */
    @Test
    void failedSelfRegistrationIsNotRetriedOnEveryOperation() throws Exception {
        assumeLinuxX86_64();
        Path log = Files.createTempFile("rseq4j-strace", ".log");
        try {
            Forked.Result r = Forked.runWrapped(List.of(Forked.straceOrSkip(), "-f", "-qq", "--seccomp-bpf", "-o", log.toString(),
                            "-e", "trace=rseq", "-e", "inject=rseq:error=EINVAL:when=2+"),
                    RegistrationBackoffProbe.class, Map.of("GLIBC_TUNABLES", "glibc.pthread.rseq=0"), List.of());
            long calls = Files.readAllLines(log).stream().filter(l -> l.contains("rseq(")).count();
            System.out.println("registration-backoff rseqCalls=" + calls + " " + r.output());
            assertTrue(r.output().contains("registrant=RSEQ4J"), r.output());
            assertTrue(r.output().contains("sum=" + RegistrationBackoffProbe.ADDS), r.output());
            assertEquals(0, r.exitCode(), r.output());
            assertTrue(calls < 10, "rseq system calls: " + calls + " for " + RegistrationBackoffProbe.ADDS
                    + " operations of an unregistrable thread (expected a handful)\n" + r.output());
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** This machine's possible CPUs, read here (the test's JVM is not limited); skips below 2. */
    private static int realPossibleCpus() throws Exception {
        int real = Integer.parseInt(Files.readString(Path.of("/sys/devices/system/cpu/possible")).trim()
                .replaceAll(".*[-,]", "")) + 1;
        assumeTrue(real >= 2, "needs a machine with at least 2 possible CPUs to tell the counts apart");
        return real;
    }

    /** Item 9b: with the possible-CPU list unreadable, the count comes from the kernel, not from taskset's limit. */
    @Test
    void possibleCpusIgnoresTasksetWhenTheListIsUnreadable() throws Exception {
        assumeTrue(System.getProperty("os.name").equals("Linux"));
        Optional<Path> taskset = Forked.onPath("taskset");
        assumeTrue(taskset.isPresent(), "taskset (util-linux) is not installed");
        int real = realPossibleCpus();
        Forked.Result r = Forked.runWrapped(List.of(taskset.get().toString(), "-c", "0"), PossibleCpusProbe.class,
                Map.of(), List.of("-Drseq4j.internal.possibleCpusFile=/nonexistent/rseq4j/possible"));
        System.out.println("possible-cpus-taskset real=" + real + " " + r.output());
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("availableProcessors=1"), "taskset -c 0 must limit the JVM: " + r.output());
        Matcher m = Pattern.compile("possibleCpus=(\\d+)").matcher(r.output());
        assertTrue(m.find(), r.output());
        assertTrue(Integer.parseInt(m.group(1)) >= real, "possibleCpus must be at least " + real + ": " + r.output());
    }

    /**
     * Item 9b on the real path: where a private mount namespace is allowed (root), an empty file is
     * bind-mounted over {@code /sys/devices/system/cpu/possible} for the forked JVM only.
     */
    @Test
    void possibleCpusIgnoresTasksetWhenTheSysfsListIsEmpty() throws Exception {
        assumeTrue(System.getProperty("os.name").equals("Linux"));
        Optional<Path> unshare = Forked.onPath("unshare");
        Optional<Path> taskset = Forked.onPath("taskset");
        assumeTrue(unshare.isPresent() && taskset.isPresent(), "unshare and taskset (util-linux) are not installed");
        int real = realPossibleCpus();
        Path empty = Files.createTempFile("rseq4j-possible", "");
        try {
            Forked.Result r = Forked.runWrapped(List.of(unshare.get().toString(), "-m", "sh", "-c",
                            "mount --bind " + empty + " /sys/devices/system/cpu/possible || exit 97; exec "
                                    + taskset.get() + " -c 0 \"$@\"", "sh"),
                    PossibleCpusProbe.class, Map.of(), List.of());
            assumeTrue(r.exitCode() != 97 && !r.output().startsWith("unshare:"),
                    "no private mount namespace here (needs root): " + r.output());
            System.out.println("possible-cpus-empty-sysfs " + r.output());
            assertEquals(0, r.exitCode(), r.output());
            assertTrue(r.output().contains("availableProcessors=1"), r.output());
            Matcher m = Pattern.compile("possibleCpus=(\\d+)").matcher(r.output());
            assertTrue(m.find() && Integer.parseInt(m.group(1)) >= real, "possibleCpus must be at least " + real
                    + ": " + r.output());
        } finally {
            Files.deleteIfExists(empty);
        }
    }
}
