package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.platform.RseqAbi;
import dev.rseq4j.core.internal.codegen.StubGenerator;
import dev.rseq4j.core.internal.codegen.aarch64.AArch64StubGenerator;
import dev.rseq4j.core.internal.codegen.x86_64.X86_64StubGenerator;
import dev.rseq4j.core.internal.platform.Arch;
import dev.rseq4j.core.internal.codegen.StubOptions;
import dev.rseq4j.core.internal.platform.Libc;
import dev.rseq4j.core.internal.platform.Libc.SyscallResult;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.lang.invoke.MethodHandle;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The process-wide rseq state: decides the mode once, installs the production stubs, registers
 * threads when glibc did not, and issues the membarrier of the slow path.
 *
 * <h2>Implementation notes</h2>
 * The decision runs in the class initialiser of a holder and never throws: every failure to find a
 * symbol, map code or register becomes {@link Mode#LOCK} with a reason. The order of checks is the
 * order of dependencies: the user's kill switch ({@code -Drseq4j.mode=lock}), the OS, a generator for
 * the architecture, glibc's {@code __rseq_offset} (the only sanctioned way to find the area; without
 * it, another registration may already own the thread's single rseq slot), executable memory, then
 * the kernel (registration of the calling thread, membarrier). Only when every step succeeded are
 * the stubs published.
 *
 * <p>Self-registration ({@link RuntimeStatus#selfRegistration()}, registrant RSEQ4J in the public status): when glibc reserved the area but did not
 * register it ({@code __rseq_size == 0}), each thread registers it the first time a stub reports
 * {@code INDEX_INVALID}. glibc resets {@code cpu_id} to -2 in every new thread, so a thread that
 * reuses a cached stack never inherits a stale registration, and glibc 2.35+ registers the children
 * of a registered thread itself (it inherits the registration state); both are harmless because the
 * signature is the same. A thread whose registration fails (a seccomp policy, a foreign registration
 * in the slot) is remembered by its area address and retried at most once a second, so that it pays
 * the slow path but not a storm of failing rseq calls ({@link #ensureRegistered()}).
 *
 * <p>The fence ({@link #fence}): membarrier was registered at start-up, but a seccomp policy installed
 * later can still make it fail. The first failure is remembered (one volatile field) and from then on
 * every fence runs the calling thread on the target CPU, or on every CPU for an all-CPU fence
 * ({@link AffinityFence}, which argues why that is a fence and what it cannot reach), counted in
 * {@link #fallbackFences()}. Only when that fails too does the fence throw, naming both causes; the
 * slow path has then changed nothing and releases its guard.
 *
 * <p>The region count ({@link #readPossibleCpus()}) comes from the kernel, never from a count that
 * {@code taskset} or cgroups limit.
 */
public final class RseqRuntime {

    /** {@code -Drseq4j.mode=auto|lock}: {@code lock} is the kill switch; an unknown value also means lock mode, with the reason. */
    public static final String MODE_PROPERTY = "rseq4j.mode";

    /**
     * Internal, for tests only: {@code -Drseq4j.internal.featureSizeLimit=N} caps the kernel's rseq
     * feature size at N, to exercise an older kernel's status (e.g. 20: no node_id, no mm_cid) here.
     */
    public static final String FEATURE_SIZE_LIMIT_PROPERTY = "rseq4j.internal.featureSizeLimit";

    /** The feature size from which the kernel maintains {@code mm_cid} (Linux 6.3+). */
    private static final int MM_CID_END = RseqAbi.Field.MM_CID.end();
    private static final long MEMBARRIER_CMD_QUERY = 0;
    private static final long MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ = 1 << 7;
    private static final long MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ = 1 << 8;
    private static final long MEMBARRIER_CMD_FLAG_CPU = 1;
    private static final int PR_RSEQ_SLICE_EXTENSION = 79;
    private static final int PR_RSEQ_SLICE_EXTENSION_GET = 1;
    private static final int PR_RSEQ_SLICE_EXTENSION_SET = 2;
    private static final int PR_RSEQ_SLICE_EXT_ENABLE = 1;
    /** A thread whose self-registration failed retries no more often than this. */
    private static final long REGISTRATION_RETRY_NANOS = 1_000_000_000L;
    /** Bound of the per-thread registration failure memory. */
    private static final int MAX_REMEMBERED_FAILURES = 4096;

    private final RuntimeStatus status;
    private final StubGenerator generator;      // null in lock mode
    private final long rseqOffset;
    private final StubHandles cpuStubs;         // null in lock mode
    private final StubHandles mmCidStubs;       // null unless RSEQ mode and mm_cid
    private final Map<StubOptions, StubHandles> variants = new ConcurrentHashMap<>();
    /** Set once, when membarrier fails at run time: why; later fences go straight to {@link #affinityFence}. */
    private volatile String membarrierFailure;
    private final AffinityFence affinityFence = new AffinityFence();
    /**
     * Self-registration failures by rseq area address (per OS thread) to the {@link System#nanoTime()}
     * of the last attempt; see {@link #ensureRegistered()}.
     */
    private final ConcurrentHashMap<Long, Long> registrationFailures = new ConcurrentHashMap<>();

    private static final class Holder {
        static final RseqRuntime INSTANCE = new RseqRuntime();
    }

    /** The runtime; the first call decides the mode. Never throws. */
    public static RseqRuntime get() {
        return Holder.INSTANCE;
    }

    private RseqRuntime() {
        String arch = Arch.displayName(System.getProperty("os.arch", "unknown"));
        String kernel = System.getProperty("os.version", "unknown");
        int possible = readPossibleCpus();
        Detection d = new Detection();
        String reason;
        try {
            reason = detect(arch, d);
        } catch (Throwable t) {
            reason = "initialisation failed: " + t;
        }
        boolean rseq = reason == null;
        this.generator = rseq ? d.generator : null;
        this.rseqOffset = d.rseqOffset;
        this.cpuStubs = rseq ? d.cpuStubs : null;
        this.mmCidStubs = rseq ? d.mmCidStubs : null;
        if (rseq) {
            variants.put(d.cpuStubs.options(), d.cpuStubs);
            if (d.mmCidStubs != null) {
                variants.put(d.mmCidStubs.options(), d.mmCidStubs);
            }
        }
        // NOTE: in lock mode nothing of rseq is in use, so every capability reads 0/false and the
        // registrant NONE, whatever detection found before it failed: the reason says what was found.
        // A status that said "mmCid=true" beside "the kernel has no rseq" would contradict itself.
        this.status = rseq
                ? new RuntimeStatus(Optional.empty(), d.selfRegistration, arch, kernel, d.featureSize,
                        d.membarrierRseq, d.membarrierPerCpu, d.sliceExtension, possible)
                : new RuntimeStatus(Optional.of(reason), false, arch, kernel, 0, false, false, false, possible);
    }

    /** Mutable scratch for {@link #detect}. */
    private static final class Detection {
        StubGenerator generator;
        long rseqOffset;
        boolean selfRegistration;
        int featureSize;
        boolean membarrierRseq;
        boolean membarrierPerCpu;
        boolean sliceExtension;
        StubHandles cpuStubs;
        StubHandles mmCidStubs;
    }

    /**
     * Fills {@code d}; returns null for RSEQ mode, else the reason for LOCK mode, naming what was found
     * (errno names, the feature size the kernel advertises). The kill switch is checked before any
     * rseq-related native call. What {@code d} holds when a reason is returned is not reported: lock
     * mode's status shows no capability at all.
     */
    private static String detect(String arch, Detection d) {
        String requested = System.getProperty(MODE_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        if (!requested.equals("auto") && !requested.equals("lock")) {
            return "unknown -D" + MODE_PROPERTY + "=" + requested + " (expected auto or lock)";
        }
        if (requested.equals("lock")) {
            return "forced by -D" + MODE_PROPERTY + "=lock";
        }
        if (!System.getProperty("os.name", "").equals("Linux")) {
            return "not Linux (os.name=" + System.getProperty("os.name") + ")";
        }
        if (Libc.bindingError().isPresent()) {
            return Libc.bindingError().get();
        }
        Optional<Long> offset = Libc.readLongSymbol("__rseq_offset");
        Optional<Integer> size = Libc.readIntSymbol("__rseq_size");
        if (offset.isEmpty() || size.isEmpty() || !Libc.hasSyscall()) {
            return "the C library does not export __rseq_offset/__rseq_size (musl, or glibc before 2.35)";
        }
        d.rseqOffset = offset.get();
        boolean glibcRegistered = size.get() > 0;
        long aux = Math.min(Libc.getauxval(Libc.AT_RSEQ_FEATURE_SIZE),
                Integer.getInteger(FEATURE_SIZE_LIMIT_PROPERTY, Integer.MAX_VALUE));
        // Kernels before 6.3 have rseq but no AT_RSEQ_FEATURE_SIZE: the original 20 bytes.
        d.featureSize = aux != 0 ? (int) aux : RseqAbi.ORIGINAL_FEATURE_SIZE;
        d.selfRegistration = !glibcRegistered;

        Optional<Arch> known = Arch.of(arch);
        if (known.isEmpty()) {
            return "no stub generator for architecture " + arch;
        }
        d.generator = generatorFor(known.get());
        if (!Libc.hasMemoryMapping()) {
            return "no mmap/mprotect in the C library";
        }
        StubOptions cpuOptions = StubOptions.production(d.rseqOffset, RseqAbi.Field.CPU_ID);
        try {
            d.cpuStubs = StubHandles.install(d.generator.generate(cpuOptions), cpuOptions);
        } catch (RuntimeException e) {
            return "cannot make generated code executable: " + e.getMessage();
        }

        if (d.featureSize >= MM_CID_END) {
            StubOptions mmCidOptions = StubOptions.production(d.rseqOffset, RseqAbi.Field.MM_CID);
            d.mmCidStubs = StubHandles.install(d.generator.generate(mmCidOptions), mmCidOptions);
        }

        // membarrier before any registration of ours, so that a lock-mode outcome registers nothing.
        long mb = d.generator.architecture().membarrierSyscall();
        SyscallResult query = Libc.syscall(mb, MEMBARRIER_CMD_QUERY, 0, 0, 0);
        if (!query.ok()) {
            return "membarrier(MEMBARRIER_CMD_QUERY) failed with " + Libc.errnoName(query.errno())
                    + " (no membarrier in the kernel, or a seccomp filter blocks it): the slow path could not"
                    + " exclude running sequences";
        }
        d.membarrierRseq = (query.value() & MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != 0;
        if (!d.membarrierRseq) {
            return "the kernel (" + System.getProperty("os.version", "?") + ") does not offer"
                    + " MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ (Linux 5.10+; commands offered: 0x"
                    + Long.toHexString(query.value()) + "): the slow path could not exclude running sequences";
        }
        SyscallResult reg = Libc.syscall(mb, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0, 0);
        if (!reg.ok()) {
            return "membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) failed with " + Libc.errnoName(reg.errno());
        }
        d.membarrierPerCpu = Libc.syscall(mb, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, 0, 0).ok();

        // Registration last: once this thread is registered (or glibc's registration is confirmed),
        // nothing can fail any more, so lock mode never leaves a registration of ours behind.
        if (glibcRegistered) {
            long cpu = StubHandles.call(d.cpuStubs.cpuId());
            if (cpu < 0) {
                return "glibc reports __rseq_size=" + size.get() + " but this thread's cpu_id is " + cpu;
            }
        } else {
            SyscallResult r = register(d.generator, StubHandles.call(d.cpuStubs.areaAddress()));
            if (!r.ok()) {
                return "rseq(2) registration failed with " + Libc.errnoName(r.errno())
                        + (r.errno() == Libc.ENOSYS ? " (no rseq in the kernel, or a seccomp filter blocks it"
                        + (aux != 0 ? "; the kernel's auxiliary vector advertises feature size " + aux : "") + ")" : "")
                        + (size.get() == 0 && aux != 0 ? "; glibc did not register either (__rseq_size=0)" : "");
            }
        }
        d.sliceExtension = Libc.prctl(PR_RSEQ_SLICE_EXTENSION, PR_RSEQ_SLICE_EXTENSION_GET, 0, 0, 0)
                .map(SyscallResult::ok).orElse(false);
        return null;
    }

    private static SyscallResult register(StubGenerator generator, long area) {
        return Libc.syscall(generator.architecture().rseqSyscall(), area, RseqAbi.REGISTRATION_LENGTH, 0,
                generator.signature() & 0xFFFFFFFFL);
    }

    public RuntimeStatus status() {
        return status;
    }

    public boolean rseqMode() {
        return status.rseqMode();
    }

    /** The production stubs for {@code index}; requires RSEQ mode (and mm_cid for {@code MM_CID}). */
    public StubHandles stubs(RseqAbi.Field index) {
        StubHandles h = stubsOrNull(index);
        if (h == null) {
            throw new UnsupportedOperationException(index == RseqAbi.Field.MM_CID && rseqMode()
                    ? "mm_cid indexing needs Linux 6.3+ (rseq feature size " + status.featureSize() + " < " + MM_CID_END + ")"
                    : "rseq is unavailable: " + status.lockReason().orElse("?"));
        }
        return h;
    }

    /** The production stubs for {@code index}, or null where {@link #stubs(RseqAbi.Field)} would throw. */
    public StubHandles stubsOrNull(RseqAbi.Field index) {
        return index == RseqAbi.Field.CPU_ID ? cpuStubs : mmCidStubs;
    }

    /** Stubs with test options (a delay loop, or the non-restartable negative control), installed once per options. */
    public StubHandles stubs(StubOptions options) {
        stubs(options.index()); // same availability checks
        if (options.rseqOffset() != rseqOffset) {
            throw new IllegalArgumentException("rseqOffset must be this process's __rseq_offset " + rseqOffset);
        }
        return variants.computeIfAbsent(options, o -> StubHandles.install(generator.generate(o), o));
    }

    /** The production options for {@code index}: the base for test variants. */
    public StubOptions productionOptions(RseqAbi.Field index) {
        return StubOptions.production(rseqOffset, index);
    }

    /**
     * Makes sure the calling thread's area is registered (self-registration mode). Returns false when
     * the thread cannot be registered, in which case it must use the slow path.
     *
     * <p>A failed registration is remembered for the OS thread and retried at most once per
     * {@link #REGISTRATION_RETRY_NANOS}; until then this returns false at once. Without that memory
     * an unregistrable thread (a seccomp policy forbidding rseq, another registration owning the
     * thread's slot) would pay one or two rseq system calls on every operation.
     */
    public boolean ensureRegistered() {
        if (!rseqMode()) {
            return false;
        }
        if (StubHandles.call(cpuStubs.cpuId()) >= 0) {
            return true;
        }
        if (!status.selfRegistration()) {
            return false;
        }
        // NOTE: registration belongs to the OS thread (a virtual thread's carrier), so the memory is
        // keyed by something per OS thread that costs no system call: the thread's rseq area address
        // (thread pointer + __rseq_offset, from the probe stub). A new thread may reuse a dead
        // thread's TLS block and so its address; the bounded back-off, not a permanent mark, is what
        // keeps such a thread from being shut out for ever (it waits at most one period, on the
        // slow path, which is correct).
        long area = StubHandles.call(cpuStubs.areaAddress());
        long now = System.nanoTime();
        Long lastFailure = registrationFailures.get(area);
        if (lastFailure != null && now - lastFailure < REGISTRATION_RETRY_NANOS) {
            return false;
        }
        SyscallResult r = register(generator, area);
        if (r.ok() || r.errno() == Libc.EBUSY) {
            if (lastFailure != null) {
                registrationFailures.remove(area);
            }
            return true;
        }
        rememberRegistrationFailure(area, now);
        return false;
    }

    /**
     * Records a failed registration, keeping the map at most {@link #MAX_REMEMBERED_FAILURES} entries:
     * when full, entries older than the back-off (which no longer suppress anything) are dropped; if
     * it is still full, the failure is not recorded and that thread simply retries (slower, not wrong).
     */
    private void rememberRegistrationFailure(long area, long now) {
        if (registrationFailures.size() >= MAX_REMEMBERED_FAILURES) {
            registrationFailures.values().removeIf(t -> now - t >= REGISTRATION_RETRY_NANOS);
            if (registrationFailures.size() >= MAX_REMEMBERED_FAILURES) {
                return;
            }
        }
        registrationFailures.put(area, now);
    }

    /**
     * The slow path's fence for one CPU: after it returns, every restartable sequence that was
     * running on {@code cpu} has either committed, with its commit visible here, or will abort.
     * Targets that CPU alone where the kernel can ({@code MEMBARRIER_CMD_FLAG_CPU}), else all CPUs.
     *
     * <p>membarrier(PRIVATE_EXPEDITED_RSEQ) normally; once it has failed (a seccomp policy installed
     * after start-up), this and every later fence runs the calling thread on the target CPUs instead
     * ({@link AffinityFence}). Throws {@link IllegalStateException} naming both causes only when that
     * fails too; the caller has not touched the region yet and releases its guard in a finally.
     *
     * @param cpu a CPU number in [0, possible CPUs)
     */
    public void fenceCpu(int cpu) {
        if (cpu < 0) {
            throw new IllegalArgumentException("cpu must be >= 0, was " + cpu);
        }
        fence(cpu);
    }

    /** As {@link #fenceCpu}, for the sequences running on every CPU (mm_cid regions, sumThenReset). */
    public void fenceAllCpus() {
        fence(ALL_CPUS);
    }

    /** The target of an all-CPU fence in {@link #fence} and {@link AffinityFence#fence}. */
    static final int ALL_CPUS = -1;

    private void fence(int cpu) {
        // NOTE: one volatile read on the slow path; once set it is never cleared (a policy that
        // forbade membarrier once is not expected to relent, and retrying would cost a failing system
        // call per slow path).
        String failed = membarrierFailure;
        if (failed == null) {
            long mb = generator.architecture().membarrierSyscall();
            SyscallResult r = cpu != ALL_CPUS && status.membarrierPerCpu()
                    ? Libc.syscall(mb, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_FLAG_CPU, cpu, 0)
                    : Libc.syscall(mb, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0, 0);
            if (r.ok()) {
                return;
            }
            // Registered at start-up, so a failure here is a changed policy: never ignore it (the slow
            // path would be unsafe), fall back.
            failed = "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) failed with " + Libc.errnoName(r.errno());
            membarrierFailure = failed;
        }
        Optional<String> fallback = affinityFence.fence(cpu, status.possibleCpus());
        if (fallback.isPresent()) {
            throw new IllegalStateException(failed + ", and the fallback fence (running this thread on "
                    + (cpu == ALL_CPUS ? "every CPU" : "CPU " + cpu) + ") failed: " + fallback.get());
        }
    }

    /**
     * The calling OS thread's {@code struct rseq} (thread pointer + {@code __rseq_offset}), the
     * {@link RseqAbi#REGISTRATION_LENGTH} bytes every registration has; requires RSEQ mode. A virtual
     * thread gets its carrier's, which it may leave at its next blocking call.
     */
    public MemorySegment currentRseqArea() {
        return MemorySegment.ofAddress(StubHandles.call(stubs(RseqAbi.Field.CPU_ID).areaAddress()))
                .reinterpret(RseqAbi.REGISTRATION_LENGTH);
    }

    /** {@code prctl(PR_RSEQ_SLICE_EXTENSION, SET, ENABLE, 0, 0)} for the calling thread: the errno on failure. */
    public Optional<String> enableSliceExtension() {
        Optional<SyscallResult> r = Libc.prctl(PR_RSEQ_SLICE_EXTENSION, PR_RSEQ_SLICE_EXTENSION_SET,
                PR_RSEQ_SLICE_EXT_ENABLE, 0, 0);
        return r.isEmpty() ? Optional.of("no prctl in the C library")
                : r.get().ok() ? Optional.empty() : Optional.of(Libc.errnoName(r.get().errno()));
    }

    /** {@code rseq_slice_yield()}: gives the CPU back after a granted extension; true if the call succeeded. */
    public boolean sliceYield() {
        return Libc.syscall(Arch.RSEQ_SLICE_YIELD_SYSCALL, 0, 0, 0, 0).ok();
    }

    /** Why membarrier failed at run time, when it did; every fence since then used the affinity fallback. */
    public Optional<String> membarrierFailure() {
        return Optional.ofNullable(membarrierFailure);
    }

    /** Fences done by running this thread on the target CPUs because membarrier failed (diagnostics, tests). */
    public long fallbackFences() {
        return affinityFence.fences();
    }

    /**
     * The critical downcall {@code ()long} that returns the calling thread's rseq cpu_id (negative
     * while the thread is not registered: then {@link #currentCpu()} registers it), for callers that
     * keep it in a static final so that the JIT folds the handle; null in lock mode.
     */
    public MethodHandle cpuIdProbe() {
        return cpuStubs == null ? null : cpuStubs.cpuId();
    }

    /** The calling thread's CPU: rseq's cpu_id, else sched_getcpu(), else -1. */
    public int currentCpu() {
        if (rseqMode()) {
            long cpu = StubHandles.call(cpuStubs.cpuId());
            if (cpu >= 0) {
                return (int) cpu;
            }
            if (ensureRegistered()) {
                return (int) StubHandles.call(cpuStubs.cpuId());
            }
        }
        return Libc.schedGetcpu();
    }

    /** node_id of the calling thread, or -1 when the kernel does not maintain it. */
    public int currentNumaNode() {
        return status.nodeId() && rseqMode() && ensureRegistered() ? (int) StubHandles.call(cpuStubs.nodeId()) : -1;
    }

    /** mm_cid of the calling thread, or -1 when the kernel does not maintain it. */
    public int concurrencyId() {
        return status.mmCid() && rseqMode() && ensureRegistered() ? (int) StubHandles.call(cpuStubs.mmCid()) : -1;
    }

    /** The generator for {@code arch}: the one place that knows the per-architecture implementations. */
    static StubGenerator generatorFor(Arch arch) {
        return switch (arch) {
            case X86_64 -> new X86_64StubGenerator();
            case AARCH64 -> new AArch64StubGenerator();
        };
    }

    /**
     * Internal, for tests only: {@code -Drseq4j.internal.possibleCpusFile=PATH} reads the possible-CPU
     * list from {@code PATH} instead of {@code /sys/devices/system/cpu/possible}, so that a test can
     * make it unreadable (a missing path) without root or a mount namespace. Not part of the API.
     */
    static final String POSSIBLE_CPUS_FILE_PROPERTY = "rseq4j.internal.possibleCpusFile";
    private static final String POSSIBLE_CPUS_FILE = "/sys/devices/system/cpu/possible";

    /**
     * The number of per-CPU regions: one more than the highest CPU number the kernel may ever use.
     * In order, the first that answers:
     * <ol>
     *   <li>{@code /sys/devices/system/cpu/possible} ("0-3,8-11" gives 12): exactly {@code nr_cpu_ids};</li>
     *   <li>the kernel's cpumask size, from the raw {@code sched_getaffinity} system call's return
     *       value: {@code nr_cpu_ids} rounded up to 64 (or {@code NR_CPUS} on kernels that keep
     *       cpumasks on the stack). Never too small; the spare regions cost memory only;</li>
     *   <li>one more than the highest {@code processor} in {@code /proc/cpuinfo} (online CPUs);</li>
     *   <li>{@link Runtime#availableProcessors()}, only as the last resort.</li>
     * </ol>
     * NOTE: never a count that {@code taskset} or a cgroup limits (such as availableProcessors, or the
     * bits set in our affinity mask) while another is available: CPU numbers are not renumbered inside
     * a cpuset, so a thread limited to CPU 5 reads cpu_id 5, and an area sized by the limited count
     * would send every such id to the slow path for the life of the process.
     */
    static int readPossibleCpus() {
        try {
            return parseCpuList(Files.readString(Path.of(System.getProperty(POSSIBLE_CPUS_FILE_PROPERTY,
                    POSSIBLE_CPUS_FILE))));
        } catch (IOException | RuntimeException e) {
            // fall through to what the kernel reports
        }
        int kernel = kernelCpumaskBits();
        if (kernel > 0) {
            return kernel;
        }
        try {
            return highestCpuinfoProcessor(Files.readString(Path.of("/proc/cpuinfo"))) + 1;
        } catch (IOException | RuntimeException e) {
            return Runtime.getRuntime().availableProcessors();
        }
    }

    /** Bits in the kernel's cpumask (raw sched_getaffinity's byte count times 8), or 0 when unavailable. */
    static int kernelCpumaskBits() {
        try (Arena arena = Arena.ofConfined()) {
            return AffinityFence.readMask(arena).map(AffinityFence.MaskRead::result).filter(SyscallResult::ok)
                    .map(r -> (int) (r.value() * 8)).orElse(0);
        } catch (RuntimeException e) {
            return 0;   // no native access, no linker: the next fallback decides
        }
    }

    /** The highest "processor : N" of a /proc/cpuinfo text; throws when there is none. */
    static int highestCpuinfoProcessor(String cpuinfo) {
        int max = -1;
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals("processor")) {
                max = Math.max(max, Integer.parseInt(line.substring(colon + 1).trim()));
            }
        }
        if (max < 0) {
            throw new IllegalArgumentException("no processor lines in /proc/cpuinfo");
        }
        return max;
    }

    static int parseCpuList(String list) {
        int max = -1;
        for (String part : list.trim().split(",")) {
            String[] range = part.trim().split("-");
            max = Math.max(max, Integer.parseInt(range[range.length - 1].trim()));
        }
        if (max < 0) {
            throw new IllegalArgumentException("empty CPU list: " + list);
        }
        return max + 1;
    }
}
