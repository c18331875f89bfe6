package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuCounter;
import dev.rseq4j.collections.PerCpuObjectPool;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * What the JDK Flight Recorder events cost: the same operations with no recording and with a
 * recording that has every {@code dev.rseq4j} event on at a 100 ms period (ten times the default
 * rate), in one JMH run (the command is in docs/benchmarks.md). The operations: {@code PerCpuCounter.increment}
 * (the fast path, which the events must not touch) and a pool acquire + close (whose rare paths
 * add to the per-kind tallies the events read).
 *
 * <p>The recording case is a separate fork with {@code -XX:StartFlightRecording}; both forks are
 * otherwise identical, so the ratio recording / none is the events' cost, and the none case, beside
 * {@code CounterBenchmarks}' figures, shows that the tallies cost nothing when no one records.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class FlightRecorderBenchmarks {
    static final String NATIVE = "--enable-native-access=ALL-UNNAMED";
    static final String RECORDING = "-XX:StartFlightRecording=settings=default,disk=false,"
            + "+dev.rseq4j.PerCpuStatistics#period=100 ms,+dev.rseq4j.LockStatistics#period=100 ms";

    /** {@code counter}: increment; {@code pool}: acquire + close of a pooled object. */
    @Param({"counter", "pool"})
    String op;

    PerCpuCounter counter;
    PerCpuObjectPool<byte[]> pool;

    @Setup
    public void setUp() {
        counter = new PerCpuCounter();
        pool = PerCpuObjectPool.builder(() -> new byte[64]).build();
    }

    long run() {
        if (op.equals("counter")) {
            counter.increment();
            return 0;
        }
        try (PerCpuObjectPool.Lease<byte[]> lease = pool.acquire()) {
            return lease.get().length;
        }
    }

    @Benchmark
    @Fork(value = 1, jvmArgsAppend = NATIVE)
    public long none() {
        return run();
    }

    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {NATIVE, RECORDING})
    public long recording() {
        return run();
    }
}
