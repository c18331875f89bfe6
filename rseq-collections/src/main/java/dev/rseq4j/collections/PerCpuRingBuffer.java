package dev.rseq4j.collections;

import dev.rseq4j.core.CpuIndexing;
import dev.rseq4j.core.percpu.PerCpuArea;
import dev.rseq4j.core.percpu.PerCpuOps;
import dev.rseq4j.core.percpu.PerCpuStats;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.SupportsIterator;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.AbstractQueue;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;

/**
 * A multi-producer, single-consumer queue made of one bounded ring per CPU: a producer puts its
 * element in the ring of the CPU it runs on, committing the ring's tail with one plain store inside
 * a restartable sequence (no atomic instruction, no cache line shared with producers on other CPUs);
 * the consumer drains every ring. A drop-in for JCTools' {@code MpscArrayQueue}: it implements
 * {@link MessagePassingQueue} and {@link java.util.Queue}, so code written for
 * {@code new MpscArrayQueue<>(n)} switches by changing the constructor.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Any number of producer threads (platform or virtual) may call {@link #offer},
 *       {@link #relaxedOffer} and {@link #fill} concurrently. Only <em>one consumer thread at a
 *       time</em> may call {@link #poll}, {@link #peek}, their relaxed forms, {@link #drain},
 *       {@link #clear} and {@link #remove()}: as with {@code MpscArrayQueue}, two concurrent
 *       consumers corrupt the queue (hand the same element to both, or lose one). Handing the
 *       consumer role from one thread to another needs a happens-before edge between them (a lock,
 *       a volatile write and read, {@code Thread.join}). {@link #size}, {@link #isEmpty},
 *       {@link #iterator} and {@code toString} may be called by any thread; they are estimates.</li>
 *   <li>{@link #offer} returns {@code false} if and only if the current CPU's ring is full (other
 *       rings may have room: {@link #capacity()} is the sum of all rings, each of
 *       {@link #capacityPerRegion()} elements). {@link #poll} returns {@code null} if and only if
 *       every ring looked empty during its scan.</li>
 *   <li>{@code null} elements are rejected with {@link NullPointerException} ({@link java.util.Queue}'s
 *       contract); a {@code null} consumer, supplier, wait strategy or exit condition of {@code drain} or
 *       {@code fill} with {@link IllegalArgumentException} ({@link MessagePassingQueue}'s).</li>
 *   <li>Memory ordering: everything a producer did before {@code offer(e)} happens-before
 *       everything the consumer does after the {@code poll} (or drain) that returns {@code e}.</li>
 *   <li>Fairness: the consumer takes at most {@value #QUANTUM} elements from one ring before it
 *       moves to the next ring that has any, so no ring starves another under sustained load.</li>
 * </ul>
 *
 * <h2>Ordering: FIFO per CPU, not global</h2>
 * Elements offered on one CPU are consumed in the order their offers committed. Elements offered
 * on different CPUs have no defined order. So a thread that migrates to another CPU between two
 * offers may see its second element consumed before its first. That is fine for events, metrics,
 * log records that carry timestamps, and independent work items; it is <em>not</em> fine when a
 * later element depends on an earlier one of the same producer (a "create" then an "update" of the
 * same key, a protocol's request then its continuation): keep such producers on a queue with a
 * global order ({@code MpscArrayQueue}), or put the dependent steps in one element.
 *
 * <h2>A producer descheduled after reserving a slot</h2>
 * An offer first reserves a slot (the restartable sequence moves the tail), then stores the element
 * in it. If the producer is descheduled between the two, the slot is reserved but empty: the consumer
 * never skips it (that would break the per-CPU order), so that ring's later elements wait until the
 * producer runs again. {@link #poll} and {@link #peek} meanwhile take elements from other rings and,
 * when nothing else is available, spin until the slot fills (as {@code MpscArrayQueue}'s poll does);
 * {@link #relaxedPoll}, {@link #relaxedPeek} and {@link #drain} return instead. Nothing is lost or
 * duplicated. The window is a few instructions long; it does not contain any blocking call, so a
 * virtual thread cannot unmount inside it (except in {@link #fill}, whose supplier runs while its
 * batch of slots is reserved: a supplier that blocks delays the consumer on that ring).
 *
 * <p>Thread-safety: as in the contract above. Memory: one cache line per CPU for the tails, two per
 * CPU for the consumer's and producers' indices, and one reference per slot, however many threads
 * (platform or virtual) produce.
 *
 * <h2>Implementation notes</h2>
 * <pre>
 *   tails (native, one 64-byte line per region)         indices ({@link RingIndices}: the head)
 *   +-------+------+---------------+---------+
 *   | guard | tail | producerLimit | padding |  region r
 *   +-------+------+---------------+---------+
 *   0       8      16              24        64
 *
 *   elements (Java Object[]): PAD | ring 0: capacityPerRegion slots | PAD | ring 1 | PAD | ...
 *   slot of sequence number s in ring r:  PAD + r * (capacityPerRegion + PAD) + (s &amp; mask)
 * </pre>
 * {@code tail} and {@code head} are sequence numbers that only grow: {@code tail - head} elements are
 * in the ring. A producer:
 * <ol>
 *   <li>reserves a slot with the core's {@code reserveCurrent(tail, producerLimit, 1)}: one restartable
 *       sequence on the region it runs on reads {@code tail} and {@code producerLimit} and, if
 *       {@code tail + 1 <= producerLimit}, commits {@code tail + 1} with one plain store, returning the
 *       region and the old tail: one downcall, no {@code currentIndex} before it, no compare that another
 *       producer of the region can make fail;</li>
 *   <li>if that region's ring was full at the cached limit, reads {@code head} (acquire), stores
 *       {@code head + capacity} as the new {@code producerLimit}, and returns {@code false} if the ring is
 *       still full, else tries again (on the region it then runs on);</li>
 *   <li>stores the element in the slot with a release store.</li>
 * </ol>
 * The consumer, on region {@code r}, reads the slot of sequence {@code head} with an acquire load
 * (it reads the native {@code tail}, opaque, only when that slot is empty, to tell an empty ring from
 * a reserved slot: so it does not pull the producers' tail line while elements flow); a non-null
 * element is taken: the consumer clears the slot (plain) and publishes
 * {@code head + 1} with a release store, so that a producer that sees the new head (acquire) also
 * sees the cleared slot before it reuses it. A null slot below the tail is a reservation whose
 * element is not stored yet (see above). The release store of the element and the consumer's
 * acquire load carry the happens-before promise; the tail itself publishes nothing.
 *
 * <p>The producer limit is a racy cache of {@code head + capacity}, written by any producer that found
 * the ring full at it (a Java store outside any sequence; the sequences only read it). Every value ever
 * written was {@code head + capacity} for a head its writer saw, and the head only grows, so any value
 * read is a safe limit: a stale one only reports "full" early, and the producer then refreshes it. The
 * paddings keep each region's tail line, head and slots on cache lines of their own; a producer's offer
 * touches its region's tail line and the slot, and the consumer's line only when the cached limit is
 * reached.
 *
 * <p>{@link #fill} reserves up to {@value #FILL_BATCH} slots with one sequence and stores the
 * supplier's elements in them. If the supplier throws (or returns null), the rest of the batch is
 * filled with a private marker that the consumer discards, so that no reserved slot stays empty
 * forever.
 *
 * @param <E> the element type
 */
public final class PerCpuRingBuffer<E> extends AbstractQueue<E> implements MessagePassingQueue<E>, SupportsIterator {
    /** Rings hold at most this many elements each (after rounding up to a power of two). */
    public static final int MAX_CAPACITY_PER_REGION = 1 << 24;
    /** The consumer takes at most this many elements from one ring before it moves on. */
    static final int QUANTUM = 64;
    /** Slots one {@link #fill} batch reserves at most. */
    static final int FILL_BATCH = 64;

    /** Region words: the guard at 0, the tail at 8, the producers' cached limit at 16. */
    private static final long TAIL = 8;
    private static final long LIMIT = 16;
    private static final long TAIL_STRIDE = 64;
    /** References of padding around each ring (128 bytes even without compressed references). */
    private static final int PAD = 32;
    /** Filled into reserved slots a {@link #fill} could not fill; the consumer discards it. */
    private static final Object SKIP = new Object();

    private static final VarHandle ELEMENT = MethodHandles.arrayElementVarHandle(Object[].class);
    /** The kind this structure's operations count under (JFR {@code dev.rseq4j.PerCpuStatistics}). */
    private static final PerCpuStats.Kind KIND = PerCpuStats.Kind.RING;

    private final PerCpuOps ops;
    private final PerCpuArea tails;
    private final int regions;
    private final int capacityPerRegion;
    private final long mask;
    private final Object[] elements;
    /** Per region: the head (written by the consumer only) and the producers' cached limit. */
    private final RingIndices indices;

    // Consumer state (one consumer thread at a time): plain fields.
    /** Per region: the last tail the consumer read; it reads the native tail again only when head reaches it. */
    private final long[] tailSeen;
    /** The region the consumer takes from now. */
    private int cursor;
    /** Elements taken from {@link #cursor} since the consumer moved to it. */
    private int taken;

    /**
     * An empty queue with a ring of {@code capacityPerRegion} elements (rounded up to a power of two,
     * at least 2) per possible CPU, indexed by CPU number.
     *
     * @throws IllegalArgumentException if {@code capacityPerRegion} is not in [1, {@value #MAX_CAPACITY_PER_REGION}],
     *         or all rings together exceed the largest Java array
     */
    public PerCpuRingBuffer(int capacityPerRegion) {
        this(PerCpuOps.cpuIndexed(KIND), capacityPerRegion);
    }

    /** For tests and the builder: a queue over the given operations (instrumented, lock mode, mm_cid). */
    PerCpuRingBuffer(PerCpuOps ops, int capacityPerRegion) {
        this.ops = Objects.requireNonNull(ops, "ops must not be null");
        this.capacityPerRegion = roundCapacity(capacityPerRegion);
        this.tails = PerCpuArea.forPossibleCpus(ops.indexing(), TAIL_STRIDE);
        this.regions = tails.regions();
        long slots = PAD + (long) regions * (this.capacityPerRegion + PAD);
        if (slots > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("capacityPerRegion * regions must fit in one Java array ("
                    + (Integer.MAX_VALUE - 16) + " slots with padding), was " + this.capacityPerRegion + " * " + regions);
        }
        this.mask = this.capacityPerRegion - 1;
        this.elements = new Object[(int) slots];
        this.indices = new RingIndices(regions, this.capacityPerRegion);
        this.tailSeen = new long[regions];
        for (int r = 0; r < regions; r++) {
            tails.setLongRelease(r, LIMIT, this.capacityPerRegion);
        }
    }

    /** {@code capacityPerRegion} rounded up to a power of two, at least 2. */
    static int roundCapacity(int capacityPerRegion) {
        if (capacityPerRegion < 1 || capacityPerRegion > MAX_CAPACITY_PER_REGION) {
            throw new IllegalArgumentException("capacityPerRegion must be in [1, " + MAX_CAPACITY_PER_REGION
                    + "], was " + capacityPerRegion);
        }
        return Math.max(2, Integer.highestOneBit(capacityPerRegion - 1) << 1);
    }

    /**
     * A builder of a queue with rings of {@code capacityPerRegion} elements (rounded up to a power of two).
     *
     * @throws IllegalArgumentException if {@code capacityPerRegion} is not in [1, {@value #MAX_CAPACITY_PER_REGION}]
     */
    public static <E> Builder<E> builder(int capacityPerRegion) {
        roundCapacity(capacityPerRegion);
        return new Builder<>(capacityPerRegion);
    }

    /** Builder of per-CPU ring buffers; not thread-safe, reusable. */
    public static final class Builder<E> {
        private final int capacityPerRegion;
        private CpuIndexing indexing = CpuIndexing.CPU;

        private Builder(int capacityPerRegion) {
            this.capacityPerRegion = capacityPerRegion;
        }

        /**
         * Index rings by CPU number (default) or by concurrency id (mm_cid, Linux 6.3+: dense ids from
         * 0, so a process with few running threads fills few rings, and the consumer finds its
         * elements in the first rings it scans).
         */
        public Builder<E> indexing(CpuIndexing indexing) {
            this.indexing = Objects.requireNonNull(indexing, "indexing must not be null");
            return this;
        }

        /**
         * @throws UnsupportedOperationException for concurrency-id indexing where rseq works but the
         *         kernel has no mm_cid
         */
        public PerCpuRingBuffer<E> build() {
            return new PerCpuRingBuffer<>(indexing == CpuIndexing.CPU ? PerCpuOps.cpuIndexed(KIND)
                    : PerCpuOps.concurrencyIdIndexed(KIND), capacityPerRegion);
        }
    }

    private int slot(int region, long sequence) {
        return PAD + region * (capacityPerRegion + PAD) + (int) (sequence & mask);
    }

    // ---------------------------------------------------------------- producers

    /**
     * Inserts {@code e} at the tail of the current CPU's ring.
     *
     * <p><b>Not FIFO per producer:</b> if the calling thread runs on another CPU than at its previous
     * offer (a migration, or a virtual thread on another carrier), this element may be consumed
     * before that one. Only elements offered on one CPU keep their order (see the class notes).
     *
     * @return {@code false} if and only if that ring is full
     * @throws NullPointerException if {@code e} is null
     */
    @Override
    public boolean offer(E e) {
        Objects.requireNonNull(e, "e must not be null");
        for (;;) {
            // NOTE: one downcall reserves the slot on the region the thread runs on and says which
            // region and which sequence number: nothing to re-read when another producer went first.
            long r = reserve(1);
            if (r >= 0) {
                // NOTE: release: the element's fields are visible to the consumer that loads it (acquire).
                soElement(slot((int) r, r >>> 32), e);
                return true;
            }
            if (refreshLimit((int) ~r) < 1) {
                return false;
            }
        }
    }

    /** The same as {@link #offer}: the ring is bounded, so there is nothing to relax. */
    @Override
    public boolean relaxedOffer(E e) {
        return offer(e);
    }

    /**
     * Offers up to {@code limit} elements from {@code s} to the current CPU's ring, reserving up to
     * {@value #FILL_BATCH} slots at a time; stops early when the ring is full.
     *
     * @return the number of elements offered
     * @throws IllegalArgumentException if {@code s} is null or {@code limit} is negative
     * @throws NullPointerException if {@code s} returns null (after the elements before it were offered)
     */
    @Override
    public int fill(Supplier<E> s, int limit) {
        requireArgument(s, "s");
        if (limit < 0) {
            throw new IllegalArgumentException("limit must be non-negative, was " + limit);
        }
        int filled = 0;
        while (filled < limit) {
            int batch = Math.min(limit - filled, FILL_BATCH);
            long r = reserve(batch);
            if (r < 0) {
                // NOTE: no room for the whole batch at the cached limit: refresh it, take what there is
                long room = refreshLimit((int) ~r);
                if (room < 1) {
                    return filled;
                }
                batch = (int) Math.min(room, batch);
                r = reserve(batch);
                if (r < 0) {
                    continue;       // another producer took the room, or the thread moved: look again
                }
            }
            int region = (int) r;
            long tail = r >>> 32;
            int stored = 0;
            try {
                for (; stored < batch; stored++) {
                    E e = Objects.requireNonNull(s.get(), "the supplier returned null");
                    soElement(slot(region, tail + stored), e);
                }
            } finally {
                // NOTE: a supplier that threw leaves reserved slots; fill them with the marker the
                // consumer discards, or the consumer would wait for them forever.
                for (int i = stored; i < batch; i++) {
                    soElement(slot(region, tail + i), SKIP);
                }
                filled += stored;
            }
        }
        return filled;
    }

    /**
     * Reserves {@code n} slots of the current CPU's ring: {@code reserveCurrent}'s result (see
     * {@link PerCpuOps#reserveCurrent}).
     */
    private long reserve(int n) {
        return ops.reserveCurrent(tails, TAIL, LIMIT, n);
    }

    /**
     * After a reservation found region {@code region}'s ring full at its cached limit: reads the head
     * (acquire), caches {@code head + capacity} as the limit, and returns the room that leaves
     * ({@code <= 0}: full).
     */
    private long refreshLimit(int region) {
        long limit = indices.lvHead(region) + capacityPerRegion;
        // NOTE: racy by design (see the class notes): producers of one region may store different
        // limits in any order; each is head + capacity for a head its writer saw, so each is safe.
        tails.setLongRelease(region, LIMIT, limit);
        return limit - tails.getLongOpaque(region, TAIL);
    }

    /** Fills until the current CPU's ring is full: {@code fill(s, capacityPerRegion())}. */
    @Override
    public int fill(Supplier<E> s) {
        return fill(s, capacityPerRegion);
    }

    /** Fills while {@code exit} says to keep running, idling with {@code wait} while the ring is full. */
    @Override
    public void fill(Supplier<E> s, WaitStrategy wait, ExitCondition exit) {
        requireArgument(s, "s");
        requireArgument(wait, "wait");
        requireArgument(exit, "exit");
        int idle = 0;
        while (exit.keepRunning()) {
            if (fill(s, FILL_BATCH) == 0) {
                idle = wait.idle(idle);
            } else {
                idle = 0;
            }
        }
    }

    /**
     * {@link MessagePassingQueue}'s contract for its own methods (drain, fill): a null consumer,
     * supplier, wait strategy or exit condition is an {@link IllegalArgumentException}, unlike a null
     * element, which {@link java.util.Queue}'s {@code offer} rejects with {@link NullPointerException}.
     */
    private static void requireArgument(Object argument, String name) {
        if (argument == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
    }

    private void soElement(int slot, Object e) {
        ELEMENT.setRelease(elements, slot, e);
    }

    // ---------------------------------------------------------------- consumer

    /**
     * Removes an element: the next one of the ring the consumer is on, or of the next ring that has
     * one. If some ring has a reserved slot whose element is not stored yet and no other ring has an
     * element, spins until it is stored.
     *
     * @return an element, or {@code null} if and only if every ring looked empty
     */
    @Override
    public E poll() {
        for (;;) {
            Object e = scan(true);
            if (e != PENDING) {
                return element(e);
            }
            Thread.onSpinWait();
        }
    }

    /** Like {@link #poll}, but returns {@code null} instead of waiting for a reserved slot. */
    @Override
    public E relaxedPoll() {
        Object e = scan(true);
        return e == PENDING ? null : element(e);
    }

    /** The element {@link #poll} would return, without removing it; waits for a reserved slot as poll does. */
    @Override
    public E peek() {
        for (;;) {
            Object e = scan(false);
            if (e != PENDING) {
                return element(e);
            }
            Thread.onSpinWait();
        }
    }

    /** Like {@link #peek}, but returns {@code null} instead of waiting for a reserved slot. */
    @Override
    public E relaxedPeek() {
        Object e = scan(false);
        return e == PENDING ? null : element(e);
    }

    /** Returned by {@link #scan} when nothing was available but some ring has a reserved, unfilled slot. */
    private static final Object PENDING = new Object();

    @SuppressWarnings("unchecked")
    private static <E> E element(Object e) {
        return (E) e;
    }

    /**
     * Finds the next element from {@link #cursor} on, visiting every ring at most once, and takes it
     * if {@code take}.
     *
     * @return the element, {@code null} if every ring was empty, or {@link #PENDING} if none had an
     *         element but some had a reserved slot
     */
    private Object scan(boolean take) {
        boolean pending = false;
        int region = cursor;
        for (int visited = 0; visited < regions; visited++) {
            long head = indices.lpHead(region);
            for (;;) {
                int slot = slot(region, head);
                // NOTE: acquire: pairs with the producer's release store of the element. A non-null
                // slot at head is the element of sequence head (a producer writes the slot of sequence
                // t only after reserving t < head + capacity, and t = head modulo capacity), so the
                // tail, which producers write, is read only when the slot is empty.
                Object e = ELEMENT.getAcquire(elements, slot);
                if (e == null) {
                    if (head < tailSeen[region] || head < (tailSeen[region] = tails.getLongOpaque(region, TAIL))) {
                        pending = true;      // reserved, not yet stored: never skip it (per-ring FIFO)
                    }
                    break;
                }
                if (take || e == SKIP) {
                    consume(region, slot, head);
                    if (e == SKIP) {
                        head++;
                        continue;
                    }
                    if (++taken >= QUANTUM) {
                        moveOn(region);
                        return e;
                    }
                }
                cursor = region;
                return e;
            }
            region = region + 1 == regions ? 0 : region + 1;
            cursor = region;
            taken = 0;
        }
        return pending ? PENDING : null;
    }

    /** Clears the slot, then publishes the new head: a producer that sees the head sees the cleared slot. */
    private void consume(int region, int slot, long head) {
        elements[slot] = null;
        // NOTE: release: orders the clear (and the consumer's reads of the element) before the
        // producers' reuse of the slot, which they do only after seeing this head (acquire).
        indices.soHead(region, head + 1);
    }

    private void moveOn(int region) {
        cursor = region + 1 == regions ? 0 : region + 1;
        taken = 0;
    }

    /**
     * Removes up to {@code limit} available elements and hands them to {@code c}, one ring after the
     * other ({@value #QUANTUM} at most from one ring before moving on). Does not wait for reserved
     * slots. Each element is removed before {@code c} sees it: if {@code c} throws, the element it
     * was given is not redelivered.
     *
     * @return the number of elements handed to {@code c}
     * @throws IllegalArgumentException if {@code c} is null or {@code limit} is negative
     */
    @Override
    public int drain(Consumer<E> c, int limit) {
        requireArgument(c, "c");
        if (limit < 0) {
            throw new IllegalArgumentException("limit must be non-negative, was " + limit);
        }
        int drained = 0;
        while (drained < limit) {
            Object e = scan(true);
            if (e == null || e == PENDING) {
                break;
            }
            drained++;
            c.accept(element(e));
        }
        return drained;
    }

    /** Drains what is available now: {@code drain(c, capacity())}. */
    @Override
    public int drain(Consumer<E> c) {
        return drain(c, capacity());
    }

    /** Drains while {@code exit} says to keep running, idling with {@code wait} while nothing is available. */
    @Override
    public void drain(Consumer<E> c, WaitStrategy wait, ExitCondition exit) {
        requireArgument(c, "c");
        requireArgument(wait, "wait");
        requireArgument(exit, "exit");
        int idle = 0;
        while (exit.keepRunning()) {
            Object e = scan(true);
            if (e == null || e == PENDING) {
                idle = wait.idle(idle);
                continue;
            }
            idle = 0;
            c.accept(element(e));
        }
    }

    /** Removes every element (as the consumer: one consumer thread at a time), waiting for reserved slots. */
    @Override
    public void clear() {
        while (poll() != null) {
            // discard
        }
    }

    // ---------------------------------------------------------------- any thread

    /**
     * The number of elements in all rings, reserved slots whose element is not stored yet included:
     * exact when producers and the consumer are quiescent, always in [0, {@link #capacity()}], and while
     * they run at most what the rings held at once at some moment of the call (a queue that never holds
     * more than one element never reports more than one). It reads every ring twice, so it costs
     * about two cache misses per CPU: a monitoring call, not one for a hot loop.
     */
    @Override
    public int size() {
        return (int) Math.min(indices.occupancy(tails, TAIL), Integer.MAX_VALUE);
    }

    /** Whether every ring looked empty (an estimate, as {@link #size}). */
    @Override
    public boolean isEmpty() {
        for (int r = 0; r < regions; r++) {
            if (tails.getLongOpaque(r, TAIL) != indices.lvHead(r)) {
                return false;
            }
        }
        return true;
    }

    /** All rings together: {@code regions() * capacityPerRegion()}; one CPU's producers can fill only its ring. */
    @Override
    public int capacity() {
        return (int) Math.min((long) regions * capacityPerRegion, Integer.MAX_VALUE);
    }

    /** The capacity of each ring (the constructor's argument rounded up to a power of two, at least 2). */
    public int capacityPerRegion() {
        return capacityPerRegion;
    }

    /** The number of rings: one per possible CPU (or concurrency id). */
    public int regions() {
        return regions;
    }

    /** Whether producers commit with restartable sequences ({@code false} in lock mode). */
    public boolean restartable() {
        return ops.restartable();
    }

    /**
     * Counts of rare events (aborts, slow paths) of this queue's operations, for diagnostics: shared by every
     * ring buffer of the same indexing (not per queue), and by no other kind of structure.
     */
    public OperationStats stats() {
        return OperationStats.of(ops);
    }

    /**
     * A weakly consistent iterator over the elements in the rings, ring by ring, each in FIFO order:
     * for monitoring and tests. It never throws {@link java.util.ConcurrentModificationException};
     * while producers or the consumer run it may miss elements or return ones consumed meanwhile.
     * {@link Iterator#remove} is not supported.
     */
    @Override
    public Iterator<E> iterator() {
        return new Iterator<>() {
            private int region = -1;
            private long at;
            private long end;
            private Object next = advance();

            private Object advance() {
                for (;;) {
                    while (at < end) {
                        Object e = ELEMENT.getAcquire(elements, slot(region, at++));
                        if (e != null && e != SKIP) {
                            return e;
                        }
                    }
                    if (++region == regions) {
                        return null;
                    }
                    at = indices.lvHead(region);
                    end = Math.min(tails.getLongOpaque(region, TAIL), at + capacityPerRegion);
                }
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public E next() {
                if (next == null) {
                    throw new NoSuchElementException();
                }
                Object e = next;
                next = advance();
                return element(e);
            }
        };
    }

    @Override
    public String toString() {
        return "PerCpuRingBuffer[regions=" + regions + ", capacityPerRegion=" + capacityPerRegion + ", size="
                + size() + ", restartable=" + restartable() + "]";
    }
}
