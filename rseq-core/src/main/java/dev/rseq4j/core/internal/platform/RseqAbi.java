package dev.rseq4j.core.internal.platform;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The kernel's rseq ABI ({@code include/uapi/linux/rseq.h}) as named layouts: the one source of
 * every offset that the generators, the runtime and the tests use. Feature checks compare the
 * kernel's feature size with a field's end ({@link Field#end()}), as librseq's
 * {@code rseq_offsetofend} does, never with a literal.
 *
 * <pre>
 *   struct rseq (32-byte aligned; registered with length {@value #REGISTRATION_LENGTH})
 *   +0   u32 cpu_id_start    always a possible CPU, even unregistered
 *   +4   u32 cpu_id          -1 unregistered, -2 glibc's registration failed
 *   +8   u64 rseq_cs         the armed struct rseq_cs, or 0
 *   +16  u32 flags           read-only status bits (time-slice extension, Linux 7.0+)
 *   +20  u32 node_id         feature size &gt;= 24
 *   +24  u32 mm_cid          feature size &gt;= 28 (Linux 6.3+)
 *   +28  u32 slice_ctrl      feature size &gt;= 33 (Linux 7.0+; a reserved byte follows)
 *
 *   struct rseq_cs (32-byte aligned)
 *   +0   u32 version = 0
 *   +4   u32 flags   = 0
 *   +8   u64 start_ip
 *   +16  u64 post_commit_offset     from start_ip
 *   +24  u64 abort_ip               the 4 bytes before it must equal the registered signature
 * </pre>
 */
public final class RseqAbi {

    /** {@code struct rseq} up to {@code slice_ctrl}. */
    public static final StructLayout RSEQ = MemoryLayout.structLayout(
            JAVA_INT.withName("cpu_id_start"),
            JAVA_INT.withName("cpu_id"),
            JAVA_LONG.withName("rseq_cs"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("node_id"),
            JAVA_INT.withName("mm_cid"),
            JAVA_INT.withName("slice_ctrl")).withName("rseq");

    /** {@code struct rseq_cs}. */
    public static final StructLayout RSEQ_CS = MemoryLayout.structLayout(
            JAVA_INT.withName("version"),
            JAVA_INT.withName("flags"),
            JAVA_LONG.withName("start_ip"),
            JAVA_LONG.withName("post_commit_offset"),
            JAVA_LONG.withName("abort_ip")).withName("rseq_cs");

    /** The registration length of the original ABI (and of glibc's area before 2.41). */
    public static final int REGISTRATION_LENGTH = 32;
    /** {@code struct rseq_cs} size and alignment. */
    public static final int RSEQ_CS_SIZE = (int) RSEQ_CS.byteSize();
    /** The feature size of kernels that predate {@code AT_RSEQ_FEATURE_SIZE} (before 6.3): up to {@code flags}. */
    // NOTE: computed from the layout, not through Field: Field's constructors read RSEQ, so a
    // reference to Field here would see null constants if Field were initialised first.
    public static final int ORIGINAL_FEATURE_SIZE = (int) (RSEQ.byteOffset(groupElement("flags")) + JAVA_INT.byteSize());

    public static final long RSEQ_CS_START_IP = RSEQ_CS.byteOffset(groupElement("start_ip"));
    public static final long RSEQ_CS_POST_COMMIT_OFFSET = RSEQ_CS.byteOffset(groupElement("post_commit_offset"));
    public static final long RSEQ_CS_ABORT_IP = RSEQ_CS.byteOffset(groupElement("abort_ip"));

    /** A field of {@code struct rseq}. */
    public enum Field {
        CPU_ID_START("cpu_id_start"),
        CPU_ID("cpu_id"),
        RSEQ_CS("rseq_cs"),
        FLAGS("flags"),
        NODE_ID("node_id"),
        MM_CID("mm_cid"),
        SLICE_CTRL("slice_ctrl");

        private final int offset;
        private final int size;

        Field(String name) {
            this.offset = (int) RSEQ.byteOffset(groupElement(name));
            this.size = (int) RSEQ.select(groupElement(name)).byteSize();
        }

        /** Byte offset in {@code struct rseq}. */
        public int offset() {
            return offset;
        }

        /** {@code offsetofend}: the feature size from which the kernel maintains this field. */
        public int end() {
            return offset + size;
        }
    }

    private RseqAbi() {
    }
}
