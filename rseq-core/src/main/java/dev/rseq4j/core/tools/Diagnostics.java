package dev.rseq4j.core.tools;

import dev.rseq4j.core.CpuIndexing;

import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.RseqStatus;
import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.runtime.RseqRuntime;
import dev.rseq4j.core.percpu.OpsVariant;
import dev.rseq4j.core.percpu.PerCpuOps;

import java.util.List;

/**
 * {@code rseq4j diagnose}: prints {@link Rseq#status()}, checks every operation once, then tortures
 * each operation with more threads than CPUs and a busy loop inside the critical section, printing
 * {@code op= ops= aborts= slowPaths= lost=} per operation. Exits 1 if any check failed or anything
 * was lost, 2 on bad arguments.
 */
public final class Diagnostics {
    /**
     * The synopsis only: {@code ./rseq4j help} (the launcher, which also handles {@code diagnose --help})
     * is the one description of the options, defaults, output and exit status; {@code HelpTextTest}
     * checks that both list the same options.
     */
    static final String USAGE = """
            usage: rseq4j diagnose [--seconds S] [--threads N] [--delay LOOPS] [--index cpu|mmcid]
              ./rseq4j help describes the options, their defaults, the output and the exit status;
              through ./rseq4j, diagnose also takes --no-table (skips the JMH table it adds).""";

    /** Limits of the options: larger values are mistakes (an hour of torture, threads the machine cannot start). */
    static final double MAX_SECONDS = 3600;
    static final int MAX_THREADS = 10_000;
    static final int MAX_DELAY = 100_000_000;

    private Diagnostics() {
    }

    public static void main(String[] args) {
        double seconds = 2;
        int threads = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
        int delay = 20_000;
        CpuIndexing index = CpuIndexing.CPU;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--seconds" -> seconds = number(args, ++i, MAX_SECONDS);
                    case "--threads" -> threads = (int) integer(args, ++i, 1, MAX_THREADS);
                    case "--delay" -> delay = (int) integer(args, ++i, 0, MAX_DELAY);
                    case "--index" -> index = switch (value(args, ++i)) {
                        case "cpu" -> CpuIndexing.CPU;
                        case "mmcid" -> CpuIndexing.CONCURRENCY_ID;
                        default -> throw new IllegalArgumentException("--index must be cpu or mmcid");
                    };
                    case "-h", "--help" -> {
                        System.out.println(USAGE);
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown argument " + args[i]);
                }
            }
        } catch (IllegalArgumentException e) {
            System.err.println("rseq4j diagnose: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
        }
        System.exit(run(seconds, threads, delay, index) ? 0 : 1);
    }

    private static boolean run(double seconds, int threads, int delay, CpuIndexing index) {
        RseqStatus status = Rseq.status();
        System.out.println(status);
        System.out.println("currentCpu=" + Rseq.currentCpu() + " currentNumaNode=" + Rseq.currentNumaNode()
                + " concurrencyId=" + Rseq.concurrencyId());
        RseqRuntime runtime = RseqRuntime.get();
        if (index == CpuIndexing.CONCURRENCY_ID && runtime.rseqMode() && !status.mmCid()) {
            System.out.println("index=mmcid unavailable: kernel rseq feature size " + status.featureSize() + " < 28");
            return false;
        }
        PerCpuOps production = !runtime.rseqMode() ? PerCpuOps.cpuIndexed()
                : index == CpuIndexing.CPU ? PerCpuOps.cpuIndexed() : PerCpuOps.concurrencyIdIndexed();
        List<String> failures = SelfTest.checkOnce(production);
        System.out.println("check " + (failures.isEmpty() ? "ok" : "FAILED " + failures));
        PerCpuOps tortured = runtime.rseqMode()
                ? OpsVariant.of(index).withDelay(delay).create()
                : production;
        System.out.printf("torture index=%s threads=%d seconds=%s delayLoops=%d%n",
                runtime.rseqMode() ? index : "lock", threads, seconds, runtime.rseqMode() ? delay : 0);
        boolean ok = failures.isEmpty();
        for (Operation op : Operation.values()) {
            if (!SelfTest.hasOwnRun(op)) {
                continue; // its pair's workload runs it (LIST_PUSH in LIST_POP's, ...)
            }
            SelfTest.Result r = SelfTest.torture(tortured, op, threads, (long) (seconds * 1000));
            System.out.println(r);
            ok &= r.lost() == 0;
        }
        runtime.membarrierFailure().ifPresent(why -> System.out.println("fence=affinity fallbackFences="
                + runtime.fallbackFences() + " because " + why));
        System.out.println(ok ? "result=PASS" : "result=FAIL");
        return ok;
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    /** {@code args[i]} as a number in (0, max], or an error naming the option and the range. */
    private static double number(String[] args, int i, double max) {
        String text = value(args, i);
        try {
            double v = Double.parseDouble(text);
            if (v > 0 && v <= max) {
                return v;
            }
        } catch (NumberFormatException notANumber) {
            // reported below, naming the option
        }
        throw new IllegalArgumentException(args[i - 1] + " must be a number in (0, " + (long) max + "], was " + text);
    }

    /** {@code args[i]} as an integer in [min, max], or an error naming the option and the range. */
    private static long integer(String[] args, int i, long min, long max) {
        String text = value(args, i);
        try {
            long v = Long.parseLong(text);
            if (v >= min && v <= max) {
                return v;
            }
        } catch (NumberFormatException notANumber) {
            // reported below, naming the option
        }
        throw new IllegalArgumentException(args[i - 1] + " must be an integer in [" + min + ", " + max + "], was " + text);
    }
}
