package dev.rseq4j.core.tools;

import dev.rseq4j.core.internal.codegen.IndexSource;
import dev.rseq4j.core.internal.codegen.StubStatus;
import dev.rseq4j.core.internal.runtime.GuardedPerCpuOps;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.PerCpuArea;

import java.util.concurrent.CountDownLatch;

/**
 * Run by {@link ForkedModesTest} with glibc registration off: a thread started before the library
 * is initialised is not registered (cpu_id = -2), so its first stub call must return INDEX_INVALID;
 * the operation then registers the thread and commits.
 */
public final class SelfRegistrationProbe {
    public static void main(String[] args) throws Exception {
        CountDownLatch initialised = new CountDownLatch(1);
        StringBuilder out = new StringBuilder();
        Thread early = new Thread(() -> {
            try {
                initialised.await();
                RseqRuntime rt = RseqRuntime.get();
                GuardedPerCpuOps ops = GuardedPerCpuOps.withOptions(rt.productionOptions(IndexSource.CPU_ID));
                PerCpuArea area = PerCpuArea.forPossibleCpus(64);
                long first = (long) ops.stubs().loadAddStore().invokeExact(area.descriptorAddress(), 8L, 1L);
                ops.add(area, 8, 1);
                long after;
                do {
                    after = (long) ops.stubs().loadAddStore().invokeExact(area.descriptorAddress(), 8L, 1L);
                } while (after == StubStatus.ABORTED);
                long total = 0;
                for (int i = 0; i < area.regions(); i++) {
                    total += area.region(i).get(java.lang.foreign.ValueLayout.JAVA_LONG, 8);
                }
                out.append("first=").append(StubStatus.name(first)).append(" after=").append(StubStatus.name(after))
                        .append(" unregistered=").append(ops.stats().unregistered()).append(" total=").append(total);
            } catch (Throwable t) {
                out.append("error=").append(t);
            }
        });
        early.start();                       // before the library touches rseq: glibc left cpu_id = -2
        System.out.println(RseqRuntime.get().status().toString().lines().limit(2).toList());
        initialised.countDown();
        early.join();
        System.out.println(out);
        System.exit(out.toString().startsWith("first=") ? 0 : 1);
    }
}
