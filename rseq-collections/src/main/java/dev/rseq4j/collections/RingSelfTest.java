package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The rings' part of {@code ./rseq4j diagnose}, run by {@link PoolSelfTest} after the pools with the
 * same options and the same operations (a busy loop inside every critical section, slow paths forced
 * on random calls): producers (the {@code --threads} count) offer numbered elements, or write
 * numbered records of 1 to 200 bytes, while one consumer takes them. One line per ring:
 * <pre>
 *   op=PerCpuRingBuffer             ops=N aborts=N slowPaths=N duplicated=0 torn=0 lost=0
 * </pre>
 * {@code ops} counts elements (records) delivered; {@code duplicated} counts ones delivered twice;
 * {@code torn} counts elements seen without the fields their producer wrote before the offer
 * (records whose bytes differ from what was written); {@code lost} counts ones offered (written)
 * and never delivered.
 */
final class RingSelfTest {
    private RingSelfTest() {
    }

    record Result(String structure, long ops, long aborts, long slowPaths, long duplicated, long torn, long lost) {
        @Override
        public String toString() {
            return String.format("op=%-28s ops=%d aborts=%d slowPaths=%d duplicated=%d torn=%d lost=%d", structure, ops,
                    aborts, slowPaths, duplicated, torn, lost);
        }

        boolean ok() {
            return duplicated == 0 && torn == 0 && lost == 0;
        }
    }

    static List<Result> run(CpuIndexing index, int delay, int producers, long millis) {
        return List.of(objectRing(PoolSelfTest.ops(index, delay, PerCpuStats.Kind.RING), producers, millis),
                recordRing(PoolSelfTest.ops(index, delay, PerCpuStats.Kind.RECORD_RING), producers, millis));
    }

    /** An element: the producer's plain writes before the offer, checked by the consumer. */
    private static final class Element {
        int producer;
        int sequence;
        long check;
    }

    /** Per-producer delivery bookkeeping of the consumer. */
    private static final class Tally {
        final BitSet[] seen;
        long delivered;
        long duplicated;
        long torn;

        Tally(int producers) {
            seen = new BitSet[producers];
            for (int p = 0; p < producers; p++) {
                seen[p] = new BitSet();
            }
        }

        void deliver(int producer, int sequence, boolean whole) {
            if (!whole || producer < 0 || producer >= seen.length) {
                torn++;
                return;
            }
            if (seen[producer].get(sequence)) {
                duplicated++;
            }
            seen[producer].set(sequence);
            delivered++;
        }

        long lost(int[] offered) {
            long lost = 0;
            for (int p = 0; p < offered.length; p++) {
                lost += offered[p] - seen[p].get(1, offered[p] + 1).cardinality();
            }
            return lost;
        }
    }

    /** What a producer does: try to hand over item {@code sequence}; false when its ring is full. */
    private interface Producer {
        boolean offer(int producer, int sequence);
    }

    /**
     * Runs {@code producers} threads handing over items 1, 2, ... (yielding while their ring is full)
     * while {@code consume} is called in a loop, for {@code millis}; then consumes the rest.
     *
     * @return the count of items each producer handed over
     */
    private static int[] produce(int producers, long millis, Producer producer, Runnable consume) {
        AtomicBoolean stop = new AtomicBoolean();
        int[] offered = new int[producers];
        SelfTestWorkers threads = new SelfTestWorkers(producers, "ring-producer", false, me -> {
            int sequence = 0;
            while (!stop.get()) {
                if (producer.offer(me, sequence + 1)) {
                    sequence++;
                } else {
                    Thread.yield();
                }
            }
            offered[me] = sequence;
        });
        threads.go();
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < deadline) {
            consume.run();
        }
        stop.set(true);
        threads.join();
        consume.run();
        return offered;
    }

    static Result objectRing(PerCpuOps ops, int producers, long millis) {
        PerCpuRingBuffer<Element> q = new PerCpuRingBuffer<>(ops, 64);
        Tally tally = new Tally(producers);
        int[] offered = produce(producers, millis, (p, s) -> {
            Element e = new Element();
            e.producer = p;
            e.sequence = s;
            e.check = p * 1_000_003L + s;
            return q.offer(e);
        }, () -> q.drain(e -> tally.deliver(e.producer, e.sequence, e.check == e.producer * 1_000_003L + e.sequence
                && e.check != 0)));
        return new Result("PerCpuRingBuffer", tally.delivered, ops.stats().aborts(), ops.stats().slowPaths(),
                tally.duplicated, tally.torn, tally.lost(offered));
    }

    /** Record {@code s} of producer {@code p}: {@code 1 + (s % 200)} bytes, byte i = (p * 31 + s + i). */
    private static byte recordByte(int producer, int sequence, int i) {
        return (byte) (producer * 31 + sequence + i);
    }

    private static void checkRecord(Tally tally, int typeId, MemorySegment payload) {
        int p = typeId - 1;
        int s = payload.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        int length = Math.max(4, 1 + Math.floorMod(s, 200));
        boolean whole = payload.byteSize() == length && payload.isReadOnly();
        for (int i = 4; whole && i < length; i++) {
            whole = payload.get(ValueLayout.JAVA_BYTE, i) == recordByte(p, s, i);
        }
        tally.deliver(p, s, whole);
    }

    static Result recordRing(PerCpuOps ops, int producers, long millis) {
        PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(ops, 4096);
        Tally tally = new Tally(producers);
        ThreadLocal<byte[]> buffers = ThreadLocal.withInitial(() -> new byte[256]);
        boolean[] stuck = new boolean[1];
        int[] offered = produce(producers, millis, (p, s) -> {
            byte[] b = buffers.get();
            int length = 1 + s % 200;
            for (int i = 0; i < length; i++) {
                b[i] = recordByte(p, s, i);
            }
            // The sequence number goes in the first 4 bytes (overwriting the pattern there).
            b[0] = (byte) s;
            b[1] = (byte) (s >>> 8);
            b[2] = (byte) (s >>> 16);
            b[3] = (byte) (s >>> 24);
            return ring.write(p + 1, b, 0, Math.max(4, length));
        }, () -> {
            if (stuck[0]) {
                return;             // a corrupt header stops the ring: only the negative control gets here
            }
            try {
                ring.read((typeId, payload) -> checkRecord(tally, typeId, payload));
            } catch (IllegalStateException corrupt) {
                tally.torn++;
                stuck[0] = true;
            }
        });
        return new Result("PerCpuRecordRingBuffer", tally.delivered, ops.stats().aborts(), ops.stats().slowPaths(),
                tally.duplicated, tally.torn, tally.lost(offered));
    }
}
