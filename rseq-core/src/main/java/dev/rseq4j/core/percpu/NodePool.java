package dev.rseq4j.core.percpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Library-owned native memory for the nodes of per-CPU lists ({@link PerCpuOps#push},
 * {@link PerCpuOps#pop}): {@code capacity} nodes of {@code nodeSize} bytes, each with its next
 * pointer at {@code nextOffset}. Nodes are named by index; lists store node addresses.
 *
 * <pre>
 *   first                                                     last
 *   |&lt;- node 0 -&gt;|&lt;- node 1 -&gt;| ...                        |&lt;- node capacity-1 -&gt;|
 *   +------+------+------+-----+                             +------+------+
 *   | ...  | next | ...  |     |                             | ...  | next |
 *   +------+------+------+-----+                             +------+------+
 *          ^ nextOffset
 * </pre>
 * The pop stub checks inside its critical section that a list head lies in [first, last] and at a
 * node boundary ({@code first + k * nodeSize}) before it loads {@code head + nextOffset}: a corrupted
 * or forged head is reported, never dereferenced, and the list is left as it was. The node size is a
 * power of two so that the boundary check is one mask test. The memory lives as long as the pool, or
 * a node segment obtained from it, is reachable; zeroed at allocation. Thread-safety: immutable; node
 * contents are the caller's.
 */
public final class NodePool {
    /** Nodes are at most this many. */
    public static final int MAX_CAPACITY = 1 << 24;
    /** Nodes are at most this many bytes. */
    public static final long MAX_NODE_SIZE = 1 << 16;

    private final MemorySegment memory;
    private final int capacity;
    private final long nodeSize;
    private final long nextOffset;
    /** {@code log2(nodeSize)}: node offsets are {@code index << nodeShift} (no division on the hot path). */
    private final int nodeShift;

    /**
     * @throws IllegalArgumentException if {@code capacity} is not in [1, {@value #MAX_CAPACITY}],
     *         {@code nodeSize} is not a power of two in [8, {@value #MAX_NODE_SIZE}], or
     *         {@code nextOffset} is not a multiple of 8 in [0, nodeSize - 8]
     */
    public NodePool(int capacity, long nodeSize, long nextOffset) {
        if (capacity < 1 || capacity > MAX_CAPACITY) {
            throw new IllegalArgumentException("capacity must be in [1, " + MAX_CAPACITY + "], was " + capacity);
        }
        // NOTE: a power of two, so that the pop stub can check a head's alignment with one mask
        // (nodeSize - 1) before dereferencing it; pad a node to the next power of two.
        if (nodeSize < 8 || nodeSize > MAX_NODE_SIZE || Long.bitCount(nodeSize) != 1) {
            throw new IllegalArgumentException("nodeSize must be a power of two in [8, " + MAX_NODE_SIZE
                    + "] (pad the node), was " + nodeSize);
        }
        if (nextOffset < 0 || nextOffset % 8 != 0 || nextOffset > nodeSize - 8) {
            throw new IllegalArgumentException("nextOffset must be a multiple of 8 in [0, " + (nodeSize - 8) + "], was " + nextOffset);
        }
        this.memory = Arena.ofAuto().allocate(capacity * nodeSize, 64);
        this.capacity = capacity;
        this.nodeSize = nodeSize;
        this.nextOffset = nextOffset;
        this.nodeShift = Long.numberOfTrailingZeros(nodeSize);
    }

    public int capacity() {
        return capacity;
    }

    public long nodeSize() {
        return nodeSize;
    }

    public long nextOffset() {
        return nextOffset;
    }

    /** Node {@code index} as a segment, for its payload. */
    public MemorySegment node(int index) {
        return memory.asSlice(offsetOf(index), nodeSize);
    }

    /** The pool's memory, node 0 first. */
    public MemorySegment memory() {
        return memory;
    }

    /** Address of node {@code index}; checked. */
    public long address(int index) {
        return memory.address() + offsetOf(index);
    }

    /** Address of node 0. */
    public long firstAddress() {
        return memory.address();
    }

    /** Address of the last node: the highest address a list head may hold. */
    public long lastAddress() {
        return memory.address() + (capacity - 1) * nodeSize;
    }

    /**
     * The index of the node at {@code address}.
     *
     * @throws IllegalStateException if {@code address} is not the start of a node of this pool (the
     *         list it came from was corrupted)
     */
    public int indexOf(long address) {
        long offset = address - memory.address();
        if (offset < 0 || offset >= memory.byteSize() || (offset & (nodeSize - 1)) != 0) {
            throw new IllegalStateException("list corrupted: 0x" + Long.toHexString(address)
                    + " is not a node of " + this);
        }
        return (int) (offset >>> nodeShift);
    }

    /** Offset of node {@code index} in {@link #memory()}; checked. */
    public long offsetOf(int index) {
        if (index < 0 || index >= capacity) {
            throw new IndexOutOfBoundsException("node index must be in [0, " + capacity + "), was " + index);
        }
        return (long) index << nodeShift;
    }

    @Override
    public String toString() {
        return "NodePool[capacity=" + capacity + ", nodeSize=" + nodeSize + ", nextOffset=" + nextOffset + "]";
    }
}
