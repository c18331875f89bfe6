package dev.rseq4j.core.internal.platform;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.LongFunction;

/**
 * Installs generated code: mmap read+write, copy the relocated bytes, mprotect read+execute. A page
 * is never writable and executable at once, and installed code is never unmapped (a thread may be
 * inside it, and the kernel may still hold a pointer to one of its {@code rseq_cs} descriptors in a
 * thread's {@code rseq_cs} field).
 *
 * <h2>Instruction-cache coherence</h2>
 * x86_64 keeps instruction fetch coherent with stores, and {@code mprotect} is a serializing system
 * call: nothing more is needed. arm64 does not: the bytes written through the data cache must be
 * cleaned to the point of unification and the I-cache invalidated before any CPU executes them.
 * Why what we do is sufficient:
 * <ol>
 *   <li>the code is written once, before its pages are ever executable, and never modified;</li>
 *   <li>on arm64 we call libgcc's {@code __clear_cache} over the range (DC CVAU, DSB ISH, IC IVAU,
 *       DSB ISH, ISB: broadcast to the inner-shareable domain, so to every CPU);</li>
 *   <li>independently, arm64 Linux performs the same maintenance when a user page first becomes
 *       executable ({@code set_pte_at} calls {@code __sync_icache_dcache} for a page whose
 *       {@code PG_dcache_clean} bit is clear, as it is for a freshly allocated anonymous page), so
 *       the RW to RX {@code mprotect} is enough even where libgcc cannot be loaded;</li>
 *   <li>no CPU can hold stale instructions for these addresses: they were never executable before.
 *       The installing thread's return from {@code mprotect} is a context synchronization event;
 *       other threads reach the code only through the published method handles.</li>
 * </ol>
 * The emulated-kernel harness does the same ({@code __builtin___clear_cache}, then mprotect).
 *
 * <h2>One copy per process: the registry</h2>
 * Code that is never unmapped must not be mapped again by every class loader that loads this library
 * (an application server redeploying it would map new pages on every round, issue 9). So installed
 * code is shared per process, keyed by its content: the registry is the system properties
 * {@value #PROPERTY_PREFIX}{@code <key>} = {@code <hex address>:<decimal length>}, where the key
 * (from the caller, {@code GeneratedCode.contentKey()}) names the architecture and a hash of the
 * unrelocated bytes and relocation inputs. System properties are the one mutable map that every class
 * loader of the process sees without sharing a class of ours.
 *
 * <p>A property is a claim, never trusted: anyone can set one. Before reusing it, {@link #install}
 * verifies it without ever reading unverified memory in-process: the value must parse; the range
 * {@code [address, address + length)} must be page aligned and lie inside one mapping of
 * {@code /proc/self/maps} with permissions {@code r-xp} and no backing file; then the bytes there,
 * read through {@code /proc/self/mem} (a read of an unmapped address fails with an I/O error instead of
 * faulting), must equal the code relocated for that address. Only then is the address reused; a
 * hash collision or a forged value thus costs at most a fresh installation, never a crash or foreign
 * code. Anything else (absent, malformed, not mapped, writable, file-backed, different bytes, no
 * {@code /proc}) installs fresh code and points the property at it.
 *
 * <p>The race, accepted: two class loaders installing the same code at the same instant may each map
 * their own copy (the last one to set the property wins, and later loaders reuse that one). The waste
 * is bounded by the number of loaders racing, once per content key; a code's length is a few pages.
 * Within one class loader, installations are serialized. On arm64 a reused mapping needs no
 * cache maintenance: its installer cleaned it for every CPU before publishing it, and the bytes
 * never change.
 */
public final class ExecutableMemory {
    /** The prefix of the registry's system properties; see the class comment. */
    public static final String PROPERTY_PREFIX = "rseq4j.internal.code.";

    private ExecutableMemory() {
    }

    /**
     * Returns the address of {@code length} bytes of code {@code bytesAt.apply(address)} (the code
     * relocated for the address it runs at), executable: code of this {@code key} that this process
     * installed before, from any class loader, once verified (see the class comment); else fresh pages
     * written, made executable and registered under {@code key}.
     *
     * @param key                   identifies the content (architecture, hash of the code and its relocation
     *                              inputs): equal keys must mean equal {@code bytesAt} results
     * @param clearInstructionCache whether the architecture needs the I-cache step (arm64: yes)
     */
    public static synchronized long install(String key, int length, LongFunction<byte[]> bytesAt,
                                            boolean clearInstructionCache) {
        String property = PROPERTY_PREFIX + key;
        OptionalLong reusable = verified(System.getProperty(property), length, bytesAt);
        if (reusable.isPresent()) {
            return reusable.getAsLong();
        }
        long address = installFresh(length, bytesAt, clearInstructionCache);
        System.setProperty(property, Long.toHexString(address) + ":" + length);
        return address;
    }

    /**
     * Maps fresh pages for {@code length} bytes of code, writes {@code bytesAt.apply(address)} and
     * makes them executable; returns the address. Registers nothing.
     */
    static long installFresh(int length, LongFunction<byte[]> bytesAt, boolean clearInstructionCache) {
        long page = Libc.pageSize();
        long size = (length + page - 1) / page * page;
        MemorySegment segment = Libc.mmapReadWrite(size);
        byte[] bytes = bytesAt.apply(segment.address());
        if (bytes.length != length) {
            throw new IllegalArgumentException("code length " + bytes.length + " differs from the announced " + length);
        }
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, segment, 0, bytes.length);
        if (clearInstructionCache) {
            Libc.clearCache(segment);
        }
        Libc.mprotect(segment, Libc.PROT_READ | Libc.PROT_EXEC);
        return segment.address();
    }

    /**
     * The address a registry value names, if the code there is exactly {@code bytesAt} of that address
     * in an anonymous read+execute mapping; empty otherwise (never throws, never reads memory the
     * checks did not establish as mapped, and then only through {@code /proc/self/mem}).
     */
    static OptionalLong verified(String value, int length, LongFunction<byte[]> bytesAt) {
        if (value == null || length <= 0) {
            return OptionalLong.empty();
        }
        long address;
        try {
            int colon = value.indexOf(':');
            if (colon < 0 || Integer.parseInt(value.substring(colon + 1)) != length) {
                return OptionalLong.empty();
            }
            address = Long.parseUnsignedLong(value.substring(0, colon), 16);
        } catch (NumberFormatException | IndexOutOfBoundsException malformed) {
            return OptionalLong.empty();
        }
        // User-space addresses are positive; the end must not overflow.
        if (address <= 0 || address % Libc.pageSize() != 0 || address > Long.MAX_VALUE - length) {
            return OptionalLong.empty();
        }
        try {
            if (!insideAnonymousExecutableMapping(address, address + length, Files.readAllLines(Path.of("/proc/self/maps")))) {
                return OptionalLong.empty();
            }
            byte[] expected = bytesAt.apply(address);
            byte[] actual = readOwnMemory(address, length);
            return expected.length == length && Arrays.equals(expected, actual)
                    ? OptionalLong.of(address) : OptionalLong.empty();
        } catch (IOException | RuntimeException unverifiable) {
            return OptionalLong.empty();
        }
    }

    /**
     * Whether {@code [start, end)} lies inside one line of {@code maps} (the format of
     * {@code /proc/self/maps}) with permissions {@code r-xp} and no path (anonymous).
     */
    static boolean insideAnonymousExecutableMapping(long start, long end, List<String> maps) {
        for (String line : maps) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 5) {
                continue;
            }
            int dash = f[0].indexOf('-');
            if (dash < 0) {
                continue;
            }
            long from;
            long to;
            try {
                from = Long.parseUnsignedLong(f[0].substring(0, dash), 16);
                to = Long.parseUnsignedLong(f[0].substring(dash + 1), 16);
            } catch (NumberFormatException e) {
                continue;
            }
            if (Long.compareUnsigned(from, start) <= 0 && Long.compareUnsigned(start, to) < 0) {
                // the one mapping that holds start: it must hold the whole range and be anonymous code
                return Long.compareUnsigned(end, to) <= 0 && f[1].equals("r-xp") && f.length == 5 && f[4].equals("0");
            }
        }
        return false;
    }

    /** {@code length} bytes at {@code address} of this process, read with pread on /proc/self/mem. */
    private static byte[] readOwnMemory(long address, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        try (FileChannel mem = FileChannel.open(Path.of("/proc/self/mem"), StandardOpenOption.READ)) {
            while (buffer.hasRemaining()) {
                if (mem.read(buffer, address + buffer.position()) <= 0) {
                    throw new IOException("short read of /proc/self/mem at 0x" + Long.toHexString(address));
                }
            }
        }
        return buffer.array();
    }
}
