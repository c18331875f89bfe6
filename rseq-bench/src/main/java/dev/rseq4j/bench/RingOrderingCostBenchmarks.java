package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuRingBuffer;
import org.jctools.queues.MpscArrayQueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * What a per-producer FIFO mode of {@link PerCpuRingBuffer} would cost at least (issue 29, item 3):
 * one thread offers then polls one element, ns per pair, for ours, ours with a {@code System.nanoTime()}
 * stamp per offer (the cheapest order key a producer can take without an atomic: the monotonic clock
 * is monotonic across CPUs, so a producer's later offer gets a later stamp wherever it runs), and
 * {@code MpscArrayQueue}; {@code nanoTime} alone for scale. A lower bound of the mode: it leaves out
 * storing the stamp beside the slot and the consumer's merge of every ring's head by stamp.
 *
 * <pre>java -cp rseq-bench/target/benchmarks.jar org.openjdk.jmh.Main RingOrderingCostBenchmarks</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class RingOrderingCostBenchmarks {
    private static final Integer ELEMENT = 42;
    private final PerCpuRingBuffer<Integer> ours = new PerCpuRingBuffer<>(1024);
    private final MpscArrayQueue<Integer> mpsc = new MpscArrayQueue<>(1024);

    @Benchmark
    public Integer oursOfferPoll() {
        ours.offer(ELEMENT);
        return ours.poll();
    }

    @Benchmark
    public long oursStampedOfferPoll() {
        long stamp = System.nanoTime();
        ours.offer(ELEMENT);
        return stamp + ours.poll();
    }

    @Benchmark
    public Integer mpscArrayQueueOfferPoll() {
        mpsc.offer(ELEMENT);
        return mpsc.poll();
    }

    @Benchmark
    public long nanoTime() {
        return System.nanoTime();
    }
}
