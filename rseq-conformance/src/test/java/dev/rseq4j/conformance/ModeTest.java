package dev.rseq4j.conformance;

import dev.rseq4j.collections.PerCpuRingBuffer;
import dev.rseq4j.core.Rseq;
import org.junit.Test;

import static org.junit.Assert.assertEquals;

/**
 * The suites ran in the mode their execution asked for ({@code -Drseq4j.conformance.mode}): a JVM that
 * fell back to lock mode in the rseq executions would pass them without testing a restartable sequence.
 */
public class ModeTest {
    @Test
    public void theRingRunsInTheModeThisExecutionChose() {
        String mode = System.getProperty("rseq4j.conformance.mode", "RSEQ");
        assertEquals(Rseq.status().toString(), mode, Rseq.status().mode().name());
        assertEquals(mode.equals("RSEQ"), new PerCpuRingBuffer<Integer>(2).restartable());
    }
}
