package dev.rseq4j.core.internal.codegen;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The arch-neutral description of each restartable operation: its arguments, its steps, and its
 * results. Every {@link StubGenerator} emits exactly these steps; {@code PortableOperations} is the
 * same description written in Java (lock mode and the slow path use it, and tests compare the stubs
 * against it).
 *
 * <h2>Common frame of every stub</h2>
 * <pre>
 *   long stub(long area, args...)          area = address of an {@link AreaDescriptor}
 *   rseq_cs    = &amp;descriptor              (arms the restartable sequence)
 *   start_ip:
 *   index      = rseq.cpu_id                (read inside the section)
 *   if index &gt;=u count: return INDEX_INVALID   (-1/-2 = thread not registered, as unsigned)
 *   -- or, indexing by concurrency id:
 *   if (int) rseq.cpu_id &lt; 0: return INDEX_INVALID   (mm_cid of an unregistered thread reads 0 or stale)
 *   index      = rseq.mm_cid
 *   if index &gt;=u count: return INDEX_INVALID
 *   if takesExpectedIndex and index != expectedIndex: return MOVED
 *   (returnsIndex only: keep index for the exits below)
 *   delta      = index * stride               (this region's distance from region 0)
 *   if load-acquire32(guard0 + delta) != 0: return GUARDED   (a slow path owns this region)
 *   ... operation steps below; the last instruction before post_commit_ip is the commit store,
 *       a store-release where the operation {@link #publishes()} data written before it
 *   post_commit_ip: return COMMITTED (or the value the operation read inside the section;
 *                   returnsIndex: StubStatus.indexed(COMMITTED, index), and FAILED as indexed(FAILED, index))
 *   signature; abort_ip: return ABORTED
 * </pre>
 * Word arguments ("offset", "headOffset", "counterOffset", "slotOffset", "dstOffset") are passed as
 * the <em>address of that word in region 0</em> ({@code base + offset}); the stub adds {@code delta}.
 * Below, {@code load(off)} means {@code load(off + delta)}. All words are 64-bit, naturally aligned.
 * Java validates every offset and length before the call, so the stub trusts them.
 *
 * <h2>Which region an operation acts on (the calling convention)</h2>
 * An operation acts on the region it finds inside its section, never on one the caller guessed.
 * Two kinds follow:
 * <ul>
 *   <li>Operations whose arguments do not depend on any region's contents (add, push, pop) act on
 *       whatever region the section runs on; a value they return (the popped node) is read inside
 *       the section, so it belongs to the region they committed to.</li>
 *   <li>Operations whose arguments were computed from one region's contents (the compare
 *       operations: {@code expected}, and the slot or record offset derived from it) take that
 *       region's index as {@code expectedIndex}, first argument after the descriptor, and return
 *       {@link StubStatus#MOVED} without storing when the section runs on another region, as
 *       librseq's per-CPU operations take and re-check a {@code cpu}. A caller that wants to know
 *       which region it locked or filled therefore knows it: the one it named. Their slow path runs
 *       on that same region (any region is correct for a slow path).</li>
 *   <li>Operations that {@link #returnsIndex() return the index} act on the current region like the
 *       first kind and say which one it was: the index read inside the section comes back with the
 *       outcome in one {@code long} ({@link StubStatus#indexed}), so a caller that must know the
 *       region (a lock it must release there) needs no separate {@code currentIndex} downcall before
 *       the operation, and no {@code expectedIndex}, because nothing it passes depends on a region's
 *       contents.</li>
 * </ul>
 *
 * <p>The names follow librseq's habit of naming an operation by its steps.
 */
public enum Operation {
    /** {@code v = load(off); v += value; commit store(off, v)}. Args: offset, value. */
    LOAD_ADD_STORE(false, false, "offset", "value"),
    /**
     * {@code if (load(off) != expected) return FAILED; commit store(off, newValue)}.
     * Args: expectedIndex, offset, expected, newValue.
     */
    LOAD_COMPARE_STORE(true, false, "expectedIndex", "offset", "expected", "newValue"),
    /**
     * List push: {@code head = load(headOff); store(node + nextOff, head); commit store-release(headOff, node)}.
     * Args: headOffset, node (absolute address of library-owned memory), nextOffset.
     */
    LIST_PUSH(false, true, "headOffset", "node", "nextOffset"),
    /**
     * List pop:
     * <pre>
     *   head = load(headOff)
     *   if (head == 0) return FAILED
     *   if (head &lt;u poolFirst || head &gt;u poolLast) return CORRUPT         outside the pool
     *   if (((head ^ poolFirst) &amp; nodeMask) != 0) return CORRUPT           not at a node boundary
     *   next = load(head + nextOff)
     *   commit store(headOff, next)
     *   return head
     * </pre>
     * Args: headOffset, nextOffset, poolFirst, poolLast (addresses of the first and last node of the
     * library-owned pool), nodeMask ({@code nodeSize - 1}; node sizes are powers of two, so a head is
     * {@code poolFirst + k * nodeSize} exactly when its low bits equal {@code poolFirst}'s). Both checks
     * run before the load, so a corrupted head is never dereferenced and nothing is committed. Returns
     * the node address (always &gt;= 4096, so it cannot be confused with a status) or a status.
     */
    LIST_POP(false, false, "headOffset", "nextOffset", "poolFirst", "poolLast", "nodeMask"),
    /**
     * {@code if (load(counterOff) != expected) return FAILED; store(slotOff, value); commit store-release(counterOff, newCounter)}:
     * a ring slot, then its index. Args: expectedIndex, counterOffset, expected, slotOffset, value, newCounter.
     */
    LOAD_COMPARE_TRYSTORE_STORE(true, true, "expectedIndex", "counterOffset", "expected", "slotOffset", "value",
            "newCounter"),
    /**
     * A framed record into a ring, then its index:
     * <pre>
     *   if (load(counterOff) != expected) return FAILED
     *   store(dstOff, header)                                  the record's header word
     *   copy(dstOff + 8, src, header &amp; 0xFFFFFFFF)              the payload: length = low 32 bits, zero-extended
     *   commit store-release(counterOff, newCounter)
     * </pre>
     * The header ({@code (long) typeId << 32 | length}: little-endian, the int length at byte 0 and
     * the int type id at byte 4, as Agrona's record descriptor) is written inside the section with
     * the payload, so that it can only land on a slot this commit publishes. Args: expectedIndex,
     * counterOffset, expected, dstOffset, header, src (may be a Java heap segment: the downcall is
     * critical with heap access), newCounter.
     */
    LOAD_COMPARE_MEMCPY_STORE(true, true, "expectedIndex", "counterOffset", "expected", "dstOffset", "header", "src",
            "newCounter"),
    /**
     * The take of a per-CPU lock, on the current region, returning it:
     * {@code if (load(off) != expected) return indexed(FAILED, index); commit store(off, newValue);
     * return indexed(COMMITTED, index)}. Args: offset, expected, newValue (none depends on a region's
     * contents: a lock's expected value is "free" on every region).
     */
    CURRENT_LOAD_COMPARE_STORE(false, false, "offset", "expected", "newValue"),
    /**
     * The reservation of {@code n} ring slots, on the current region, returning it with the old word:
     * <pre>
     *   v = load(off)
     *   if (v + n &gt;u load(limitOff)) return indexed(FAILED, index)        "full" at the cached limit
     *   commit store(off, v + n)
     *   return withValue(indexed(COMMITTED, index), v)                      the low 32 bits of v
     * </pre>
     * Args: offset (a ring's tail), limitOffset (a word of the same region that Java code keeps: a racy
     * cache of head + capacity, safe because the head only grows), n (in [1, 2^31), checked by Java).
     * The slots are the caller's once committed; it stores its elements into them afterwards, in Java.
     */
    CURRENT_LOAD_LIMIT_ADD_STORE(false, false, "offset", "limitOffset", "n"),
    /**
     * Up to {@link #MAX_BATCH} adds to consecutive words, each its own restartable section with its own
     * commit, back to back in one call:
     * <pre>
     *   done = 0
     *   repeat:                                                  re-armed before every section
     *     section: v = load(offset + 8 * done); v += value[done]; commit store(offset + 8 * done, v)
     *     done += 1
     *   while done &lt; count
     *   return COMMITTED
     *   (aborted, guarded, index invalid: return batched(status, done))   the sections before it stay committed
     * </pre>
     * Each section reads the index again, so consecutive sections may commit on different regions (a
     * counter's cells are summed over all regions: where an add lands does not matter). An abort ends
     * the call, reporting how many sections committed ({@link StubStatus#batched}); the caller retries
     * from the first one that did not, so an abort restarts only the section it hit. Args: offset
     * (the first word), count (in [1, {@link #MAX_BATCH}], checked by Java), value0, value1, value2
     * (values past {@code count} are ignored): in registers on both architectures, so a batch
     * allocates nothing and the stub reads no Java memory.
     */
    BATCH_LOAD_ADD_STORE(false, false, "offset", "count", "value0", "value1", "value2"),
    /**
     * The pop of a per-CPU array stack (a magazine), on the current region, returning it with the element:
     * <pre>
     *   n = load(countOff)
     *   if (n == 0) return indexed(FAILED, index)                           empty
     *   if (n &gt;u capacity) return CORRUPT                                   never read outside the array
     *   v = load(slotsOff + 8 * (n - 1))                                     the top slot
     *   commit store(countOff, n - 1)
     *   return withValue(indexed(COMMITTED, index), v)                       the low 32 bits of v
     * </pre>
     * Args: countOffset, slotsOffset (the region's first slot), capacity (the slots of a region's
     * array, checked by Java against the region). The count is a word of the region, which a caller
     * could overwrite: every array operation checks it against the capacity before it uses it, so a
     * corrupt count is reported, never followed. The popped element is read inside the section, so it
     * belongs to the commit.
     */
    ARRAY_POP(false, false, "countOffset", "slotsOffset", "capacity"),
    /**
     * The push of one element on the current region's array stack:
     * <pre>
     *   n = load(countOff)
     *   if (n &gt;=u capacity) return FAILED                                   full (or a corrupt count)
     *   store(slotsOff + 8 * n, value)                                       the slot above the top, unpublished
     *   commit store-release(countOff, n + 1)
     * </pre>
     * Args: countOffset, slotsOffset, capacity, value.
     */
    ARRAY_PUSH(false, true, "countOffset", "slotsOffset", "capacity", "value"),
    /**
     * The top {@code n} elements of the current region's array stack moved out, in one section:
     * <pre>
     *   c = load(countOff)
     *   if (c &gt;u capacity) return CORRUPT
     *   if (c &lt;u n) return FAILED                                             fewer than n
     *   copy(dst, slotsOff + 8 * (c - n), 8 * n)                            into the caller's batch
     *   commit store(countOff, c - n)
     * </pre>
     * The copy writes only {@code dst}, the caller's own buffer (a Java array: the downcall is critical
     * with heap access), so an abort anywhere in it leaves nothing to undo; the elements become the
     * caller's at the commit. Args: countOffset, slotsOffset, capacity, n (in [1, capacity], checked by
     * Java), dst.
     */
    ARRAY_COPY_OUT(false, false, "countOffset", "slotsOffset", "capacity", "n", "dst"),
    /**
     * {@code n} elements copied onto the current region's array stack, in one section:
     * <pre>
     *   c = load(countOff)
     *   if (c &gt;u capacity) return CORRUPT                                    (so c + n cannot wrap)
     *   if (c + n &gt;u capacity) return FAILED                                no room for all of them
     *   copy(slotsOff + 8 * c, src, 8 * n)                                  above the top, unpublished
     *   commit store-release(countOff, c + n)
     * </pre>
     * Args: countOffset, slotsOffset, capacity, n (in [1, capacity], checked by Java), src (the
     * caller's batch, a Java array).
     */
    ARRAY_COPY_IN(false, true, "countOffset", "slotsOffset", "capacity", "n", "src");

    /**
     * The most sections one {@link #BATCH_LOAD_ADD_STORE} call runs: x86_64 passes six integer arguments in
     * registers, and the descriptor, the offset and the count take three.
     */
    public static final int MAX_BATCH = 3;
    /** The distance between the words of a {@link #BATCH_LOAD_ADD_STORE}: consecutive 64-bit words. */
    public static final int BATCH_WORD_STRIDE = 8;

    /** The size of a framed record's header word ({@link #LOAD_COMPARE_MEMCPY_STORE}): its payload starts after it. */
    public static final int RECORD_HEADER_BYTES = 8;

    /** The distance between the slots of an array stack ({@link #ARRAY_POP} and the others): 64-bit words. */
    public static final int ARRAY_SLOT_BYTES = 8;

    private final boolean takesExpectedIndex;
    private final boolean publishes;
    private final List<String> argumentNames;

    Operation(boolean takesExpectedIndex, boolean publishes, String... argumentNames) {
        this.takesExpectedIndex = takesExpectedIndex;
        this.publishes = publishes;
        this.argumentNames = List.of(argumentNames);
    }

    /** The operation-specific arguments, after the area descriptor. */
    public List<String> argumentNames() {
        return argumentNames;
    }

    /**
     * Whether the first argument is {@code expectedIndex}: the stub returns {@link StubStatus#MOVED}
     * unless the section runs on that region (see "Which region an operation acts on").
     */
    public boolean takesExpectedIndex() {
        return takesExpectedIndex;
    }

    /**
     * Whether the commit publishes memory written earlier in the same section (a node's next pointer,
     * a ring slot or record), so that a reader that sees the commit must see that memory too: the
     * commit is then a store-release on weakly ordered architectures (arm64 {@code stlr}); otherwise
     * a plain store. On x86_64 (TSO) both are a plain {@code mov}.
     */
    public boolean publishes() {
        return publishes;
    }

    /**
     * Whether a successful operation returns a value read inside the section instead of {@link StubStatus#COMMITTED}
     * ({@link #LIST_POP}), or with its index ({@link #CURRENT_LOAD_LIMIT_ADD_STORE}, {@link #ARRAY_POP}:
     * {@link StubStatus#withValue}).
     */
    public boolean returnsValue() {
        return this == LIST_POP || this == CURRENT_LOAD_LIMIT_ADD_STORE || this == ARRAY_POP;
    }

    /**
     * Whether the operation returns the index its section ran on with its outcome,
     * {@link StubStatus#indexed}{@code (COMMITTED or FAILED, index)}; the other statuses (aborted,
     * guarded, index invalid) stay plain, since the thread may be on another region when it retries.
     */
    public boolean returnsIndex() {
        return this == CURRENT_LOAD_COMPARE_STORE || this == CURRENT_LOAD_LIMIT_ADD_STORE || this == ARRAY_POP;
    }

    /**
     * Whether the call runs up to {@link #MAX_BATCH} sections back to back ({@link #BATCH_LOAD_ADD_STORE}) and
     * returns {@link StubStatus#batched} statuses, saying how many committed before it stopped.
     */
    public boolean batched() {
        return this == BATCH_LOAD_ADD_STORE;
    }

    /** The native signature: {@code long (long area, ...)}; {@code src} and {@code dst} are addresses (heap allowed). */
    public FunctionDescriptor descriptor() {
        List<MemoryLayout> args = new ArrayList<>();
        args.add(JAVA_LONG);
        for (String name : argumentNames) {
            args.add(name.equals("src") || name.equals("dst") ? ADDRESS : JAVA_LONG);
        }
        return FunctionDescriptor.of(JAVA_LONG, args.toArray(MemoryLayout[]::new));
    }
}
