package dev.rseq4j.core.internal.platform;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.function.LongFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The process-wide registry of installed code ({@link ExecutableMemory}'s class comment): identical
 * code is reused, and a registry value that is absent, forged or stale leads to a fresh installation,
 * never to a crash or to running memory that was not verified.
 */
class ExecutableMemoryRegistryTest {
    private static final int LENGTH = 40;

    /** Position-dependent "code": x86 {@code ret}s and the load address, as relocated code holds addresses. */
    private static LongFunction<byte[]> code(int salt) {
        return address -> {
            byte[] b = new byte[LENGTH];
            java.util.Arrays.fill(b, (byte) 0xC3);
            for (int i = 0; i < 8; i++) {
                b[8 + i] = (byte) (address >>> (8 * i));
            }
            b[20] = (byte) salt;
            return b;
        };
    }

    private String key;

    @BeforeEach
    void requireMemoryMapping() {
        assumeTrue(Libc.hasMemoryMapping() && Libc.bindingError().isEmpty() && Files.isReadable(Path.of("/proc/self/maps")),
                "mmap, mprotect and /proc");
        key = "test-" + UUID.randomUUID();
    }

    private static String value(long address) {
        return Long.toHexString(address) + ":" + LENGTH;
    }

    private long install(int salt) {
        return ExecutableMemory.install(key, LENGTH, code(salt), false);
    }

    /** Registers {@code value} for this test's key, checking that it is refused (so the next install is fresh). */
    private void forge(String value, int salt) {
        System.setProperty(ExecutableMemory.PROPERTY_PREFIX + key, value);
        assertTrue(ExecutableMemory.verified(value, LENGTH, code(salt)).isEmpty(), value);
    }

    /** The install made fresh, correct code (not {@code notAt}) and registered it. */
    private void assertFresh(long address, long notAt, int salt) {
        assertNotEquals(notAt, address);
        assertInstalled(address, salt);
    }

    /** {@code address} holds the right code and is registered. */
    private void assertInstalled(long address, int salt) {
        assertEquals(value(address), System.getProperty(ExecutableMemory.PROPERTY_PREFIX + key));
        assertArrayEquals(code(salt).apply(address), MemorySegment.ofAddress(address).reinterpret(LENGTH).toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void identicalCodeIsInstalledOnceAndReused() {
        long first = install(1);
        assertFresh(first, 0, 1);
        assertEquals(first, ExecutableMemory.verified(value(first), LENGTH, code(1)).orElseThrow());
        assertEquals(first, install(1), "a second loader needing the same code reuses it");
        assertEquals(first, install(1));
    }

    @Test
    void differentBytesUnderTheSameKeyAreNotReused() {
        long first = install(1);
        assertTrue(ExecutableMemory.verified(value(first), LENGTH, code(2)).isEmpty());
        long second = install(2);        // a collision of keys: verification catches it
        assertFresh(second, first, 2);
    }

    @Test
    void unmappedAddressIsNotReused() {
        MemorySegment page = Libc.mmapReadWrite(4096);
        Libc.unmapAction(4096).accept(page);
        forge(value(page.address()), 1);
        assertInstalled(install(1), 1);   // fresh, possibly where the kernel reuses the freed address
        forge(value(0x7ff0_0000_0000L), 1);
        assertFresh(install(1), 0x7ff0_0000_0000L, 1);
        forge(value(0x1000), 1);
        assertFresh(install(1), 0x1000, 1);
    }

    @Test
    void writableMappingWithTheRightBytesIsNotReused() {
        MemorySegment page = Libc.mmapReadWrite(4096);
        MemorySegment.copy(MemorySegment.ofArray(code(1).apply(page.address())), 0, page, 0, LENGTH);
        forge(value(page.address()), 1);
        assertFresh(install(1), page.address(), 1);
    }

    @Test
    void fileBackedExecutableMappingIsNotReused() throws IOException {
        long libraryText = Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .map(l -> l.trim().split("\\s+")).filter(f -> f.length == 6 && f[1].equals("r-xp"))
                .mapToLong(f -> Long.parseUnsignedLong(f[0].substring(0, f[0].indexOf('-')), 16))
                .findFirst().orElseThrow();
        forge(value(libraryText), 1);
        assertFresh(install(1), libraryText, 1);
    }

    @Test
    void otherCodeAtTheAddressIsNotReused() {
        long other = ExecutableMemory.install("test-" + UUID.randomUUID(), LENGTH, code(7), false);
        forge(value(other), 1);
        assertFresh(install(1), other, 1);
    }

    @Test
    void garbageIsNotReused() {
        long good = install(1);
        for (String garbage : List.of("", ":", "zzz", "12", "12:", ":40", "-1000:40", "0:40", "ffffffffffffffff:40",
                "7ffffffffffff000:40", Long.toHexString(good + 1) + ":40", Long.toHexString(good) + ":41",
                Long.toHexString(good) + ":-40", Long.toHexString(good) + ":4x0", "0x" + Long.toHexString(good) + ":40",
                Long.toHexString(good) + ":40:40", "\u0000")) {
            forge(garbage, 1);
            long address = install(1);
            assertFresh(address, good, 1);
            assertNotEquals(garbage, System.getProperty(ExecutableMemory.PROPERTY_PREFIX + key));
        }
        System.clearProperty(ExecutableMemory.PROPERTY_PREFIX + key);
        assertFresh(install(1), good, 1);
    }

    @Test
    void rangeMustLieInOneAnonymousExecutableMapping() {
        List<String> maps = List.of(
                "7f0000000000-7f0000002000 r-xp 00000000 00:00 0 ",
                "7f0000002000-7f0000003000 r-xp 00000000 00:00 0",
                "7f0000010000-7f0000011000 rwxp 00000000 00:00 0",
                "7f0000020000-7f0000021000 r-xp 00000000 08:01 1234    /usr/lib/libc.so.6",
                "7f0000030000-7f0000031000 r--p 00000000 00:00 0",
                "7f0000040000-7f0000041000 r-xp 00000000 00:00 0    [anon:named]");
        assertTrue(ExecutableMemory.insideAnonymousExecutableMapping(0x7f0000000000L, 0x7f0000002000L, maps));
        assertTrue(ExecutableMemory.insideAnonymousExecutableMapping(0x7f0000001000L, 0x7f0000001028L, maps));
        assertFalse(ExecutableMemory.insideAnonymousExecutableMapping(0x7f0000001000L, 0x7f0000002028L, maps),
                "across two mappings");
        assertFalse(ExecutableMemory.insideAnonymousExecutableMapping(0x7f0000010000L, 0x7f0000010028L, maps), "writable");
        assertFalse(ExecutableMemory.insideAnonymousExecutableMapping(0x7f0000020000L, 0x7f0000020028L, maps), "file");
        assertFalse(ExecutableMemory.insideAnonymousExecutableMapping(0x7f0000030000L, 0x7f0000030028L, maps), "not exec");
        assertFalse(ExecutableMemory.insideAnonymousExecutableMapping(0x7f0000040000L, 0x7f0000040028L, maps), "named");
        assertFalse(ExecutableMemory.insideAnonymousExecutableMapping(0x7f0000050000L, 0x7f0000050028L, maps), "unmapped");
        assertFalse(ExecutableMemory.insideAnonymousExecutableMapping(0x1000L, 0x1028L, List.of("garbage", "", "x-y r-xp 0 0 0")));
    }
}
