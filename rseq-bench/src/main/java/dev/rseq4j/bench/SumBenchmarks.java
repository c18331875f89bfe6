package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuCounter;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/** The cost of reading the sum, single-threaded, of a counter that several CPUs have updated. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class SumBenchmarks {
    PerCpuCounter perCpu;
    LongAdder longAdder;

    @Setup
    public void setUp() throws InterruptedException {
        perCpu = new PerCpuCounter();
        longAdder = new LongAdder();
        Inflation.inflate(longAdder, perCpu::increment);
    }

    @Benchmark
    public long perCpuCounterSum() {
        return perCpu.sum();
    }

    @Benchmark
    public long longAdderSum() {
        return longAdder.sum();
    }
}
