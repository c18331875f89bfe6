package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuRingBuffer;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpscArrayQueue;
import org.jctools.queues.MpscUnboundedXaddArrayQueue;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Multi-producer, single-consumer queues side by side: N producer threads {@code offer} one
 * preallocated element as fast as they can while one consumer thread drains concurrently
 * ({@code CounterReport --rings} runs N = 1, 2, 4, 8, one JMH thread group of N producers and one
 * consumer: {@code threadGroups(N, 1)}; JMH orders a group's methods by name, {@code offer} before
 * {@code poll}).
 *
 * <p>The measured quantity is <em>successful offers per second, all producers together</em>: the
 * {@code offersMade} counter ({@link AuxCounters}), as in JCTools' own {@code QueueThroughput*}
 * benchmarks. A failed offer (the ring full) counts in {@code offersFailed}, never as throughput, so
 * a consumer that falls behind cannot make producers that fail fast look fast: once the queue is
 * full, the figure is the rate at which the consumer frees room. The consumer's own invocations
 * (JMH's primary score for the group) are not reported.
 *
 * <p>Queues ({@code queue} parameter): {@link PerCpuRingBuffer}, JCTools {@link MpscArrayQueue} and
 * {@link MpscUnboundedXaddArrayQueue} (chunks of 1024), {@link ArrayBlockingQueue}, {@link ConcurrentLinkedQueue}.
 * Capacity: {@value #CAPACITY} for every bounded queue, and {@value #CAPACITY} <em>per CPU</em> for
 * ours ({@code new PerCpuRingBuffer<>(8192)}): what one producer can put in before its offer fails
 * is then the same for all, and it is the drop-in the class documents ({@code new MpscArrayQueue<>(n)}
 * becomes {@code new PerCpuRingBuffer<>(n)}). Ours holds {@code 8192 x possible CPUs} references in
 * all (32 KiB per CPU with compressed references). The unbounded queues get the same bound on their
 * backlog ({@link Backlog}), or a consumer slower than the producers would fill the heap and the
 * figure would measure the GC.
 *
 * <p>The consumer drains batches of up to {@value #BATCH}: {@code drain} for the JCTools interface
 * (ours and JCTools'), a loop of {@code poll} for the {@code java.util.concurrent} queues. Producers
 * allocate nothing; CLQ allocates its nodes.
 *
 * <p>The figures measure the queues only when every thread has a core: N producers plus the consumer
 * at most the idle cores. Oversubscribed, producers and consumer take turns on the cores, and the
 * consumer empties a full queue once per time slice: the figure then measures the scheduler (smoke
 * runs on two busy cores: about 1 M offers/s for every queue, 90 to 99% of offers failed).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class RingBenchmarks {
    /** The capacity of the bounded queues (per CPU for ours), and the backlog bound of the unbounded ones. */
    static final int CAPACITY = 8192;
    /** Elements the consumer takes per invocation at most. */
    static final int BATCH = 256;

    /** The element every producer offers: preallocated, so the measured loop allocates nothing. */
    private static final Integer ELEMENT = 42;

    /** The queue of one thread group. */
    @State(Scope.Group)
    public static class Queues {
        @Param({"PerCpuRingBuffer", "MpscArrayQueue", "MpscUnboundedXaddArrayQueue", "ArrayBlockingQueue",
            "ConcurrentLinkedQueue"})
        String queue;

        Queue<Integer> q;
        /** {@link #q} as a JCTools queue (drained with drain), or null for java.util.concurrent's. */
        MessagePassingQueue<Integer> mpq;
        /** For the unbounded queues, the bound on their backlog; null for the bounded ones. */
        Backlog backlog;

        @Setup(Level.Trial)
        public void setUp() {
            switch (queue) {
                case "PerCpuRingBuffer" -> passing(new PerCpuRingBuffer<>(CAPACITY));
                case "MpscArrayQueue" -> passing(new MpscArrayQueue<>(CAPACITY));
                case "MpscUnboundedXaddArrayQueue" -> passing(new MpscUnboundedXaddArrayQueue<>(1024));
                case "ArrayBlockingQueue" -> q = new ArrayBlockingQueue<>(CAPACITY);
                case "ConcurrentLinkedQueue" -> q = new ConcurrentLinkedQueue<>();
                default -> throw new IllegalArgumentException(queue);
            }
            backlog = q instanceof MpscUnboundedXaddArrayQueue || q instanceof ConcurrentLinkedQueue ? new Backlog() : null;
        }

        private <Q extends Queue<Integer> & MessagePassingQueue<Integer>> void passing(Q queue) {
            q = queue;
            mpq = queue;
        }
    }

    /**
     * A bound on an unbounded queue's backlog, cheap enough not to be the bottleneck: producers take
     * credit for {@value #CREDIT} offers at a time from a shared count (one atomic add per
     * {@value #CREDIT} offers); the consumer publishes how many it took. A producer refused credit
     * counts a failed offer, as if the queue were full. The backlog stays below {@link #CAPACITY}
     * plus one credit per producer.
     */
    static final class Backlog {
        static final int CREDIT = 256;
        final AtomicLong granted = new AtomicLong();
        /** Written by the consumer only. */
        volatile long consumed;
        long pad1, pad2, pad3, pad4, pad5, pad6, pad7;

        /** Takes {@link #CREDIT} offers for a producer, or returns false if the backlog is full. */
        boolean take() {
            if (granted.get() - consumed >= CAPACITY) {
                return false;
            }
            granted.addAndGet(CREDIT);
            return true;
        }
    }

    /** A producer's counters: JMH reports their sums over the producers, per second. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Offers {
        public long offersMade;
        public long offersFailed;
        /** Offers left of this producer's backlog credit (unbounded queues only). */
        int credit;

        @Setup(Level.Iteration)
        public void reset() {
            offersMade = 0;
            offersFailed = 0;
        }

        /** Whether an unbounded queue's producer may offer now (always, for a bounded queue: it bounds itself). */
        boolean mayOffer(Backlog backlog) {
            if (backlog == null || credit-- > 0) {
                return true;
            }
            if (backlog.take()) {
                credit = Backlog.CREDIT - 1;
                return true;
            }
            credit = 0;
            return false;
        }

        void count(boolean made) {
            if (made) {
                offersMade++;
            } else {
                offersFailed++;
            }
        }
    }

    /** The consumer's running total, published to {@link Backlog#consumed} (unbounded queues only). */
    @State(Scope.Thread)
    public static class Polls {
        long consumed;

        void count(Backlog backlog, int n) {
            if (backlog != null && n > 0) {
                backlog.consumed = consumed += n;
            }
        }
    }

    @Benchmark
    @Group("queue")
    public void offer(Queues s, Offers c) {
        c.count(c.mayOffer(s.backlog) && s.q.offer(ELEMENT));
    }

    @Benchmark
    @Group("queue")
    public int poll(Queues s, Polls p) {
        int n;
        if (s.mpq != null) {
            n = s.mpq.drain(e -> { }, BATCH);
        } else {
            n = 0;
            while (n < BATCH && s.q.poll() != null) {
                n++;
            }
        }
        p.count(s.backlog, n);
        return n;
    }
}
