package dev.rseq4j.core.internal.platform;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandleProxies;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The handful of C library functions the core needs, bound through FFM.
 *
 * <p>Every binding is optional: on a platform without a function (musl has no {@code __rseq_offset},
 * macOS has no {@code sched_getcpu}) the corresponding {@link Optional} is empty and callers decide
 * what that means (usually: lock mode, with a reason). Nothing here throws during class
 * initialisation; failures to bind are recorded as absent functions.
 *
 * <p>System calls go through glibc's variadic {@code syscall(2)} wrapper so that {@code errno} can be
 * captured with {@link Linker.Option#captureCallState}. Results are returned as {@link SyscallResult}.
 */
public final class Libc {

    /** Why binding failed (no FFM linker on this platform, native access denied), if it did. */
    private static volatile String bindingError;
    private static final Linker LINKER = linker();
    private static final SymbolLookup LOOKUP = lookup();
    private static final StructLayout CALL_STATE = LINKER == null ? null : Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE == null ? null
            : CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    // errno values (asm-generic, same on x86_64 and aarch64).
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int ENXIO = 6;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EINVAL = 22;
    public static final int ENOSYS = 38;
    public static final int EOPNOTSUPP = 95;
    /** The kernel-internal ENOTSUPP that prctl(PR_RSEQ_SLICE_EXTENSION) leaks to user space. */
    public static final int ENOTSUPP = 524;

    // mmap/mprotect constants (Linux).
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    /** Do not account the mapping against the commit limit until it is made writable (x86_64 and aarch64). */
    public static final int MAP_NORESERVE = 0x4000;

    // getauxval keys.
    public static final long AT_RSEQ_FEATURE_SIZE = 27;

    private static final Optional<MethodHandle> SYSCALL4 = downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
    private static final Optional<MethodHandle> PRCTL = downcall("prctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
    private static final Optional<MethodHandle> GETAUXVAL = downcall("getauxval",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG));
    private static final Optional<MethodHandle> SCHED_GETCPU = downcall("sched_getcpu",
            FunctionDescriptor.of(JAVA_INT), Linker.Option.critical(false));
    private static final Optional<MethodHandle> MMAP = downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG),
            Linker.Option.captureCallState("errno"));
    private static final Optional<MethodHandle> MUNMAP = downcall("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final Optional<MethodHandle> CLEAR_CACHE = downcall("__clear_cache",
            FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
    private static final Optional<MethodHandle> MPROTECT = downcall("mprotect",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT),
            Linker.Option.captureCallState("errno"));

    private Libc() {
    }

    /** A system call's raw result: {@code value} is the return value, {@code errno} is set when it is -1. */
    public record SyscallResult(long value, int errno) {
        public boolean ok() {
            return value != -1;
        }
    }

    private static Linker linker() {
        try {
            return Linker.nativeLinker();
        } catch (RuntimeException | Error e) {
            bindingError = "no FFM native linker on this platform: " + e;
            return null;
        }
    }

    private static SymbolLookup lookup() {
        if (LINKER == null) {
            return name -> Optional.empty();
        }
        try {
            SymbolLookup lookup = LINKER.defaultLookup();
            // __rseq_* live in the dynamic loader on glibc; look there too in case the default
            // lookup does not reach it.
            for (String lib : new String[] {"libc.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libgcc_s.so.1"}) {
                try {
                    lookup = lookup.or(SymbolLookup.libraryLookup(lib, Arena.global()));
                } catch (IllegalArgumentException | UnsupportedOperationException absent) {
                    // not this platform's library
                }
            }
            return lookup;
        } catch (RuntimeException | Error e) {
            bindingError = describe("cannot look up C library symbols", e);
            return name -> Optional.empty();
        }
    }

    private static Optional<MethodHandle> downcall(String name, FunctionDescriptor fd, Linker.Option... options) {
        try {
            return LOOKUP.find(name).map(address -> LINKER.downcallHandle(address, fd, options));
        } catch (RuntimeException | Error e) {
            // e.g. IllegalCallerException when native access is denied to this module
            bindingError = describe("cannot bind " + name, e);
            return Optional.empty();
        }
    }

    private static String describe(String what, Throwable e) {
        if (e instanceof IllegalCallerException) {
            return "native access denied: run the JVM with --enable-native-access=dev.rseq4j.core "
                    + "(module path) or --enable-native-access=ALL-UNNAMED (class path) [" + e.getMessage() + "]";
        }
        return what + ": " + e;
    }

    /** Why a binding failed, or empty when every failure was a simply absent function. */
    public static Optional<String> bindingError() {
        return Optional.ofNullable(bindingError);
    }

    /** The address of a data symbol, or empty when the C library does not export it. */
    private static Optional<MemorySegment> symbol(String name) {
        try {
            return LOOKUP.find(name);
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    public static boolean hasSyscall() {
        return SYSCALL4.isPresent();
    }

    /**
     * The symbolic name of an errno value ({@code "EPERM"}) for messages, or {@code "errno N"} for a
     * value outside the few this library meets. Messages name errors because numbers mean nothing to
     * a reader and differ between architectures for the rarer values.
     */
    public static String errnoName(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case ESRCH -> "ESRCH";
            case EINTR -> "EINTR";
            case ENXIO -> "ENXIO";
            case EBADF -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case ENOMEM -> "ENOMEM";
            case EACCES -> "EACCES";
            case EFAULT -> "EFAULT";
            case EBUSY -> "EBUSY";
            case EINVAL -> "EINVAL";
            case ENOSYS -> "ENOSYS";
            case EOPNOTSUPP -> "EOPNOTSUPP";
            case ENOTSUPP -> "ENOTSUPP";
            default -> "errno " + errno;
        };
    }

    /** {@code syscall(number, a, b, c, d)}; unused arguments are passed as 0. */
    public static SyscallResult syscall(long number, long a, long b, long c, long d) {
        MethodHandle mh = SYSCALL4.orElseThrow(() -> new UnsupportedOperationException("no syscall(2) in the C library"));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long r = (long) mh.invokeExact(state, number, a, b, c, d);
            return new SyscallResult(r, r == -1 ? (int) ERRNO.get(state, 0L) : 0);
        } catch (Throwable t) {
            throw rethrowUnchecked(t);
        }
    }

    /**
     * The raw {@code sched_getaffinity(0, mask.byteSize(), mask)} system call for the calling thread.
     * Unlike glibc's wrapper (which returns 0), the raw call returns the number of bytes the kernel
     * wrote: its cpumask size, {@code nr_cpu_ids} rounded up to a multiple of 64 bits (or
     * {@code NR_CPUS} on kernels that keep cpumasks on the stack). EINVAL means {@code mask} is
     * smaller than that. Empty where there is no {@code syscall(2)} or no syscall number for this
     * architecture.
     *
     * @param mask native memory the caller owns and keeps alive; a multiple of 8 bytes
     */
    public static Optional<SyscallResult> schedGetaffinity(MemorySegment mask) {
        checkMask(mask);
        return Arch.current().filter(a -> hasSyscall())
                .map(a -> syscall(a.schedGetaffinitySyscall(), 0, mask.byteSize(), mask.address(), 0L, mask));
    }

    /**
     * The raw {@code sched_setaffinity(0, mask.byteSize(), mask)} for the calling thread: 0, or -1
     * with EINVAL when no CPU of {@code mask} is both online and allowed by the thread's cpuset. When
     * it returns 0 the thread already runs on a CPU of the mask (the kernel migrates the caller before
     * returning). Empty where the call is unavailable, as for {@link #schedGetaffinity}.
     *
     * @param mask native memory the caller owns and keeps alive; a multiple of 8 bytes
     */
    public static Optional<SyscallResult> schedSetaffinity(MemorySegment mask) {
        checkMask(mask);
        return Arch.current().filter(a -> hasSyscall())
                .map(a -> syscall(a.schedSetaffinitySyscall(), 0, mask.byteSize(), mask.address(), 0L, mask));
    }

    /** A cpumask buffer must be native (the kernel gets its address) and whole unsigned longs. */
    private static void checkMask(MemorySegment mask) {
        if (!mask.isNative() || mask.byteSize() == 0 || mask.byteSize() % 8 != 0) {
            throw new IllegalArgumentException("a cpumask must be native memory of a positive multiple of 8 bytes: "
                    + mask);
        }
    }

    /** {@code syscall(number, a, b, c, d)} whose arguments point into {@code keepAlive}. */
    private static SyscallResult syscall(long number, long a, long b, long c, long d, MemorySegment keepAlive) {
        try {
            return syscall(number, a, b, c, d);
        } finally {
            Reference.reachabilityFence(keepAlive);
        }
    }

    /** {@code prctl(option, a, b, c, d)}, or empty when prctl is not available. */
    public static Optional<SyscallResult> prctl(int option, long a, long b, long c, long d) {
        if (PRCTL.isEmpty()) {
            return Optional.empty();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) PRCTL.get().invokeExact(state, option, a, b, c, d);
            return Optional.of(new SyscallResult(r, r == -1 ? (int) ERRNO.get(state, 0L) : 0));
        } catch (Throwable t) {
            throw rethrowUnchecked(t);
        }
    }

    /** {@code getauxval(key)}; 0 when the key is unknown or getauxval is missing. */
    public static long getauxval(long key) {
        if (GETAUXVAL.isEmpty()) {
            return 0;
        }
        try {
            return (long) GETAUXVAL.get().invokeExact(key);
        } catch (Throwable t) {
            throw rethrowUnchecked(t);
        }
    }

    /** {@code sched_getcpu()}, or -1 when it is not available or fails. */
    public static int schedGetcpu() {
        if (SCHED_GETCPU.isEmpty()) {
            return -1;
        }
        try {
            return (int) SCHED_GETCPU.get().invokeExact();
        } catch (Throwable t) {
            throw rethrowUnchecked(t);
        }
    }

    /** Maps {@code size} bytes of private anonymous read+write memory that is never unmapped. */
    public static MemorySegment mmapReadWrite(long size) {
        return mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    }

    /**
     * Reserves {@code size} bytes (rounded up to pages) of address space with no access
     * ({@code PROT_NONE}, not committed: make parts usable with {@link #mprotect}), unmapped when
     * {@code arena} is closed. The unmap action is of JDK classes only (see {@link #allocatePages}).
     *
     * @throws UnsupportedOperationException where this is unavailable ({@link #canReserve()})
     */
    public static MemorySegment reserve(long size, Arena arena) {
        if (!canReserve()) {
            throw new UnsupportedOperationException("no mmap, mprotect and munmap in the C library");
        }
        long mapped = (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
        MemorySegment range = mmap(mapped, 0 /* PROT_NONE */, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
        return range.reinterpret(mapped, arena, UNMAP_ACTIONS.computeIfAbsent(mapped, Libc::unmapAction));
    }

    private static MemorySegment mmap(long size, int prot, int flags) {
        MethodHandle mh = MMAP.orElseThrow(() -> new UnsupportedOperationException("no mmap in the C library"));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment p = (MemorySegment) mh.invokeExact(state, MemorySegment.NULL, size, prot, flags, -1, 0L);
            if (p.address() == -1L || p.address() == 0L) {
                throw new IllegalStateException("mmap(" + size + ") failed with " + errnoName((int) ERRNO.get(state, 0L)));
            }
            return p.reinterpret(size);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrowUnchecked(t);
        }
    }

    /** {@code mprotect(segment, prot)}; throws with errno on failure. */
    public static void mprotect(MemorySegment segment, int prot) {
        MethodHandle mh = MPROTECT.orElseThrow(() -> new UnsupportedOperationException("no mprotect in the C library"));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) mh.invokeExact(state, segment, segment.byteSize(), prot);
            if (r != 0) {
                throw new IllegalStateException("mprotect(" + prot + ") failed with " + errnoName((int) ERRNO.get(state, 0L)));
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrowUnchecked(t);
        }
    }

    /**
     * libgcc's {@code __clear_cache(begin, end)}: makes instruction fetch see data written to
     * {@code segment} (on arm64: clean the D-cache to the point of unification, invalidate the I-cache,
     * barriers). Returns false when libgcc is not loadable; see ExecutableMemory for why that is safe.
     */
    public static boolean clearCache(MemorySegment segment) {
        if (CLEAR_CACHE.isEmpty()) {
            return false;
        }
        try {
            CLEAR_CACHE.get().invokeExact(segment, segment.asSlice(segment.byteSize()));
            return true;
        } catch (Throwable t) {
            throw rethrowUnchecked(t);
        }
    }

    /**
     * Zeroed read+write pages for data, of exactly {@code size} bytes rounded up to pages, unmapped
     * when the returned segment's automatic arena becomes unreachable. Where mmap is unavailable
     * (another OS, or native access denied), a page-aligned allocation from the Java runtime instead.
     *
     * <p>The unmapping action is made of JDK classes only ({@link #unmapAction}): the JDK's cleaner
     * holds it strongly until the arena is collected, so an action of this library's class (a lambda)
     * would make this class loader reachable from a GC root, hence its statics, hence the segments
     * whose arenas are waiting for collection: neither the arena nor the loader could ever be
     * collected (a leak on every redeploy, issue 9).
     */
    public static MemorySegment allocatePages(long size) {
        if (MMAP.isPresent() && MUNMAP.isPresent() && bindingError == null) {
            long mapped = (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
            MemorySegment pages = mmapReadWrite(mapped);
            return pages.reinterpret(size, Arena.ofAuto(), UNMAP_ACTIONS.computeIfAbsent(mapped, Libc::unmapAction));
        }
        return Arena.ofAuto().allocate(size, 4096);
    }

    private static final long PAGE_SIZE = Math.max(4096, getauxval(6 /* AT_PAGESZ */));

    /** The page size ({@code getauxval(AT_PAGESZ)}, at least 4096), read once. */
    public static long pageSize() {
        return PAGE_SIZE;
    }
    /** One unmap action per mapping length (JDK objects only, see {@link #unmapAction}): building one costs microseconds. */
    private static final Map<Long, Consumer<MemorySegment>> UNMAP_ACTIONS = new ConcurrentHashMap<>();

    /**
     * {@code munmap(segment, length)} as a cleanup action whose class and every object it reaches
     * belong to the JDK: the munmap downcall handle with the length bound, its result dropped (nobody
     * to report a failure to: the owner is gone), wrapped by {@link MethodHandleProxies} (which
     * defines the proxy class for a {@code java.base} interface in the JDK's own loader). The arena
     * passes the segment's address as a zero-length segment. Package-private for the test that
     * checks the action's class loader.
     */
    static Consumer<MemorySegment> unmapAction(long length) {
        MethodHandle munmap = MUNMAP.orElseThrow(() -> new UnsupportedOperationException("no munmap in the C library"));
        MethodHandle action = MethodHandles.insertArguments(munmap, 1, length)
                .asType(MethodType.methodType(void.class, MemorySegment.class));
        @SuppressWarnings("unchecked")
        Consumer<MemorySegment> consumer = MethodHandleProxies.asInterfaceInstance(Consumer.class, action);
        return consumer;
    }

    /** Whether {@link #reserve} works here: mmap, mprotect and munmap are bound. */
    public static boolean canReserve() {
        return hasMemoryMapping() && MUNMAP.isPresent() && bindingError == null;
    }

    public static boolean hasMemoryMapping() {
        return MMAP.isPresent() && MPROTECT.isPresent();
    }

    /** Rethrows errors and runtime exceptions as they are; wraps checked ones (never thrown by downcalls). */
    public static RuntimeException rethrowUnchecked(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /** Reads a {@code ptrdiff_t}/{@code unsigned int} data symbol of glibc. */
    public static Optional<Long> readLongSymbol(String name) {
        return symbol(name).map(s -> s.reinterpret(8).get(ValueLayout.JAVA_LONG, 0));
    }

    public static Optional<Integer> readIntSymbol(String name) {
        return symbol(name).map(s -> s.reinterpret(4).get(ValueLayout.JAVA_INT, 0));
    }
}
