package dev.rseq4j.core.internal.platform;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@link Libc#allocatePages}'s unmapping action must not hold this library's class loader (issue 9). */
class AllocatePagesTest {

    @Test
    void unmapActionIsMadeOfJdkClassesOnly() {
        assumeTrue(Libc.hasMemoryMapping() && Libc.bindingError().isEmpty(), "mmap available");
        MemorySegment page = Libc.mmapReadWrite(4096);
        Consumer<MemorySegment> action = Libc.unmapAction(4096);
        assertNotSame(Libc.class.getClassLoader(), action.getClass().getClassLoader());
        assertNull(action.getClass().getClassLoader(), "defined by the boot loader, as java.util.function.Consumer: "
                + action.getClass() + " in " + action.getClass().getModule());
    }

    @Test
    void unmapActionUnmaps() throws IOException {
        assumeTrue(Libc.hasMemoryMapping() && Libc.bindingError().isEmpty(), "mmap available");
        MemorySegment pages = Libc.mmapReadWrite(3 * 4096);
        assertTrue(mapped(pages.address()));
        Libc.unmapAction(3 * 4096).accept(MemorySegment.ofAddress(pages.address()));
        assertFalse(mapped(pages.address()), "unmapped (unless another thread mapped the same address since)");
    }

    @Test
    void allocatedPagesAreZeroedAndSized() {
        MemorySegment s = Libc.allocatePages(10_000);
        assertEquals(10_000, s.byteSize());
        assertEquals(0, s.address() % 4096);
        assertEquals(0, s.get(java.lang.foreign.ValueLayout.JAVA_LONG, 9_992));
    }

    /** Whether some mapping of /proc/self/maps covers {@code address}. */
    static boolean mapped(long address) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            if (Long.parseUnsignedLong(range[0], 16) <= address && address < Long.parseUnsignedLong(range[1], 16)) {
                return true;
            }
        }
        return false;
    }
}
