package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.platform.Libc;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The pieces of the possible-CPU fallback, and errno names (the forked end-to-end runs are in RuntimeFallbacksTest). */
class PossibleCpusFallbackTest {

    @Test
    void highestCpuinfoProcessor() {
        String text = "processor\t: 0\nvendor_id\t: X\nmodel name\t: processor: 9 in a name\n\n"
                + "processor\t: 7\nflags\t\t: fpu\n\nprocessor\t: 3\n";
        assertEquals(7, RseqRuntime.highestCpuinfoProcessor(text));
        assertThrows(IllegalArgumentException.class, () -> RseqRuntime.highestCpuinfoProcessor("Hardware : x\n"));
    }

    /** The kernel's cpumask is whole 64-bit words and covers every possible CPU. */
    @Test
    void kernelCpumaskCoversThePossibleCpus() throws Exception {
        assumeTrue(System.getProperty("os.name").equals("Linux") && Libc.hasSyscall());
        int bits = RseqRuntime.kernelCpumaskBits();
        int possible = RseqRuntime.parseCpuList(Files.readString(Path.of("/sys/devices/system/cpu/possible")));
        assertTrue(bits > 0 && bits % 64 == 0 && bits >= possible, "cpumask bits " + bits + ", possible " + possible);
    }

    @Test
    void errnoNames() {
        assertEquals("EPERM", Libc.errnoName(Libc.EPERM));
        assertEquals("EINVAL", Libc.errnoName(22));
        assertEquals("ENOSYS", Libc.errnoName(38));
        assertEquals("errno 4095", Libc.errnoName(4095));
    }
}
