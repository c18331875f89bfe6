package dev.rseq4j.collections;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The contract of {@link PerCpuRecordRingBuffer}: sizes and limits, every bad argument rejected
 * before any native call, records read back whole and in order through wrap-arounds and padding,
 * the full boundary, read limits, a throwing handler, fairness and the migrating producer. Regions
 * are pinned over lock mode ({@link PinnedOps}). Concurrency and torture: {@link RingTortureTest}.
 */
class PerCpuRecordRingBufferTest {
    /** A record as read: its type and a copy of its payload. */
    private record Read(int typeId, byte[] payload) {
    }

    private static List<Read> readAll(PerCpuRecordRingBuffer ring) {
        List<Read> out = new ArrayList<>();
        ring.read((typeId, payload) -> out.add(new Read(typeId, payload.toArray(ValueLayout.JAVA_BYTE))));
        return out;
    }

    private static byte[] bytes(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed * 7 + i);
        }
        return b;
    }

    @Test
    void sizesRoundUpAndLimitsAreNamed() {
        assertEquals(256, new PerCpuRecordRingBuffer(256).bytesPerRegion());
        assertEquals(512, new PerCpuRecordRingBuffer(257).bytesPerRegion());
        assertEquals(24, new PerCpuRecordRingBuffer(256).maxRecordLength(), "an eighth of the ring minus the header");
        assertEquals(4096, new PerCpuRecordRingBuffer(1 << 16).maxRecordLength(), "the copy limit");
        for (int bad : new int[] {0, 255, -1, PerCpuRecordRingBuffer.MAX_BYTES_PER_REGION + 1}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new PerCpuRecordRingBuffer(bad));
            assertTrue(e.getMessage().contains("bytesPerRegion must be in [256, " + (1 << 30) + "]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> PerCpuRecordRingBuffer.builder(bad));
        }
    }

    @Test
    void badArgumentsAreRejectedBeforeAnyNativeCall() {
        PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(1024);
        int max = ring.maxRecordLength();
        byte[] src = new byte[max + 1];
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ring.write(0, src, 0, 1)).getMessage()
                .contains("typeId must be at least 1, was 0"));
        assertThrows(IllegalArgumentException.class, () -> ring.write(-1, src, 0, 1));
        assertTrue(assertThrows(NullPointerException.class, () -> ring.write(1, null, 0, 1)).getMessage().contains("src"));
        assertThrows(NullPointerException.class, () -> ring.write(1, (MemorySegment) null));
        assertTrue(assertThrows(IndexOutOfBoundsException.class, () -> ring.write(1, src, -1, 1)).getMessage()
                .contains("offset -1"));
        assertThrows(IndexOutOfBoundsException.class, () -> ring.write(1, src, 0, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> ring.write(1, src, 1, src.length));
        assertThrows(IndexOutOfBoundsException.class, () -> ring.write(1, src, Integer.MAX_VALUE, 2));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ring.write(1, src, 0, max + 1)).getMessage()
                .contains("at most maxRecordLength() " + max));
        assertThrows(IllegalArgumentException.class, () -> ring.write(1, MemorySegment.ofArray(src)));
        MemorySegment closed;
        try (Arena arena = Arena.ofConfined()) {
            closed = arena.allocate(8);
        }
        assertThrows(IllegalStateException.class, () -> ring.write(1, closed));
        assertThrows(NullPointerException.class, () -> ring.read(null));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ring.read((t, p) -> { }, 0)).getMessage()
                .contains("limit must be positive"));
        assertEquals(0, ring.size(), "nothing was written by the failed calls");
        assertEquals(0, ring.read((t, p) -> { throw new AssertionError("no record expected"); }));
    }

    @Test
    void recordsComeBackWholeAndInOrderThroughWrapsAndPadding() {
        PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(PinnedOps.lockMode(0), 256);
        SplittableRandom random = new SplittableRandom(42);
        ArrayDeque<Read> expected = new ArrayDeque<>();
        int written = 0;
        for (int round = 0; round < 2_000; round++) {
            int length = random.nextInt(ring.maxRecordLength() + 1);   // 0 .. 24: records of 8 .. 32 bytes
            byte[] payload = bytes(length, round);
            boolean heap = random.nextBoolean();
            boolean ok;
            if (heap) {
                byte[] framed = new byte[length + 3];
                System.arraycopy(payload, 0, framed, 3, length);
                ok = ring.write(1 + round % 5, framed, 3, length);
            } else {
                try (Arena arena = Arena.ofConfined()) {
                    ok = ring.write(1 + round % 5, arena.allocate(length).copyFrom(MemorySegment.ofArray(payload)));
                }
            }
            if (ok) {
                expected.add(new Read(1 + round % 5, payload));
                written++;
            }
            if (!ok || random.nextInt(4) == 0) {
                for (Read r : readAll(ring)) {
                    Read e = expected.poll();
                    assertTrue(e != null, "read a record that was never written");
                    assertEquals(e.typeId(), r.typeId());
                    assertArrayEquals(e.payload(), r.payload(), "round " + round);
                }
                assertTrue(expected.isEmpty(), "everything written was read");
            }
        }
        assertTrue(written > 1_500, "most writes fit: " + written);
    }

    @Test
    void aFullRingRefusesUntilTheConsumerReads() {
        PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(PinnedOps.lockMode(0), 256);
        byte[] payload = bytes(24, 1);                           // 32 bytes a record: 8 fill the ring
        for (int i = 0; i < 8; i++) {
            assertTrue(ring.write(1, payload, 0, 24), "record " + i);
        }
        assertEquals(256, ring.size());
        assertFalse(ring.write(1, payload, 0, 0), "not even an empty record fits");
        assertEquals(3, ring.read((t, p) -> { }, 3));
        assertTrue(ring.write(1, payload, 0, 24));
        assertEquals(6, readAll(ring).size());
        assertEquals(0, ring.size());
    }

    @Test
    void theHandlerSeesAReadOnlyViewAndAThrowingHandlerConsumesItsRecord() {
        PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(PinnedOps.lockMode(0), 1024);
        for (int i = 1; i <= 3; i++) {
            assertTrue(ring.write(i, bytes(16, i), 0, 16));
        }
        assertThrows(IllegalStateException.class, () -> ring.read((typeId, payload) -> {
            assertTrue(payload.isReadOnly());
            assertEquals(16, payload.byteSize());
            assertThrows(IllegalArgumentException.class, () -> payload.set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
            throw new IllegalStateException("handler failed on " + typeId);
        }));
        List<Read> rest = readAll(ring);
        assertEquals(List.of(2, 3), rest.stream().map(Read::typeId).toList(), "record 1 was consumed, not redelivered");
    }

    /** A handler that reads the same ring again would see the records of the outer read: refused, nothing lost. */
    @Test
    void aReadFromInsideAHandlerIsRefusedAndDeliversNothingTwice() {
        PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(PinnedOps.lockMode(0), 1024);
        for (int i = 1; i <= 3; i++) {
            assertTrue(ring.write(i, bytes(16, i), 0, 16));
        }
        List<Integer> seen = new ArrayList<>();
        List<RuntimeException> refused = new ArrayList<>();
        ring.read((typeId, payload) -> {
            seen.add(typeId);
            try {
                ring.read((t, p) -> seen.add(-t));
            } catch (IllegalStateException e) {
                refused.add(e);
            }
        });
        assertEquals(List.of(1, 2, 3), seen, "each record once, none from the inner read");
        assertEquals(3, refused.size());
        assertTrue(refused.get(0).getMessage().contains("read called from inside a RecordHandler"),
                refused.get(0).getMessage());
        assertTrue(ring.write(4, bytes(16, 4), 0, 16));
        assertEquals(List.of(4), readAll(ring).stream().map(Read::typeId).toList(), "usable afterwards");
    }

    @Test
    void readVisitsRingsInTurnAndAMigratingWriterMaySeeItsRecordsReordered() {
        assumeTrue(new PerCpuRecordRingBuffer(256).regions() >= 2, "needs two regions");
        PinnedOps ops = PinnedOps.lockMode(1);
        PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(ops, 1024);
        assertTrue(ring.write(1, bytes(4, 1), 0, 4));   // region 1
        assertTrue(ring.write(2, bytes(4, 2), 0, 4));   // region 1
        ops.here = 0;                                     // the writer migrates
        assertTrue(ring.write(3, bytes(4, 3), 0, 4));   // region 0, which is read first
        List<Integer> order = new ArrayList<>();
        while (ring.read((typeId, p) -> order.add(typeId), 1) > 0) {
            // one record per call: each call starts at the ring after the last one it visited
        }
        assertEquals(List.of(3, 1, 2), order, "FIFO per ring, no order across rings");
    }

    /** As the object ring's size test: one record at most is in the ring, so size() is 0 or one record's bytes. */
    @Test
    void sizeNeverExceedsWhatTheRingsHeldWhileOthersWriteAndRead() throws Exception {
        PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(4096);
        long oneRecord = RecordDescriptor.recordBytes(8);
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        byte[] payload = bytes(8, 1);
        Thread writerReader = new Thread(() -> {
            try {
                while (!stop.get()) {
                    assertTrue(ring.write(1, payload, 0, 8));
                    assertEquals(1, ring.read((typeId, p) -> { }));
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        writerReader.start();
        long samples = 0;
        long worst = 0;
        long end = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < end) {
            long size = ring.size();
            samples++;
            if (size != 0 && size != oneRecord) {
                worst = Math.max(worst, size);
            }
        }
        stop.set(true);
        writerReader.join();
        assertEquals(null, failure.get());
        assertEquals(0, worst, "size() other than 0 or " + oneRecord + " in " + samples + " samples");
        assertEquals(0, ring.size(), "exact when quiescent");
    }
}
