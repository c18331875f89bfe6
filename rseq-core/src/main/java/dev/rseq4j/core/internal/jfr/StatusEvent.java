package dev.rseq4j.core.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;

/**
 * {@code dev.rseq4j.Status}: the platform status of {@code Rseq.status()}, at the beginning of every
 * recording chunk (as the JDK's configuration events such as {@code jdk.JVMInformation}), and once
 * when the library starts while a recording is already running. Immutable data: no atomicity concern.
 */
@Name("dev.rseq4j.Status")
@Label("rseq4j Status")
@Description("How rseq4j runs its per-CPU operations in this process: restartable sequences or locks, and why")
@Category({"rseq4j"})
@Period("beginChunk")
@StackTrace(false)
final class StatusEvent extends jdk.jfr.Event {
    @Label("Mode")
    @Description("RSEQ: operations commit inside restartable sequences; LOCK: every operation takes a per-CPU lock")
    String mode;

    @Label("Lock-Mode Reason")
    @Description("Why the process runs in lock mode; empty in RSEQ mode")
    String reason;

    @Label("Registrant")
    @Description("Who registered the threads' rseq area with the kernel: GLIBC, RSEQ4J or NONE")
    String registrant;

    @Label("Feature Size")
    @Description("The kernel's rseq feature size (AT_RSEQ_FEATURE_SIZE); 0 in lock mode")
    @DataAmount(DataAmount.BYTES)
    int featureSize;

    @Label("mm_cid")
    @Description("Whether the kernel maintains concurrency ids (Linux 6.3+)")
    boolean mmCid;

    @Label("Slice Extension")
    @Description("Whether the rseq time-slice extension is available (Linux 7.0+)")
    boolean sliceExtension;

    @Label("Possible CPUs")
    @Description("Per-CPU regions of every structure")
    int possibleCpus;

    @Label("Kernel")
    String kernel;

    @Label("Architecture")
    String architecture;
}
