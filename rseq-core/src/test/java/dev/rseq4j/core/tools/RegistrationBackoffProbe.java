package dev.rseq4j.core.tools;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.platform.Arch;
import dev.rseq4j.core.internal.platform.Libc;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;

import java.lang.foreign.ValueLayout;
import java.util.concurrent.CountDownLatch;

/**
 * Run by {@link RuntimeFallbacksTest} with glibc registration off, under strace making every rseq
 * call after a thread's first fail with EINVAL: a new thread, which cannot register, adds 10,000
 * times; the sum must be exact (slow paths), and the test counts the rseq calls strace saw.
 */
public final class RegistrationBackoffProbe {
    public static final int ADDS = 10_000;

    public static void main(String[] args) throws Exception {
        CountDownLatch initialised = new CountDownLatch(1);
        StringBuilder out = new StringBuilder();
        // Started before the library registers anything: glibc registers the children of a registered
        // thread itself (they inherit its state), so only a thread created now starts unregistered.
        Thread worker = Thread.ofPlatform().start(() -> {
            try {
                // strace counts `when=` per thread: spend this thread's first rseq call (a zero length,
                // EINVAL by itself) so that its registrations are the injected failures.
                Libc.syscall(Arch.X86_64.rseqSyscall(), 0, 0, 0, 0);
                initialised.await();
                PerCpuOps ops = PerCpuOps.cpuIndexed();
                PerCpuArea area = PerCpuArea.forPossibleCpus(CpuIndexing.CPU, 64);
                for (int i = 0; i < ADDS; i++) {
                    ops.add(area, 8, 1);
                }
                long sum = 0;
                for (int c = 0; c < area.regions(); c++) {
                    sum += area.region(c).get(ValueLayout.JAVA_LONG, 8);
                }
                out.append("sum=").append(sum).append(' ').append(ops.stats());
            } catch (Throwable t) {
                out.append("error=").append(t);
            }
        });
        RseqRuntime rt = RseqRuntime.get();   // registers this thread: its first rseq call, not injected
        System.out.println(dev.rseq4j.core.Rseq.status().toString().lines().limit(2).toList());
        initialised.countDown();
        worker.join();
        System.out.println(out);
        System.exit(out.toString().startsWith("sum=" + ADDS + " ") ? 0 : 1);
    }
}
