package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.platform.Libc;
import dev.rseq4j.core.internal.platform.Libc.SyscallResult;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The slow path's fence without membarrier (tcmalloc's fallback): run the calling thread on the
 * target CPU, then put its affinity back. Used by {@link RseqRuntime#fence} once
 * {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ)} has failed at run time (a seccomp
 * policy installed after start-up, a container runtime that filters it).
 *
 * <h2>Implementation notes</h2>
 * Why it is a fence: a restartable sequence that read {@code guard[c] == 0} is running on CPU
 * {@code c} (the index it read is the CPU it runs on) until it commits or is preempted. When the
 * fencing thread runs on {@code c}, after its guard CAS, whatever ran there has been switched out:
 * a sequence that was inside its critical section was preempted, so the kernel aborts it before it
 * resumes in user space (it then sees the guard on retry), and a sequence that committed did so on
 * {@code c} before the context switch, whose full barriers make the commit visible to the fencing
 * thread. A sequence that starts on {@code c} later reads the guard after that switch and sees it
 * held. This is the guarantee {@code membarrier(PRIVATE_EXPEDITED_RSEQ)} gives by interrupting
 * {@code c}; here the scheduler gives it by running us there.
 *
 * <p>Steps, for one CPU: if {@code sched_getcpu()} already reports {@code c} (read after the guard
 * CAS), the condition above already holds and nothing moves. Otherwise save the thread's mask with
 * the raw {@code sched_getaffinity}, set a mask of {@code {c}} with {@code sched_setaffinity} (the
 * kernel migrates the calling thread before the call returns), verify with {@code sched_getcpu()},
 * and restore the saved mask in a {@code finally}. The all-CPU fence ({@code cpu < 0}: mm_cid
 * indexing, {@code sumThenReset}) visits every CPU number below the region count in turn, restoring
 * once at the end; it costs one migration per CPU, which is why it is a fallback.
 *
 * <p>NOTE (CPUs the thread cannot be moved to): {@code sched_setaffinity} fails with EINVAL when the
 * target CPU is offline or outside the cpuset of the thread's cgroup (the kernel intersects the
 * requested mask with the cpuset; {@code taskset} limits do not count: a thread may widen its own
 * mask within its cpuset). Such a CPU is skipped, counted in {@link #unreachableCpus()}. An offline
 * CPU runs nothing, and a preempted sequence migrated off it aborts. A CPU outside the cpuset runs
 * no thread of this process as long as all its threads share one cpuset, which is the case unless
 * an administrator moved single threads (cgroup v1 per-task {@code tasks} files, or a cgroup v2
 * threaded subtree with the cpuset controller): threads inherit their creator's cgroup. We accept
 * that assumption rather than fail every fence in every CPU-limited container; a process whose
 * threads live in different cpusets must keep membarrier available.
 *
 * <p>NOTE (restoring): the saved mask is restored in a {@code finally}, so an exception between the
 * move and the restore cannot leave the thread pinned. The kernel intersects the restored mask with
 * the current cpuset; if the cpuset shrank meanwhile so that nothing is left, we restore "every CPU"
 * (the whole cpuset) instead; if that fails too, the thread stays on the last CPU it visited, which
 * is slower but not wrong, and is counted in {@link #restoreFailures()} rather than thrown (a throw
 * from the {@code finally} would hide the operation's own outcome). Another thread changing this
 * thread's affinity during the fence is overwritten by the restore: accepted.
 *
 * <p>NOTE (virtual threads): affinity belongs to the OS thread, here the carrier. Between saving and
 * restoring, this code makes only downcalls and never blocks, parks or yields (verification spins
 * with {@link Thread#onSpinWait()}, not {@link Thread#yield()}), so a virtual thread stays mounted on
 * the same carrier throughout, and the carrier gets its own mask back before the virtual thread can
 * unmount.
 */
final class AffinityFence {

    /** First buffer size: 8192 CPUs, the largest {@code NR_CPUS} of x86_64 and arm64 kernels. */
    private static final long FIRST_MASK_BYTES = 1024;
    /** Give up growing the buffer here (512k CPUs): a kernel asking for more is not one we know. */
    private static final long MAX_MASK_BYTES = 64 * 1024;
    /** Verification polls of sched_getcpu() after a successful move (the move is done on return). */
    private static final int VERIFY_POLLS = 1000;

    private final LongAdder fences = new LongAdder();
    private final LongAdder unreachableCpus = new LongAdder();
    private final LongAdder restoreFailures = new LongAdder();

    /**
     * Fences {@code cpu}, or every CPU in {@code [0, cpus)} when {@code cpu < 0}, by running the
     * calling thread there. Returns empty on success, else what failed (for the caller's message).
     */
    Optional<String> fence(int cpu, int cpus) {
        fences.increment();
        if (cpu >= 0 && Libc.schedGetcpu() == cpu) {
            return Optional.empty();
        }
        try (Arena arena = Arena.ofConfined()) {
            Optional<MaskRead> read = readMask(arena);
            if (read.isEmpty()) {
                return Optional.of("no sched_getaffinity system call on this platform");
            }
            MemorySegment saved = read.get().mask();
            SyscallResult got = read.get().result();
            if (!got.ok()) {
                return Optional.of("sched_getaffinity failed with " + Libc.errnoName(got.errno()));
            }
            long kernelCpus = got.value() * 8;    // bits the kernel's cpumask has: no CPU number reaches it
            MemorySegment single = arena.allocate(saved.byteSize(), 8);
            try {
                if (cpu >= 0) {
                    return visit(single, cpu, kernelCpus);
                }
                for (int c = 0; c < cpus; c++) {
                    Optional<String> failure = visit(single, c, kernelCpus);
                    if (failure.isPresent()) {
                        return failure;
                    }
                }
                return Optional.empty();
            } finally {
                restore(saved, single);
            }
        }
    }

    /**
     * The calling thread's affinity mask as read by the raw {@code sched_getaffinity}: the buffer it
     * was read into and the call's result, whose value is the kernel's cpumask size in bytes.
     */
    record MaskRead(MemorySegment mask, SyscallResult result) {
    }

    /**
     * Reads the calling thread's affinity mask into a buffer of {@code arena}, doubling it from
     * {@value #FIRST_MASK_BYTES} bytes while the kernel answers EINVAL (its cpumask is larger), up to
     * {@value #MAX_MASK_BYTES}; the result is the last attempt's. Empty where the call is unavailable.
     * Also how {@link RseqRuntime} learns the kernel's CPU count when sysfs is unreadable.
     */
    static Optional<MaskRead> readMask(Arena arena) {
        MaskRead last = null;
        for (long bytes = FIRST_MASK_BYTES; bytes <= MAX_MASK_BYTES; bytes *= 2) {
            MemorySegment mask = arena.allocate(bytes, 8);
            Optional<SyscallResult> r = Libc.schedGetaffinity(mask);
            if (r.isEmpty()) {
                return Optional.empty();
            }
            last = new MaskRead(mask, r.get());
            if (r.get().ok() || r.get().errno() != Libc.EINVAL) {
                break;
            }
        }
        return Optional.of(last);
    }

    /** Moves the thread to {@code c} alone and checks it runs there; empty when done or unreachable. */
    private Optional<String> visit(MemorySegment single, int c, long kernelCpus) {
        if (c >= kernelCpus) {
            unreachableCpus.increment();         // no such CPU number in this kernel
            return Optional.empty();
        }
        single.fill((byte) 0);
        // A cpumask is an array of unsigned long, CPU c being bit c % 64 of word c / 64.
        single.set(JAVA_LONG, (long) (c / 64) * 8, 1L << (c % 64));
        SyscallResult r = Libc.schedSetaffinity(single).orElseThrow();  // present: getaffinity was
        if (!r.ok()) {
            if (r.errno() == Libc.EINVAL) {
                unreachableCpus.increment();     // offline or outside our cpuset: see the class notes
                return Optional.empty();
            }
            return Optional.of("sched_setaffinity(CPU " + c + ") failed with " + Libc.errnoName(r.errno()));
        }
        int now = -1;
        for (int i = 0; i < VERIFY_POLLS; i++) {
            now = Libc.schedGetcpu();
            if (now == c) {
                return Optional.empty();
            }
            Thread.onSpinWait();                 // never yield: a virtual thread must keep its carrier
        }
        return Optional.of("sched_setaffinity(CPU " + c + ") succeeded but sched_getcpu() reports CPU " + now);
    }

    /** Puts the saved mask back, else every CPU (the kernel keeps the cpuset's part); counts a failure. */
    private void restore(MemorySegment saved, MemorySegment scratch) {
        if (Libc.schedSetaffinity(saved).map(SyscallResult::ok).orElse(false)) {
            return;
        }
        scratch.fill((byte) 0xFF);
        if (!Libc.schedSetaffinity(scratch).map(SyscallResult::ok).orElse(false)) {
            restoreFailures.increment();
        }
    }

    /** Fences done this way (each all-CPU fence counts once). */
    long fences() {
        return fences.sum();
    }

    /** CPUs skipped because the thread could not be moved there (offline, or outside its cpuset). */
    long unreachableCpus() {
        return unreachableCpus.sum();
    }

    /** Fences after which the thread's affinity could not be put back. */
    long restoreFailures() {
        return restoreFailures.sum();
    }
}
