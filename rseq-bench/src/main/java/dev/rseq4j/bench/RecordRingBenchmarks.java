package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuRecordRingBuffer;
import dev.rseq4j.collections.RecordHandler;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
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

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * Byte-record rings side by side, as {@link RingBenchmarks} runs the object queues: N producer
 * threads write one record of {@code size} bytes (16, 64, 256) from a preallocated {@code byte[]}
 * as fast as they can while one consumer thread reads concurrently; one JMH thread group per ring of
 * N producers and one consumer ({@code threadGroups(N, 1)}: JMH orders a group's methods by name,
 * {@code ...Offer} before {@code ...Poll}). The measured quantity is the same: successful writes
 * per second, all producers together ({@link RingBenchmarks.Offers#offersMade}); a write that does
 * not fit counts in {@code offersFailed}, never as throughput.
 *
 * <p>Rings: {@link PerCpuRecordRingBuffer} and Agrona's {@link ManyToOneRingBuffer} (the usual
 * many-to-one byte ring on the JVM: one shared tail claimed with an atomic add). Size: the same bytes
 * <em>per ring</em>, {@value #RING_BYTES}: ours gets {@code bytesPerRegion = 65536}, Agrona a
 * buffer of 65536 bytes plus its trailer. So what one producer can write before a write fails is the
 * same for both, and both take records up to 256 bytes (ours {@code min(4096, 65536 / 8 - 8)},
 * Agrona {@code 65536 / 8}). In total ours holds {@code 64 KiB x possible CPUs} (plus a small
 * per-CPU header), Agrona 64 KiB plus 768 bytes of trailer.
 *
 * <p>Both consumers read batches of up to {@value RingBenchmarks#BATCH} records with a handler that
 * touches nothing (the payload is valid during the call only, in both); both producers copy the
 * record from a heap {@code byte[]} through a wrapper made once: Agrona's {@link UnsafeBuffer}, ours a
 * {@link MemorySegment} ({@code write(int, MemorySegment)}; {@code write(int, byte[], int, int)}
 * makes its segment per call).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// Agrona 2 reads jdk.internal.misc.Unsafe: without the export its buffers fail to initialise.
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED"})
public class RecordRingBenchmarks {
    /** Bytes of one ring: ours per CPU, Agrona's one ring (without its trailer). */
    static final int RING_BYTES = 64 * 1024;
    /** The record type both write (Agrona's and ours must be at least 1). */
    private static final int TYPE = 1;

    private static final RecordHandler IGNORE_RECORD = (type, payload) -> { };
    private static final MessageHandler IGNORE_MESSAGE = (type, buffer, index, length) -> { };

    /** The record every producer writes: {@code size} bytes, in a heap array for both rings. */
    @State(Scope.Benchmark)
    public static class Record {
        @Param({"16", "64", "256"})
        int size;

        MemorySegment segment;
        UnsafeBuffer buffer;

        @Setup(Level.Trial)
        public void setUp() {
            byte[] bytes = new byte[size];
            for (int i = 0; i < size; i++) {
                bytes[i] = (byte) i;
            }
            segment = MemorySegment.ofArray(bytes);
            buffer = new UnsafeBuffer(bytes);
        }
    }

    /** Ours, one per thread group. */
    @State(Scope.Group)
    public static class Ours {
        PerCpuRecordRingBuffer ring;

        @Setup(Level.Trial)
        public void setUp() {
            ring = new PerCpuRecordRingBuffer(RING_BYTES);
        }
    }

    /** Agrona's, one per thread group. */
    @State(Scope.Group)
    public static class Agrona {
        ManyToOneRingBuffer ring;

        @Setup(Level.Trial)
        public void setUp() {
            ring = new ManyToOneRingBuffer(new UnsafeBuffer(
                    ByteBuffer.allocateDirect(RING_BYTES + RingBufferDescriptor.TRAILER_LENGTH)));
        }
    }

    @Benchmark
    @Group("ours")
    public void oursOffer(Ours s, Record r, RingBenchmarks.Offers c) {
        c.count(s.ring.write(TYPE, r.segment));
    }

    @Benchmark
    @Group("ours")
    public int oursPoll(Ours s) {
        return s.ring.read(IGNORE_RECORD, RingBenchmarks.BATCH);
    }

    @Benchmark
    @Group("agrona")
    public void agronaOffer(Agrona s, Record r, RingBenchmarks.Offers c) {
        c.count(s.ring.write(TYPE, r.buffer, 0, r.size));
    }

    @Benchmark
    @Group("agrona")
    public int agronaPoll(Agrona s) {
        return s.ring.read(IGNORE_MESSAGE, RingBenchmarks.BATCH);
    }
}
