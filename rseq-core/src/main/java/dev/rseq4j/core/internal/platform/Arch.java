package dev.rseq4j.core.internal.platform;

import java.util.Optional;

/**
 * The architectures rseq4j knows, with what differs between them below the code generators: the
 * {@code os.arch} names that select one and the system call numbers the core uses (from the
 * kernel's unistd tables; aarch64 uses the generic table). The only table of such numbers: the
 * generators, the runtime and {@link Libc} all read them from here.
 */
public enum Arch {
    X86_64("x86_64", 334, 324, 203, 204),
    AARCH64("aarch64", 293, 283, 122, 123);

    /**
     * {@code __NR_rseq_slice_yield} (Linux 7.0+): 471 in both tables (470 is {@code listns}; early
     * patches of the extension used 470).
     */
    public static final long RSEQ_SLICE_YIELD_SYSCALL = 471;

    private final String name;
    private final long rseq;
    private final long membarrier;
    private final long schedSetaffinity;
    private final long schedGetaffinity;

    Arch(String name, long rseq, long membarrier, long schedSetaffinity, long schedGetaffinity) {
        this.name = name;
        this.rseq = rseq;
        this.membarrier = membarrier;
        this.schedSetaffinity = schedSetaffinity;
        this.schedGetaffinity = schedGetaffinity;
    }

    /** The architecture for an {@code os.arch} value ("amd64" and "x86_64", "aarch64" and "arm64"), if known. */
    public static Optional<Arch> of(String osArch) {
        return switch (osArch) {
            case "amd64", "x86_64" -> Optional.of(X86_64);
            case "aarch64", "arm64" -> Optional.of(AARCH64);
            default -> Optional.empty();
        };
    }

    /** The architecture this JVM runs on, if known. */
    public static Optional<Arch> current() {
        return of(System.getProperty("os.arch", ""));
    }

    /** The name the status reports ("x86_64", "aarch64"); for an unknown {@code os.arch}, that value. */
    public static String displayName(String osArch) {
        return of(osArch).map(Arch::displayName).orElse(osArch);
    }

    public String displayName() {
        return name;
    }

    /** {@code __NR_rseq}. */
    public long rseqSyscall() {
        return rseq;
    }

    /** {@code __NR_membarrier}. */
    public long membarrierSyscall() {
        return membarrier;
    }

    /** {@code __NR_sched_setaffinity}. */
    public long schedSetaffinitySyscall() {
        return schedSetaffinity;
    }

    /** {@code __NR_sched_getaffinity}. */
    public long schedGetaffinitySyscall() {
        return schedGetaffinity;
    }
}
