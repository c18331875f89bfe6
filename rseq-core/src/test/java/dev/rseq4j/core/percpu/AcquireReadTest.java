package dev.rseq4j.core.percpu;

import dev.rseq4j.core.CpuIndexing;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link PerCpuArea#getLongAcquire}: a consumer that reads a ring's counter with it sees the slot or
 * record committed with that counter (on x86_64 any read would; on arm64 this is the order that
 * the commit's store-release and this load-acquire give together).
 */
class AcquireReadTest {
    private static final long COUNTER = 8;
    private static final long SLOT = 16;
    private static final long RECORDS = 64;
    private static final long STRIDE = 4096;
    /** Records of 16 bytes (header, one long) that fit after {@link #RECORDS}: never overwritten. */
    private static final long CAPACITY = (STRIDE - RECORDS) / 16;

    @Test
    void readsTheCommittedWord() {
        PerCpuOps ops = PerCpuOps.cpuIndexed();
        PerCpuArea area = PerCpuArea.forPossibleCpus(CpuIndexing.CPU, 128);
        int region = area.regions() - 1;
        assertEquals(0, area.getLongAcquire(region, COUNTER));
        ops.storeThenCommit(area, region, COUNTER, 0, SLOT, 42, 1);
        assertEquals(1, area.getLongAcquire(region, COUNTER));
        assertEquals(42, area.getLongAcquire(region, SLOT));
        assertEquals(0, area.getLongAcquire(0, 120) + area.getLongAcquire(region, 120));
    }

    /**
     * A producer appends records (never overwritten) to the region it runs on; a consumer that reads
     * counter n with an acquire read checks record n - 1's header and payload.
     */
    @Test
    void consumerThatSeesTheCounterSeesTheRecord() throws InterruptedException {
        PerCpuOps ops = PerCpuOps.cpuIndexed();
        PerCpuArea area = PerCpuArea.forPossibleCpus(CpuIndexing.CPU, STRIDE);
        AtomicBoolean stop = new AtomicBoolean();
        Thread producer = Thread.ofPlatform().start(() -> {
            long[] payload = new long[1];
            MemorySegment src = MemorySegment.ofArray(payload);
            while (!stop.get()) {
                int here = ops.currentIndex(area);
                long n = area.getLongAcquire(here, COUNTER);
                if (n == CAPACITY) {
                    Thread.onSpinWait();
                    continue;
                }
                payload[0] = ~n;
                ops.copyThenCommit(area, here, COUNTER, n, record(n), (int) n, src, 8, n + 1);
            }
        });
        try {
            long checked = 0;
            for (long deadline = System.nanoTime() + 200_000_000L; System.nanoTime() < deadline; ) {
                for (int r = 0; r < area.regions(); r++) {
                    long n = area.getLongAcquire(r, COUNTER);
                    if (n > 0) {
                        assertEquals((n - 1) << 32 | 8, area.getLongOpaque(r, record(n - 1)), "header of record " + (n - 1));
                        assertEquals(~(n - 1), area.getLongOpaque(r, record(n - 1) + 8), "payload of record " + (n - 1));
                        checked++;
                    }
                }
            }
            System.out.println("acquire reads: " + checked + " records checked");
        } finally {
            stop.set(true);
            producer.join();
        }
    }

    private static long record(long n) {
        return RECORDS + n * 16;
    }
}
