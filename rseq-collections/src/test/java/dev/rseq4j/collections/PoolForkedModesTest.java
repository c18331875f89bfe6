package dev.rseq4j.collections;

import dev.rseq4j.testing.Forked;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The pools, rings and locks in fresh JVMs ({@link PoolProbe}): forced lock mode, where every operation
 * takes its region's guard; self-registration (glibc's rseq registration off), where every new thread
 * registers on its first operation; and membarrier failing at run time. Each prints the probe's {@code POOLS ...} line.
 */
class PoolForkedModesTest {

    private static Map<String, String> probe(Map<String, String> env, List<String> jvmArgs) throws Exception {
        return parse(Forked.run(PoolProbe.class, env, jvmArgs));
    }

    private static Map<String, String> parse(Forked.Result r) {
        String line = r.output().lines().filter(l -> l.startsWith("POOLS ")).findFirst()
                .orElseThrow(() -> new AssertionError("no POOLS line, exit " + r.exitCode() + ":\n" + r.output()));
        System.out.println(line);
        assertEquals(0, r.exitCode(), r.output());
        Map<String, String> f = new HashMap<>();
        for (String kv : line.substring("POOLS ".length()).split(" ")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                f.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        for (String part : List.of("earlyThreads", "freeList", "objectPool", "memoryPool", "virtualThreads", "ring",
                "recordRing", "lock", "shards")) {
            assertEquals("PASS", f.get(part), part + ": " + line);
        }
        return f;
    }

    @Test
    void lockModeKeepsExactAccounting() throws Exception {
        Map<String, String> f = probe(Map.of(), List.of("-Drseq4j.mode=lock"));
        assertEquals("LOCK", f.get("mode"));
        assertEquals("0", f.get("aborts"), "nothing to abort in lock mode: " + f);
        assertTrue(Long.parseLong(f.get("slowPaths")) > 0, "every operation takes the guard: " + f);
    }

    /**
     * membarrier fails with EPERM after start-up (a seccomp policy installed later): the slow paths and
     * the lock's parking waiters, whose wake-up handshake rests on a process-wide fence, fall back to
     * the affinity fence, and everything still counts exactly.
     */
    @Test
    void membarrierFailingAtRunTimeKeepsExactAccounting() throws Exception {
        assumeTrue(System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64"));
        Map<String, String> f = parse(Forked.runWrapped(List.of(Forked.straceOrSkip(), "-f", "-qq", "--seccomp-bpf",
                "-o", "/dev/null", "-e", "trace=membarrier", "-e", "inject=membarrier:error=EPERM:when=4+"),
                PoolProbe.class, Map.of(), List.of()));
        assertEquals("RSEQ", f.get("mode"), f.toString());
        assertTrue(Long.parseLong(f.get("fallbackFences")) > 0, "the affinity fence must have run: " + f);
    }

    /**
     * Every slow path's fence fails (membarrier from its fourth call, and the affinity fallback denied),
     * so operations throw: each structure retries its failed calls and must still account exactly
     * ({@link FenceDeniedProbe}), so nothing an operation changed before throwing stays changed.
     */
    @Test
    void anOperationThatThrowsLeavesNothingStranded() throws Exception {
        assumeTrue(System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64"));
        Forked.Result r = Forked.runWrapped(List.of(Forked.straceOrSkip(), "-f", "-qq", "--seccomp-bpf",
                "-o", "/dev/null", "-e", "trace=membarrier,sched_setaffinity",
                "-e", "inject=membarrier:error=EPERM:when=4+", "-e", "inject=sched_setaffinity:error=EPERM"),
                FenceDeniedProbe.class, Map.of(), List.of());
        String line = r.output().lines().filter(l -> l.startsWith("STRANDED ")).findFirst()
                .orElseThrow(() -> new AssertionError("no STRANDED line, exit " + r.exitCode() + ":\n" + r.output()));
        System.out.println(line);
        assertTrue(line.startsWith("STRANDED mode=RSEQ "), line);
        for (String part : List.of("freeList", "objectPool", "memoryPool", "ring", "recordRing", "counter", "perCpu")) {
            assertTrue(line.contains(" " + part + "=PASS(thrown="), part + ": " + line);
        }
        assertEquals(0, r.exitCode(), r.output());
    }

    @Test
    void selfRegistrationKeepsExactAccounting() throws Exception {
        assumeTrue(System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64"));
        Map<String, String> f = probe(Map.of("GLIBC_TUNABLES", "glibc.pthread.rseq=0"), List.of());
        assertEquals("RSEQ", f.get("mode"), f.toString());
        assertEquals("RSEQ4J", f.get("registrant"), f.toString());
        assertTrue(Long.parseLong(f.get("invalidIndex")) >= 4, "the 4 threads started before initialisation registered on their first operation: " + f);
    }
}
