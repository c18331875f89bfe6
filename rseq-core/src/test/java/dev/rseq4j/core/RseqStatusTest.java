package dev.rseq4j.core;

import dev.rseq4j.core.internal.runtime.RseqRuntime;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class RseqStatusTest {

    private static boolean linuxX86_64() {
        return System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64");
    }

    @Test
    void rseqModeWithGlibcRegistrationOnThisKindOfMachine() {
        assumeTrue(linuxX86_64(), "rseq mode is expected on Linux x86_64 only");
        RseqStatus s = Rseq.status();
        assertEquals(RseqStatus.Mode.RSEQ, s.mode(), s.toString());
        assertTrue(s.lockReason().isEmpty());
        assertEquals(RseqStatus.Registrant.GLIBC, s.registrant(), "glibc 2.35+ registers every thread");
        assertEquals("x86_64", s.architecture());
        assertTrue(s.featureSize() >= 20, "feature size " + s.featureSize());
        assertTrue(s.membarrierRseq());
    }

    @Test
    void statusToStringHasGreppableFirstLine() {
        String text = Rseq.status().toString();
        assertTrue(text.startsWith("mode=" + Rseq.status().mode()), text);
        assertTrue(text.contains("registrant=") && text.contains("possibleCpus="), text);
    }

    @Test
    void locationQueriesAreInRange() {
        int possible = Rseq.possibleCpus();
        assertTrue(possible >= Runtime.getRuntime().availableProcessors());
        int cpu = Rseq.currentCpu();
        assertTrue(cpu >= 0 && cpu < possible, "cpu " + cpu);
        int cid = Rseq.concurrencyId();
        assertTrue(Rseq.status().mmCid() ? cid >= 0 && cid < possible : cid == Rseq.UNAVAILABLE, "mm_cid " + cid);
        int node = Rseq.currentNumaNode();
        assertTrue(Rseq.status().nodeId() ? node >= 0 : node == Rseq.UNAVAILABLE, "node " + node);
    }

    @Test
    void possibleCpuListParsing() throws Exception {
        var parse = RseqRuntime.class.getDeclaredMethod("parseCpuList", String.class);
        parse.setAccessible(true);
        assertEquals(1, parse.invoke(null, "0\n"));
        assertEquals(2, parse.invoke(null, "0-1\n"));
        assertEquals(12, parse.invoke(null, "0-3,8-11"));
        assertEquals(6, parse.invoke(null, "0,5"));
    }
}
