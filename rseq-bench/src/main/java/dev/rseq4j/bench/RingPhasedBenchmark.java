package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuRingBuffer;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpscArrayQueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Phaser;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Contended offers timed on their own: {@code producers} platform threads offer
 * {@value #OFFERS} elements in all into an empty queue large enough to take them all, while no
 * consumer runs; the queue is drained between invocations, untimed ({@link Level#Invocation} set-up).
 * On 2 vCPUs a producer/consumer benchmark with two producers measures the consumer and the
 * scheduler ({@link RingBenchmarks}); here each invocation is the two producers' offers alone, the
 * "phase" in which a real program's producers race, and the consumer's drain is the next phase.
 *
 * <p>Score: nanoseconds per successful offer, all producers together (an invocation's time divided by
 * {@value #OFFERS}); lower is better. Every offer must succeed and the drain must return every element,
 * or the run fails. Capacity: {@value #OFFERS} for {@link MpscArrayQueue}, and {@value #OFFERS}
 * <em>per CPU</em> for ours (the producers may all land on one CPU). The producers wait at a
 * {@link Phaser} between invocations (a few microseconds of an invocation of milliseconds).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(RingPhasedBenchmark.OFFERS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class RingPhasedBenchmark {
    /** Offers per invocation, all producers together. */
    public static final int OFFERS = 1 << 18;
    private static final Integer ELEMENT = 42;

    @Param({"PerCpuRingBuffer", "MpscArrayQueue"})
    String queue;

    @Param({"1", "2"})
    int producers;

    MessagePassingQueue<Integer> q;
    private final Phaser phaser = new Phaser();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicLong failed = new AtomicLong();
    private final List<Thread> threads = new ArrayList<>();

    @Setup(Level.Trial)
    public void setUp() {
        q = switch (queue) {
            case "PerCpuRingBuffer" -> new PerCpuRingBuffer<>(OFFERS);
            case "MpscArrayQueue" -> new MpscArrayQueue<>(OFFERS);
            default -> throw new IllegalArgumentException(queue);
        };
        phaser.register();                       // the benchmark thread
        int share = OFFERS / producers;
        for (int p = 0; p < producers; p++) {
            phaser.register();
            threads.add(Thread.ofPlatform().name("phased-producer-" + p).daemon().start(() -> {
                while (true) {
                    phaser.arriveAndAwaitAdvance();          // start of an invocation
                    if (stop.get()) {
                        phaser.arriveAndDeregister();
                        return;
                    }
                    long fails = 0;
                    for (int i = 0; i < share; i++) {
                        if (!q.offer(ELEMENT)) {
                            fails++;
                        }
                    }
                    failed.addAndGet(fails);
                    phaser.arriveAndAwaitAdvance();          // end of it
                }
            }));
        }
    }

    /** The consumer's phase, untimed: takes every element of the last invocation. */
    @Setup(Level.Invocation)
    public void drain() {
        long n = 0;
        for (int got; (got = q.drain(e -> { })) > 0; ) {
            n += got;
        }
        if (failed.get() != 0 || (n != 0 && n != (long) OFFERS / producers * producers)) {
            throw new IllegalStateException(queue + ": drained " + n + ", failed offers " + failed.get());
        }
    }

    @Benchmark
    public void offers() {
        phaser.arriveAndAwaitAdvance();   // the producers start
        phaser.arriveAndAwaitAdvance();   // and have all finished
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        stop.set(true);
        phaser.arriveAndDeregister();
        for (Thread t : threads) {
            t.join();
        }
    }
}
