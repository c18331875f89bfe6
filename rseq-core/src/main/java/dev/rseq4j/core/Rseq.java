package dev.rseq4j.core;

import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.internal.runtime.RuntimeStatus;

/**
 * Entry point of the core: what the platform supports and where the calling thread runs.
 *
 * <p>The first call decides, once per JVM, between {@link RseqStatus.Mode#RSEQ} (operations commit
 * inside restartable sequences through run-time generated stubs) and {@link RseqStatus.Mode#LOCK}
 * (a portable implementation of the same operations). That decision never throws: an unsupported
 * OS, architecture, C library or kernel yields lock mode and a reason in {@link #status()}.
 * {@code -Drseq4j.mode=lock} forces lock mode (the production kill switch).
 *
 * <p>The JVM must allow native access to this library: {@code --enable-native-access=dev.rseq4j.core}
 * on the module path, {@code --enable-native-access=ALL-UNNAMED} on the class path. Without it JDK
 * 22-25 print a warning on first use; later JDKs may refuse.
 *
 * <p>Thread-safety: every method may be called from any thread, including virtual threads. The
 * location queries are snapshots: the thread may be moved to another CPU as soon as they return.
 */
public final class Rseq {
    /** Returned by the location queries when the platform cannot tell. */
    public static final int UNAVAILABLE = -1;

    private Rseq() {
    }

    private static final class Status {
        static final RseqStatus INSTANCE = of(RseqRuntime.get().status());

        private static RseqStatus of(RuntimeStatus s) {
            RseqStatus.Registrant registrant = !s.rseqMode() ? RseqStatus.Registrant.NONE
                    : s.selfRegistration() ? RseqStatus.Registrant.RSEQ4J : RseqStatus.Registrant.GLIBC;
            return new RseqStatus(s.rseqMode() ? RseqStatus.Mode.RSEQ : RseqStatus.Mode.LOCK, s.lockReason(),
                    registrant, s.architecture(), s.kernelRelease(), s.featureSize(), s.nodeId(), s.mmCid(),
                    s.membarrierRseq(), s.membarrierPerCpu(), s.sliceExtension(), s.possibleCpus());
        }
    }

    /** The platform status, decided on first use; immutable. */
    public static RseqStatus status() {
        return Status.INSTANCE;
    }

    /**
     * The CPU the calling thread runs on: rseq's {@code cpu_id} (one load in a critical downcall), else
     * {@code sched_getcpu()}, else {@link #UNAVAILABLE}.
     */
    public static int currentCpu() {
        return RseqRuntime.get().currentCpu();
    }

    /**
     * The NUMA node the calling thread runs on (rseq's {@code node_id}), or {@link #UNAVAILABLE} in lock
     * mode or when the kernel does not maintain it (feature size below 24, before Linux 6.3).
     */
    public static int currentNumaNode() {
        return RseqRuntime.get().currentNumaNode();
    }

    /**
     * The calling thread's concurrency id ({@code mm_cid}, Linux 6.3+): in [0, possible CPUs), unique
     * among this process's running threads and dense from 0, or {@link #UNAVAILABLE} when the kernel
     * does not provide it or in lock mode ({@link RseqStatus#mmCid()} says which).
     */
    public static int concurrencyId() {
        return RseqRuntime.get().concurrencyId();
    }

    /**
     * One more than the highest possible CPU number ({@code /sys/devices/system/cpu/possible}, which
     * counts CPUs that could be hot-plugged, unlike {@link Runtime#availableProcessors()}). This is how
     * many per-CPU regions a structure needs. Where that file cannot be read, the size of the kernel's
     * CPU mask (from {@code sched_getaffinity}: the possible count rounded up to a multiple of 64, or
     * the kernel's compile-time maximum), then the highest {@code processor} of {@code /proc/cpuinfo};
     * {@code availableProcessors()} only when none of these answers, because {@code taskset} and
     * cgroups lower it while CPU numbers stay as they are. The value may so exceed the real count
     * (spare regions cost memory) but is never lowered by an affinity or cgroup limit.
     */
    public static int possibleCpus() {
        return RseqRuntime.get().status().possibleCpus();
    }
}
