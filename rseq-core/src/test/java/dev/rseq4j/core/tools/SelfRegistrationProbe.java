package dev.rseq4j.core.tools;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.internal.platform.RseqAbi;
import dev.rseq4j.core.internal.codegen.StubStatus;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.PerCpuArea;

import java.util.concurrent.CountDownLatch;

/**
 * Run by {@link ForkedModesTest} with glibc registration off: a thread started before the library
 * is initialised is not registered (cpu_id = -2), so its first stub calls, indexed by cpu_id and by
 * mm_cid (which reads 0 there), must return INDEX_INVALID; the operation then registers the thread
 * and commits.
 */
public final class SelfRegistrationProbe {
    public static void main(String[] args) throws Exception {
        CountDownLatch initialised = new CountDownLatch(1);
        StringBuilder out = new StringBuilder();
        Thread early = new Thread(() -> {
            try {
                initialised.await();
                RseqRuntime rt = RseqRuntime.get();
                PerCpuOps ops = OpsVariant.of(CpuIndexing.CPU).create();
                PerCpuArea area = PerCpuArea.forPossibleCpus(CpuIndexing.CPU, 64);
                // mm_cid reads 0 (or stale) on an unregistered thread: the stub must check cpu_id too.
                PerCpuArea cidArea = PerCpuArea.forPossibleCpus(CpuIndexing.CONCURRENCY_ID, 64);
                long firstMmCid = (long) rt.stubs(RseqAbi.Field.MM_CID).loadAddStore()
                        .invokeExact(cidArea.descriptorAddress(), cidArea.address(8), 1L);
                out.append("firstMmCid=").append(StubStatus.name(firstMmCid)).append(' ');
                long first = (long) rt.stubs(RseqAbi.Field.CPU_ID).loadAddStore().invokeExact(area.descriptorAddress(), area.address(8), 1L);
                ops.add(area, 8, 1);
                long after;
                do {
                    after = (long) rt.stubs(RseqAbi.Field.CPU_ID).loadAddStore().invokeExact(area.descriptorAddress(), area.address(8), 1L);
                } while (after == StubStatus.ABORTED);
                long total = area.sumLongOpaque(8);
                out.append("first=").append(StubStatus.name(first)).append(" after=").append(StubStatus.name(after))
                        .append(" invalidIndex=").append(ops.stats().invalidIndex()).append(" total=").append(total);
            } catch (Throwable t) {
                out.append("error=").append(t);
            }
        });
        early.start();                       // before the library touches rseq: glibc left cpu_id = -2
        System.out.println(dev.rseq4j.core.Rseq.status().toString().lines().limit(2).toList());
        initialised.countDown();
        early.join();
        System.out.println(out);
        System.exit(out.toString().contains("first=") ? 0 : 1);
    }
}
