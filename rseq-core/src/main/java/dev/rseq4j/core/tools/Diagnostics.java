package dev.rseq4j.core.tools;

import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.RseqStatus;
import dev.rseq4j.core.internal.codegen.IndexSource;
import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.runtime.GuardedPerCpuOps;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.PerCpuOps;

import java.util.List;

/**
 * {@code rseq4j diagnose}: prints {@link Rseq#status()}, checks every operation once, then tortures
 * each operation with more threads than CPUs and a busy loop inside the critical section, printing
 * {@code ops= aborts= lost=} per operation. Exits 1 if any check failed or anything was lost, 2 on
 * bad arguments.
 */
public final class Diagnostics {
    static final String USAGE = """
            usage: rseq4j diagnose [--seconds S] [--threads N] [--delay LOOPS] [--index cpu|mmcid]
              Prints the rseq status, checks each per-CPU operation once, then runs each operation
              for S seconds (default 2) from N threads (default 2 x CPUs, at least 4) with a busy loop
              of LOOPS iterations (default 20000) inside every critical section, and prints
              "op=... ops=N aborts=N slowPaths=N lost=N". Exits non-zero if anything was lost.
              -Drseq4j.mode=lock (JAVA_OPTS) forces lock mode. ./rseq4j then prints a quick JMH
              table of PerCpuCounter, LongAdder and AtomicLong (--no-table skips it).""";

    private Diagnostics() {
    }

    public static void main(String[] args) {
        double seconds = 2;
        int threads = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
        int delay = 20_000;
        IndexSource index = IndexSource.CPU_ID;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--seconds" -> seconds = positive(Double.parseDouble(value(args, ++i)), "--seconds");
                    case "--threads" -> threads = (int) positive(Integer.parseInt(value(args, ++i)), "--threads");
                    case "--delay" -> delay = Integer.parseInt(value(args, ++i));
                    case "--index" -> index = switch (value(args, ++i)) {
                        case "cpu" -> IndexSource.CPU_ID;
                        case "mmcid" -> IndexSource.MM_CID;
                        default -> throw new IllegalArgumentException("--index must be cpu or mmcid");
                    };
                    case "-h", "--help" -> {
                        System.out.println(USAGE);
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown argument " + args[i]);
                }
            }
            if (delay < 0) {
                throw new IllegalArgumentException("--delay must be >= 0");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("rseq4j diagnose: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
        }
        System.exit(run(seconds, threads, delay, index) ? 0 : 1);
    }

    private static boolean run(double seconds, int threads, int delay, IndexSource index) {
        RseqStatus status = Rseq.status();
        System.out.println(status);
        System.out.println("currentCpu=" + Rseq.currentCpu() + " currentNumaNode=" + Rseq.currentNumaNode()
                + " concurrencyId=" + Rseq.concurrencyId());
        RseqRuntime runtime = RseqRuntime.get();
        if (index == IndexSource.MM_CID && runtime.rseqMode() && !status.mmCid()) {
            System.out.println("index=mmcid unavailable: kernel rseq feature size " + status.featureSize() + " < 28");
            return false;
        }
        PerCpuOps production = runtime.rseqMode() ? GuardedPerCpuOps.production(index) : PerCpuOps.cpuIndexed();
        List<String> failures = SelfTest.checkOnce(production);
        System.out.println("check " + (failures.isEmpty() ? "ok" : "FAILED " + failures));
        PerCpuOps tortured = runtime.rseqMode()
                ? GuardedPerCpuOps.withOptions(runtime.productionOptions(index).withDelay(delay))
                : production;
        System.out.printf("torture index=%s threads=%d seconds=%s delayLoops=%d%n",
                runtime.rseqMode() ? index : "lock", threads, seconds, runtime.rseqMode() ? delay : 0);
        boolean ok = failures.isEmpty();
        for (Operation op : Operation.values()) {
            if (op == Operation.LIST_PUSH) {
                continue; // LIST_POP's workload pops and pushes
            }
            SelfTest.Result r = SelfTest.torture(tortured, op, threads, (long) (seconds * 1000));
            System.out.println(r);
            ok &= r.lost() == 0;
        }
        System.out.println(ok ? "result=PASS" : "result=FAIL");
        return ok;
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    private static double positive(double v, String name) {
        if (!(v > 0)) {
            throw new IllegalArgumentException(name + " must be > 0, was " + v);
        }
        return v;
    }
}
