package dev.rseq4j.collections;

import dev.rseq4j.core.percpu.BlockMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static dev.rseq4j.collections.PerCpuFreeListTest.rejects;
import static dev.rseq4j.collections.PerCpuFreeListTest.rejectsNull;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The memory pool's contract: block size and alignment, refusal of anything that is not a free-able
 * block of this pool, exhaustion, close, committed memory in steps; under eight threads no block is
 * held twice (an owner tag in the block itself, set and cleared by compare-and-set) and none is lost.
 */
class PerCpuMemoryPoolTest {
    /** The owner tag at offset 0 of every block, accessed atomically. */
    static final VarHandle TAG = ValueLayout.JAVA_LONG.varHandle();

    private static void assertIllegalState(String mustMention, Executable call) {
        IllegalStateException e = assertThrows(IllegalStateException.class, call);
        assertTrue(e.getMessage().contains(mustMention), "message '" + e.getMessage() + "' should mention " + mustMention);
    }

    @Test
    void blocksAreExactlyBlockSizeAndAligned() {
        for (long size : new long[] {1, 7, 8, 24, 64, 100, 4096, 5000}) {
            try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(size).maxBlocks(100).build()) {
                assertEquals(size, pool.blockSize());
                Set<Long> addresses = new HashSet<>();
                List<MemorySegment> blocks = new ArrayList<>();
                for (int i = 0; i < 40; i++) {
                    MemorySegment b = pool.allocate();
                    assertEquals(size, b.byteSize(), "size " + size);
                    assertEquals(0, b.address() % pool.alignment(), "aligned to " + pool.alignment());
                    assertTrue(b.isNative());
                    assertTrue(addresses.add(b.address()), "distinct blocks");
                    for (long off = 0; off < size; off++) {
                        assertEquals(0, b.get(ValueLayout.JAVA_BYTE, off), "a new block is zeroed");
                    }
                    b.fill((byte) 0x5A);      // the whole block is writable, and blocks do not overlap
                    blocks.add(b);
                }
                for (MemorySegment b : blocks) {
                    assertEquals((byte) 0x5A, b.get(ValueLayout.JAVA_BYTE, size - 1));
                    pool.free(b);
                }
                assertEquals(pool.carved(), pool.freeBlocks());
            }
        }
    }

    @Test
    void defaultAlignmentIsTheBlockSizeRoundedUpToAPowerOfTwoAtMost4096() {
        long page = BlockMemory.maxAlignment();
        // Beyond a page, a stride's lowest bit is no alignment: the range is only page-aligned.
        // Several pools, so that some range starts at an odd page.
        List<PerCpuMemoryPool> pools = new ArrayList<>();
        try {
            for (int i = 0; i < 16; i++) {
                PerCpuMemoryPool pool = PerCpuMemoryPool.builder(5000).maxBlocks(3 + i).build();
                pools.add(pool);
                assertTrue(pool.alignment() <= page, "at most the page size: " + pool);
                assertEquals(0, pool.allocate().address() % pool.alignment(), "aligned to alignment(): " + pool);
            }
        } finally {
            pools.forEach(PerCpuMemoryPool::close);
        }
        long[][] expected = {{1, 1}, {2, 2}, {3, 4}, {8, 8}, {24, 32}, {100, 128}, {1000, 1024}, {4096, 4096},
                {4097, 4096}, {10_000, 4096}};
        for (long[] e : expected) {
            try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(e[0]).maxBlocks(4).build()) {
                assertEquals(Math.min(e[1], page), pool.alignment(), "blockSize " + e[0]);
            }
        }
        try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(24).alignment(8).maxBlocks(4).build()) {
            assertEquals(8, pool.alignment(), "explicit alignment");
            assertEquals(16, PerCpuMemoryPool.builder(16).alignment(16).maxBlocks(1).build().alignment());
            MemorySegment a = pool.allocate();
            MemorySegment b = pool.allocate();
            assertEquals(0, a.address() % 8);
            assertEquals(0, (b.address() - a.address()) % 24, "stride: 24 rounded up to 8");
        }
    }

    @Test
    void freeRefusesAnythingThatIsNotAnAllocatedBlockOfThisPool() {
        try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(64).maxBlocks(1000).build();
             PerCpuMemoryPool other = PerCpuMemoryPool.builder(64).maxBlocks(1000).build();
             Arena arena = Arena.ofConfined()) {
            MemorySegment block = pool.allocate();
            MemorySegment foreign = other.allocate();
            rejectsNull("block", () -> pool.free(null));
            rejects("heap segment", () -> pool.free(MemorySegment.ofArray(new byte[64])));
            rejects("another arena", () -> pool.free(foreign));
            rejects("another arena", () -> pool.free(arena.allocate(64, 64)));
            rejects("another arena", () -> pool.free(MemorySegment.ofAddress(block.address()).reinterpret(64)));
            rejects("whole block, not a slice", () -> pool.free(block.asSlice(0, 32)));
            rejects("must start at a block", () -> pool.free(block.asSlice(8)));
            rejects("must start at a block", () -> pool.free(block.asSlice(1, 63)));
            // same arena, beyond the block (a restricted reinterpret): misaligned, or a block never allocated
            MemorySegment wide = block.reinterpret(64 * 600);
            rejects("must start at a block", () -> pool.free(wide.asSlice(32, 64)));
            rejects("never allocated", () -> pool.free(wide.asSlice(64 * 500, 64)));
            assertEquals(pool.carved() - 1, pool.freeBlocks(), "nothing refused was freed");
            pool.free(block.asReadOnly());      // a read-only view of the block is the block
            other.free(foreign);
            assertEquals(other.carved(), other.freeBlocks());
            assertEquals(pool.carved(), pool.freeBlocks());
        }
    }

    @Test
    void doubleFreeIsRefusedInBothModes() {
        for (boolean checked : new boolean[] {false, true}) {
            PerCpuMemoryPool.Builder b = PerCpuMemoryPool.builder(32).maxBlocks(64);
            try (PerCpuMemoryPool pool = (checked ? b.checked() : b).build()) {
                MemorySegment block = pool.allocate();
                MemorySegment kept = pool.allocate();
                pool.free(block);
                assertIllegalState("freed twice", () -> pool.free(block));
                assertEquals(pool.carved() - 1, pool.freeBlocks(), "the refused free changed nothing");
                pool.free(kept);
                assertEquals(pool.carved(), pool.freeBlocks());
            }
        }
    }

    @Test
    void exhaustionThrowsOutOfMemoryErrorNamingTheLimit() {
        try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(128).maxBlocks(50).capacityPerCpu(16).build()) {
            List<MemorySegment> all = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                all.add(pool.allocate());
            }
            assertEquals(50, pool.carved());
            OutOfMemoryError e = assertThrows(OutOfMemoryError.class, pool::allocate);
            assertTrue(e.getMessage().contains("maxBlocks = 50"), e.getMessage());
            assertThrows(OutOfMemoryError.class, pool::allocate, "still full");
            pool.free(all.removeLast());
            MemorySegment again = pool.allocate();       // one free block: allocate works again
            assertEquals(128, again.byteSize());
            assertThrows(OutOfMemoryError.class, pool::allocate);
            pool.free(again);
            all.forEach(pool::free);
            assertEquals(50, pool.freeBlocks());
        }
    }

    /** tryAllocate: null where allocate throws, a block as soon as one is free, and nothing lost between. */
    @Test
    void tryAllocateReturnsNullWhenEveryBlockIsOut() {
        try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(64).maxBlocks(20).capacityPerCpu(4).build()) {
            List<MemorySegment> all = new ArrayList<>();
            for (MemorySegment b = pool.tryAllocate(); b != null; b = pool.tryAllocate()) {
                all.add(b);
                assertTrue(all.size() <= 20, "at most maxBlocks blocks");
            }
            assertEquals(20, all.size());
            assertNull(pool.tryAllocate(), "still full");
            pool.free(all.removeFirst());
            MemorySegment again = pool.tryAllocate();
            assertNotNull(again, "one free block: tryAllocate finds it");
            assertNull(pool.tryAllocate());
            pool.free(again);
            all.forEach(pool::free);
            assertEquals(20, pool.freeBlocks());
            pool.close();
            assertThrows(IllegalStateException.class, pool::tryAllocate, "closed");
        }
    }

    @Test
    void closeInvalidatesEveryBlockAndIsIdempotent() {
        PerCpuMemoryPool pool = PerCpuMemoryPool.builder(64).maxBlocks(100).build();
        MemorySegment held = pool.allocate();
        MemorySegment freed = pool.allocate();
        pool.free(freed);
        held.set(ValueLayout.JAVA_LONG, 0, 42);
        assertFalse(pool.isClosed());
        pool.close();
        assertTrue(pool.isClosed());
        assertThrows(IllegalStateException.class, () -> held.get(ValueLayout.JAVA_LONG, 0));
        assertThrows(IllegalStateException.class, () -> freed.set(ValueLayout.JAVA_LONG, 0, 1));
        assertIllegalState("closed", pool::allocate);
        assertIllegalState("closed", () -> pool.free(held));
        pool.close();
        pool.close();
        assertTrue(pool.isClosed());
        assertTrue(pool.toString().contains("closed"), pool.toString());
    }

    /** libc's {@code memset}, {@code pipe}, {@code read}, {@code write}: native calls that hold a block's arena while they run. */
    private static final class Libc {
        static final java.lang.foreign.Linker LINKER = java.lang.foreign.Linker.nativeLinker();
        static final java.lang.foreign.SymbolLookup LIBC = LINKER.defaultLookup();

        static java.lang.invoke.MethodHandle handle(String name, java.lang.foreign.FunctionDescriptor d) {
            return LINKER.downcallHandle(LIBC.find(name).orElseThrow(), d);
        }

        static final java.lang.invoke.MethodHandle MEMSET = handle("memset", java.lang.foreign.FunctionDescriptor.of(
                ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        static final java.lang.invoke.MethodHandle PIPE = handle("pipe", java.lang.foreign.FunctionDescriptor.of(
                ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        static final java.lang.invoke.MethodHandle READ = handle("read", java.lang.foreign.FunctionDescriptor.of(
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        static final java.lang.invoke.MethodHandle WRITE = handle("write", java.lang.foreign.FunctionDescriptor.of(
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    }

    /**
     * Issue 29.5: close() under load threw "in use by a native call" 106,973 times before it went
     * through. Now new calls fail fast once close starts, and close waits for native calls in flight.
     */
    @Test
    void closeMakesProgressWhileAnotherThreadPassesBlocksToNativeCalls() throws Exception {
        PerCpuMemoryPool pool = PerCpuMemoryPool.builder(4096).maxBlocks(64).build();
        CountDownLatch running = new CountDownLatch(1);
        AtomicLong calls = new AtomicLong();
        AtomicReference<Throwable> ended = new AtomicReference<>();
        Thread user = Thread.ofPlatform().start(() -> {
            try {
                for (;;) {
                    MemorySegment block = pool.allocate();
                    MemorySegment unused = (MemorySegment) Libc.MEMSET.invokeExact(block, 7, block.byteSize());
                    calls.incrementAndGet();
                    running.countDown();
                    pool.free(block);
                }
            } catch (Throwable t) {
                ended.set(t);
                running.countDown();
            }
        });
        running.await();
        assertTrue(calls.get() > 0, "the user thread failed at once: " + ended.get());
        pool.close();                   // once; it used to throw while the user thread ran
        user.join(10_000);
        assertFalse(user.isAlive());
        assertTrue(pool.isClosed());
        assertTrue(ended.get() instanceof IllegalStateException, String.valueOf(ended.get()));
        assertIllegalState("closed", pool::allocate);
        System.out.println("memory pool closed under load after " + calls.get() + " native calls by another thread");
    }

    /** A native call that blocks with a block as its argument: close gives up after its wait, names why, and a later close succeeds. */
    @Test
    void closeGivesUpAfterItsWaitWhileANativeCallHoldsABlockAndSucceedsLater() throws Throwable {
        PerCpuMemoryPool pool = PerCpuMemoryPool.builder(4096).maxBlocks(64).build();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            assertEquals(0, (int) Libc.PIPE.invokeExact(fds));
            int readEnd = fds.getAtIndex(ValueLayout.JAVA_INT, 0);
            int writeEnd = fds.getAtIndex(ValueLayout.JAVA_INT, 1);
            MemorySegment block = pool.allocate();
            AtomicLong read = new AtomicLong(-2);
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    read.set((long) Libc.READ.invokeExact(readEnd, block, 1L));   // blocks, holding the pool's arena
                } catch (Throwable t) {
                    read.set(-3);
                }
            });
            while (reader.getState() != Thread.State.RUNNABLE) {
                Thread.onSpinWait();
            }
            Thread.sleep(100);          // inside read(2) by now
            long start = System.nanoTime();
            assertIllegalState("still in use by a native call", pool::close);
            long waitedMillis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(waitedMillis >= PerCpuMemoryPool.CLOSE_WAIT_MILLIS, "waited " + waitedMillis + " ms");
            assertTrue(pool.isClosed(), "closed to new calls");
            assertIllegalState("closed", pool::allocate);
            assertEquals(1L, (long) Libc.WRITE.invokeExact(writeEnd, fds, 1L));    // let the read return
            reader.join(10_000);
            assertEquals(1, read.get());
            pool.close();               // nothing in flight now
            assertThrows(IllegalStateException.class, () -> block.get(ValueLayout.JAVA_LONG, 0), "unmapped");
        }
    }

    @Test
    void memoryIsCommittedInStepsFarBelowTheReservation() {
        long blockSize = 4096;
        long maxBlocks = 1_000_000;       // about 4 GB of address space reserved
        try (PerCpuMemoryPool pool = PerCpuMemoryPool.builder(blockSize).maxBlocks(maxBlocks).build()) {
            assertEquals(maxBlocks, pool.maxBlocks());
            long reserved = maxBlocks * blockSize;
            List<Long> steps = new ArrayList<>();
            steps.add(pool.committedBytes());
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 3000; i++) {
                blocks.add(pool.allocate());
                long c = pool.committedBytes();
                if (c != steps.getLast()) {
                    steps.add(c);
                }
            }
            System.out.println("memory-pool committed steps (bytes): " + steps + " reserved=" + reserved);
            long last = steps.getLast();
            assertTrue(last >= 3000 * blockSize, "covers the blocks handed out: " + steps);
            assertTrue(last <= 4 * 3000 * blockSize, "commits at most about twice what is used: " + steps);
            assertTrue(last < reserved / 100, "far below the reservation: " + steps);
            assertTrue(steps.size() - 1 <= 8, "grows in few steps (at least 1 MiB or doubling each): " + steps);
            for (int i = 2; i < steps.size(); i++) {
                long step = steps.get(i) - steps.get(i - 1);
                assertTrue(step >= (1 << 20) || step >= steps.get(i - 1), "step " + step + " in " + steps);
            }
            blocks.forEach(pool::free);
            assertEquals(last, pool.committedBytes(), "committed memory is kept until close");
            assertEquals(pool.carved(), pool.freeBlocks());
        }
    }

    @Test
    void builderBadInput() {
        long maxBytes = BlockMemory.MAX_BYTES;
        rejects("blockSize must be in [1, " + maxBytes + "], was 0", () -> PerCpuMemoryPool.builder(0));
        rejects("blockSize must be in [1, " + maxBytes + "], was -8", () -> PerCpuMemoryPool.builder(-8));
        rejects("blockSize must be in [1, " + maxBytes + "], was " + (maxBytes + 1),
                () -> PerCpuMemoryPool.builder(maxBytes + 1));
        PerCpuMemoryPool.Builder b = PerCpuMemoryPool.builder(64);
        long maxBlocks = PerCpuMemoryPool.MAX_BLOCKS;
        rejects("maxBlocks must be in [1, " + maxBlocks + "], was 0", () -> b.maxBlocks(0));
        rejects("maxBlocks must be in [1, " + maxBlocks + "], was " + (maxBlocks + 1), () -> b.maxBlocks(maxBlocks + 1));
        int batch = PerCpuFreeList.Builder.MAX_BATCH_SIZE;
        rejects("capacityPerCpu must be in [1, " + batch + "], was 0", () -> b.capacityPerCpu(0));
        rejects("capacityPerCpu must be in [1, " + batch + "], was " + (batch + 1), () -> b.capacityPerCpu(batch + 1));
        long page = BlockMemory.maxAlignment();
        for (long bad : new long[] {0, -4, 3, 24, 2 * page}) {
            rejects("alignment must be a power of two in [1, " + page + "], was " + bad, () -> b.alignment(bad));
        }
        rejectsNull("indexing", () -> b.indexing(null));
        // maxBlocks within its own bound but too many bytes of blocks: refused by build, naming the limit
        rejects("maxBlocks must be in [1, " + maxBytes / (1L << 30) + "]",
                () -> PerCpuMemoryPool.builder(1L << 30).maxBlocks(maxBytes / (1L << 30) + 1).build());
        try (PerCpuMemoryPool pool = b.build()) {
            assertEquals(64, pool.blockSize(), "the refused calls changed nothing");
            assertEquals(64, pool.alignment());
            assertEquals(65_536, pool.maxBlocks(), "default maxBlocks");
        }
    }

    /**
     * Eight threads allocate (holding up to 4 blocks each) and free; each block carries its owner in
     * its first word, set by compare-and-set from 0 on allocate and cleared the same way before free,
     * so a block handed to two holders fails a CAS. At the end every carved block is free once.
     */
    @Test
    void eightThreadsNeverHoldABlockTwice() throws Exception {
        for (boolean checked : new boolean[] {false, true}) {
            PerCpuMemoryPool.Builder b = PerCpuMemoryPool.builder(64).maxBlocks(512).capacityPerCpu(8);
            try (PerCpuMemoryPool pool = (checked ? b.checked() : b).build()) {
                long ops = hammer(pool, 8, 400);
                System.out.println("memory-pool hammer checked=" + checked + " ops=" + ops + " carved=" + pool.carved());
            }
        }
    }

    /**
     * Runs {@code threads} threads allocating from and freeing to {@code pool} for {@code millis};
     * fails on a block held twice or any error; checks exact accounting after. Returns the operations.
     */
    static long hammer(PerCpuMemoryPool pool, int threads, long millis) throws InterruptedException {
        AtomicReference<Throwable> error = new AtomicReference<>();
        AtomicLong ops = new AtomicLong();
        CountDownLatch go = new CountDownLatch(1);
        long deadline = System.nanoTime() + millis * 1_000_000;
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long me = t + 1;
            workers.add(Thread.ofPlatform().start(() -> {
                List<MemorySegment> held = new ArrayList<>();
                long n = 0;
                try {
                    go.await();
                    for (int i = 0; error.get() == null && ((i & 63) != 0 || System.nanoTime() < deadline); i++) {
                        if (held.size() < 4 && (i % 5) != 4) {
                            MemorySegment block = pool.allocate();
                            long prev = (long) TAG.compareAndExchange(block, 0L, 0L, me);
                            if (prev != 0) {
                                throw new AssertionError("block at " + block.address() + " allocated by thread " + me
                                        + " while held by thread " + prev);
                            }
                            block.set(ValueLayout.JAVA_LONG, 8, me);
                            held.add(block);
                        } else if (!held.isEmpty()) {
                            MemorySegment block = held.removeLast();
                            if (block.get(ValueLayout.JAVA_LONG, 8) != me
                                    || !TAG.compareAndSet(block, 0L, me, 0L)) {
                                throw new AssertionError("block at " + block.address() + " held by thread " + me
                                        + " was taken by thread " + (long) TAG.getVolatile(block, 0L));
                            }
                            pool.free(block);
                        }
                        n++;
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                } finally {
                    for (MemorySegment block : held) {
                        TAG.setVolatile(block, 0L, 0L);
                        pool.free(block);
                    }
                    ops.addAndGet(n);
                }
            }));
        }
        go.countDown();
        for (Thread w : workers) {
            w.join();
        }
        if (error.get() != null) {
            throw new AssertionError("worker failed: " + error.get(), error.get());
        }
        assertTrue(pool.carved() <= pool.maxBlocks(), pool.toString());
        assertEquals(pool.carved(), pool.freeBlocks(), "every carved block is free at the end: " + pool);
        Set<Long> seen = new HashSet<>();
        List<MemorySegment> all = new ArrayList<>();
        for (long i = 0; i < pool.carved(); i++) {
            MemorySegment b = pool.allocate();
            assertTrue(seen.add(b.address()), "a free block handed out twice while draining");
            assertEquals(0, (long) TAG.getVolatile(b, 0L), "no owner left");
            all.add(b);
        }
        long carved = pool.carved();
        all.forEach(pool::free);
        assertEquals(carved, pool.carved(), "draining the free blocks carved none");
        return ops.get();
    }
}
