package dev.rseq4j.core.internal.platform;

import java.lang.foreign.MemorySegment;
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
 */
public final class ExecutableMemory {
    private static final long AT_PAGESZ = 6;

    private ExecutableMemory() {
    }

    /**
     * Maps fresh pages for {@code length} bytes of code, writes {@code bytesAt.apply(address)} (the
     * code relocated for the address it will run at) and makes them executable; returns the address.
     *
     * @param clearInstructionCache whether the architecture needs the I-cache step (arm64: yes)
     */
    public static long install(int length, LongFunction<byte[]> bytesAt, boolean clearInstructionCache) {
        long page = Math.max(4096, Libc.getauxval(AT_PAGESZ));
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
}
