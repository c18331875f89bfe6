package dev.rseq4j.core.internal.jfr;

import dev.rseq4j.core.Rseq;
import dev.rseq4j.core.RseqStatus;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Registers this library's JDK Flight Recorder events: {@code dev.rseq4j.Status} (every chunk),
 * {@code dev.rseq4j.PerCpuStatistics} (one per structure kind, {@link #tally}),
 * {@code dev.rseq4j.LockStatistics} and {@code dev.rseq4j.PoolStatistics} (periodic). Enable them as any event: {@code
 * -XX:StartFlightRecording} (they are on in the {@code default} and {@code profile} settings through
 * their annotations), {@code jcmd JFR.start}, or {@code jdk.jfr.Recording#enable("dev.rseq4j.*")}.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li>Free when no recording runs: nothing here is on any operation's path; the structures only
 *       add to process-wide tallies on their rare paths ({@link KindTally}, {@link LockTally}),
 *       and JFR calls the hooks only while a recording has the event enabled. A hook reads a few
 *       dozen {@code LongAdder}s: no allocation beyond the events, no lock, no system call.</li>
 *   <li>Registered once ({@link #register}, from the first {@code PerCpuStats} of an operations
 *       instance, i.e. the first per-CPU operations, whatever the mode), as a recorder listener
 *       that adds the hooks when the recorder initialises: a process that never records loads no
 *       event metadata. Inside try/catch: a JVM without JFR (a minimal runtime image
 *       would fail at module resolution instead, since the core requires {@code jdk.jfr}; a JVM
 *       with JFR disabled or failing) still runs, without events.</li>
 *   <li>Only a library loaded by the system class loader (the application's class path or module
 *       path, the usual case; such a loader is never unloaded) registers. The recorder holds its
 *       listeners and periodic hooks strongly for the life of the process, so a copy in another
 *       loader (an application server's redeployable application) that registered would pin that
 *       loader and every class of it after an undeploy: a leak per redeploy ({@code
 *       ClassLoaderLeakTest}). Such copies emit no events.</li>
 *   <li>A {@code beginChunk} hook runs when a chunk starts; a recording already running when the
 *       library starts (the usual {@code -XX:StartFlightRecording}) would see no Status until its
 *       next chunk, so adding the hooks also commits one at once (if a recording has it enabled).</li>
 *   <li>The counts are cumulative since start and not snapshots: each figure is a sum of adders read
 *       while updates may go on; a difference between two events of one kind is what happened in
 *       between, give or take the updates in flight.</li>
 * </ul>
 */
public final class RseqEvents {
    private static final AtomicBoolean REGISTERED = new AtomicBoolean();
    /** One per kind, in the order the kinds were created (a handful, at class initialisation). */
    private static final List<KindTally> TALLIES = new CopyOnWriteArrayList<>();

    private RseqEvents() {
    }

    /** A new tally for structure kind {@code kind}, reported by {@code dev.rseq4j.PerCpuStatistics}; call once per kind. */
    public static KindTally tally(String kind) {
        KindTally t = new KindTally(kind);
        TALLIES.add(t);
        return t;
    }

    /**
     * Adds the periodic hooks once the recorder is initialized (now, if it is); once per process; never
     * throws.
     */
    public static void register() {
        if (!REGISTERED.compareAndSet(false, true)) {
            return;
        }
        if (RseqEvents.class.getClassLoader() != ClassLoader.getSystemClassLoader()) {
            return;     // NOTE: a copy in a redeployable loader: no events, see the notes
        }
        try {
            // NOTE: a listener (about 1 ms), not addPeriodicEvent at once: registering an event type
            // initialises the recorder's metadata, some 350 ms of start-up measured on a busy 2-core
            // machine, which a process that never records must not pay. The recorder calls the listener
            // when it initialises (-XX:StartFlightRecording, jcmd JFR.start, new Recording()), or at
            // once from addListener if it already has.
            jdk.jfr.FlightRecorder.addListener(new jdk.jfr.FlightRecorderListener() {
                @Override
                public void recorderInitialized(jdk.jfr.FlightRecorder recorder) {
                    addHooks();
                }
            });
        } catch (Throwable noJfr) {   // Error too: a JVM whose JFR cannot start must still run the library
            // NOTE: nothing to report to: the library works the same without its events
        }
    }

    private static final AtomicBoolean HOOKED = new AtomicBoolean();

    private static void addHooks() {
        if (!HOOKED.compareAndSet(false, true)) {
            return;
        }
        try {
            jdk.jfr.FlightRecorder.addPeriodicEvent(StatusEvent.class, RseqEvents::emitStatus);
            jdk.jfr.FlightRecorder.addPeriodicEvent(PerCpuStatisticsEvent.class, RseqEvents::emitPerCpuStatistics);
            jdk.jfr.FlightRecorder.addPeriodicEvent(LockStatisticsEvent.class, RseqEvents::emitLockStatistics);
            jdk.jfr.FlightRecorder.addPeriodicEvent(PoolStatisticsEvent.class, RseqEvents::emitPoolStatistics);
            emitStatus();   // for a recording that is already running (see the notes)
        } catch (Throwable noJfr) {
            // NOTE: as in register: no events, the library unchanged
        }
    }

    private static void emitStatus() {
        StatusEvent e = new StatusEvent();
        if (!e.isEnabled()) {
            return;
        }
        RseqStatus s = Rseq.status();
        e.mode = s.mode().name();
        e.reason = s.lockReason().orElse("");
        e.registrant = s.registrant().name();
        e.featureSize = s.featureSize();
        e.mmCid = s.mmCid();
        e.sliceExtension = s.sliceExtension();
        e.possibleCpus = s.possibleCpus();
        e.kernel = s.kernelRelease();
        e.architecture = s.architecture();
        e.commit();
    }

    private static void emitPerCpuStatistics() {
        for (KindTally t : TALLIES) {
            PerCpuStatisticsEvent e = new PerCpuStatisticsEvent();
            e.kind = t.kind();
            e.aborts = t.aborts.sum();
            e.slowPaths = t.slowPaths.sum();
            e.guarded = t.guarded.sum();
            e.invalidIndex = t.invalidIndex.sum();
            e.moved = t.moved.sum();
            e.guardWaits = t.guardWaits.sum();
            e.guardWaitTime = t.guardWaitNanos.sum();
            e.commit();
        }
    }

    private static void emitLockStatistics() {
        LockStatisticsEvent e = new LockStatisticsEvent();
        e.contended = LockTally.CONTENDED.sum();
        e.parks = LockTally.PARKS.sum();
        e.wakeups = LockTally.WAKEUPS.sum();
        e.sliceGrants = LockTally.SLICE_GRANTS.sum();
        e.sliceYields = LockTally.SLICE_YIELDS.sum();
        e.commit();
    }

    private static void emitPoolStatistics() {
        PoolStatisticsEvent e = new PoolStatisticsEvent();
        e.refills = PoolTally.REFILLS.sum();
        e.spills = PoolTally.SPILLS.sum();
        e.steals = PoolTally.STEALS.sum();
        e.created = PoolTally.CREATED.sum();
        e.dropped = PoolTally.DROPPED.sum();
        e.commit();
    }
}
