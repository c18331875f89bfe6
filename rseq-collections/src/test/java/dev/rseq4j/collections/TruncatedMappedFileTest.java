package dev.rseq4j.collections;

import dev.rseq4j.testing.Forked;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A caller's memory that faults must not crash the JVM (issue 29.1): a record written from a slice of
 * a mapped file that was truncated under it throws {@link InternalError}, as {@code MemorySegment.copy}
 * does, and the ring stays usable and loses nothing. In a fresh JVM ({@link TruncatedMappedFileProbe}),
 * since the failure this guards against is the death of the process; in RSEQ mode (the generated
 * stub's path) and in lock mode.
 */
class TruncatedMappedFileTest {
    @ParameterizedTest
    @ValueSource(strings = {"auto", "lock"})
    void aTruncatedMappedSourceThrowsAndTheRingLosesNothing(String mode) throws Exception {
        Forked.Result r = Forked.run(TruncatedMappedFileProbe.class, Map.of(), List.of("-Drseq4j.mode=" + mode));
        String line = r.output().lines().filter(l -> l.startsWith("TRUNCATED ")).findFirst()
                .orElseThrow(() -> new AssertionError("the JVM died (exit " + r.exitCode() + "):\n" + r.output()));
        System.out.println(line);
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(line.contains(mode.equals("lock") ? " mode=LOCK " : " mode=RSEQ "), line);
        assertTrue(line.contains(" thrown=InternalError "), line);
        assertTrue(line.contains(" afterwards=true "), line);
        assertTrue(line.contains(" lost=0 "), line);
    }
}
