package dev.rseq4j.core.internal.platform;

import dev.rseq4j.core.internal.codegen.GeneratedCode;

import java.lang.foreign.MemorySegment;

/**
 * Installs generated code: mmap read+write, copy the relocated bytes, mprotect read+execute. A page
 * is never writable and executable at once, and installed code is never unmapped (a thread may be
 * inside it, and the kernel may still hold a pointer to one of its {@code rseq_cs} descriptors in a
 * thread's {@code rseq_cs} field).
 */
public final class ExecutableMemory {
    private static final long AT_PAGESZ = 6;

    private ExecutableMemory() {
    }

    /** Installs {@code code} and returns the address of its first byte. */
    public static long install(GeneratedCode code) {
        long page = Math.max(4096, Libc.getauxval(AT_PAGESZ));
        long size = (code.code().length + page - 1) / page * page;
        MemorySegment segment = Libc.mmapReadWrite(size);
        byte[] bytes = code.relocated(segment.address());
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, segment, 0, bytes.length);
        // NOTE: on x86_64 instruction fetch is coherent with data stores, and mprotect is a
        // serializing system call; arm64 needs an explicit cache maintenance step (see its generator).
        Libc.mprotect(segment, Libc.PROT_READ | Libc.PROT_EXEC);
        return segment.address();
    }
}
