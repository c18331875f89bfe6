package dev.rseq4j.collections;

import dev.rseq4j.core.Rseq;
import dev.rseq4j.testing.Forked;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Redeploys must not leak (issues 9 and 24): loading the library in a fresh class loader per round and
 * using counters, an object pool and a memory pool (closed in half the rounds, dropped open in the
 * others) must let every loader be collected and its classes unloaded, must not map new code per
 * round (installed stubs are shared per process, see {@code ExecutableMemory}), and must leave the
 * process's anonymous mappings flat (each round's memory pool reserves 64 MiB). Each case runs
 * {@link ClassLoaderLeakMain} in a forked JVM, which prints its figures into the build log.
 */
class ClassLoaderLeakTest {
    private static final int ROUNDS = 200;
    private static final List<String> SERIAL_GC = List.of("-XX:+UseSerialGC", "-XX:SoftRefLRUPolicyMSPerMB=0");

    /**
     * Runs the rounds; {@code mustClear} loaders must be collected. The serial-GC runs clear soft
     * references at every collection, so there every loader must go; with the default policy the
     * latest loader may stay softly reachable from a JDK cache (bounded, not a leak).
     */
    private static void deployRounds(List<String> jvmArgs, int mustClear, String expectedMode) throws Exception {
        assumeTrue(System.getProperty("os.name").equals("Linux"), "reads /proc/self/maps");
        Forked.Result r = Forked.run(ClassLoaderLeakMain.class, Map.of(), jvmArgs, String.valueOf(ROUNDS),
                String.valueOf(mustClear));
        System.out.println("ClassLoaderLeakTest " + jvmArgs + ": " + r.output().strip().replace('\n', ' '));
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains(expectedMode), r.output());
    }

    @Test
    void rseqModeSerialGc() throws Exception {
        deployRounds(SERIAL_GC, ROUNDS, "mode=" + Rseq.status().mode());
    }

    @Test
    void lockModeSerialGc() throws Exception {
        List<String> lock = new ArrayList<>(SERIAL_GC);
        lock.add("-Drseq4j.mode=lock");
        deployRounds(lock, ROUNDS, "mode=LOCK");
    }

    @Test
    void rseqModeDefaultGc() throws Exception {
        deployRounds(List.of(), ROUNDS - 10, "mode=" + Rseq.status().mode());
    }

    /**
     * The negative control: memory pools whose arenas stay open beyond their loaders (the close token
     * kept, the pool dropped) must be caught, and by the mapped bytes: 64 MiB per round.
     */
    @Test
    void negativeControlArenasKeptOpenAreCaught() throws Exception {
        int rounds = 20;
        Forked.Result r = Forked.run(ClassLoaderLeakMain.class, Map.of(), SERIAL_GC, String.valueOf(rounds), "0",
                "keepArenas");
        System.out.println("ClassLoaderLeakTest negative control: " + r.output().strip().replace('\n', ' '));
        assertEquals(1, r.exitCode(), r.output());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("mappedMiBAfterFirst=(\\d+) mappedMiBAtEnd=(\\d+)")
                .matcher(r.output());
        assertTrue(m.find(), r.output());
        long grown = Long.parseLong(m.group(2)) - Long.parseLong(m.group(1));
        assertTrue(grown >= (rounds - 1) * 64L, "every kept pool's 64 MiB range shows: grew " + grown + " MiB");
    }
}
