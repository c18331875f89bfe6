package dev.rseq4j.core.internal.codegen.aarch64;

import dev.rseq4j.core.internal.codegen.GeneratedCode;
import dev.rseq4j.core.internal.platform.RseqAbi;
import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.codegen.StubOptions;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The guard protocol on arm64 (see the implementation notes of {@code GuardedPerCpuOps}): in every
 * critical section {@link AArch64StubGenerator} emits, the guard word is read with a load-acquire
 * ({@code ldar w}), and no load from region memory comes before it. A plain {@code ldr} of the guard
 * would let a later load of the data overtake it, so a fast path could see a slow path's released
 * guard and still read the data from before the slow path's writes.
 *
 * <p>The generated words are decoded here, without GNU tools: every instruction of the A64
 * "loads and stores" group is classified (load or store, addressing form, base register), and an
 * instruction of that group this decoder does not know fails the test rather than being ignored.
 * Before the guard, a section may only load the frame: the fields of the thread's {@code struct rseq}
 * (based on the register the code set from {@code TPIDR_EL0}) and of the area descriptor (based on
 * {@code x0}, the first argument), both with an immediate offset. The first other load must be the
 * guard's {@code ldar}; it is the only {@code ldar}, and the operation's data loads follow it.
 *
 * <p>The frame's other ordering decisions ({@code StubFrame}) are checked too: an operation that
 * takes an {@code expectedIndex} compares the index with it ({@code cmp x?, x1}) before the guard,
 * so before any region memory is read; the last instruction before post_commit_ip is the commit
 * store, a store-release ({@code stlr}) exactly when the operation {@link Operation#publishes()}.
 */
class AArch64GuardOrderingTest {

    /** How an instruction touches memory, as far as this test needs. */
    enum Kind { NONE, FRAME_CANDIDATE_LOAD, LOAD, ACQUIRE_LOAD_32, STORE }

    /** One decoded word: its kind and base register (-1 when it has none). */
    record Insn(int offset, int word, Kind kind, int base) {
        @Override
        public String toString() {
            return String.format("+0x%x %08x %s base=x%d", offset, word, kind, base);
        }
    }

    private static final int MRS_TPIDR_EL0 = 0xd53bd040;
    /** {@code cmp xn, x1} (subs xzr, xn, x1), any xn: the index against expectedIndex. */
    private static final int CMP_X1_MASK = 0xfffffc1f;
    private static final int CMP_X1 = 0xeb01001f;
    /** {@code stlr xt, [xn]}, any xt, xn. */
    private static final int STLR_64_MASK = 0xfffffc00;
    private static final int STLR_64 = 0xc89ffc00;

    /** Classifies one A64 word; fails on a load/store encoding outside the known classes. */
    static Insn decode(int offset, int w) {
        int base = w >>> 5 & 31;
        if ((w & 0x0a000000) != 0x08000000) {
            return new Insn(offset, w, Kind.NONE, -1);          // not in the loads-and-stores group
        }
        if ((w & 0x3f000000) == 0x08000000) {                   // exclusive / ordered (ldar, stlr, ldxr, ...)
            boolean load = (w & 1 << 22) != 0;
            if ((w & 0xfffffc00) == 0x88dffc00) {               // ldar wt, [xn]
                return new Insn(offset, w, Kind.ACQUIRE_LOAD_32, base);
            }
            return new Insn(offset, w, load ? Kind.LOAD : Kind.STORE, base);
        }
        if ((w & 0x3b000000) == 0x18000000) {                   // load literal (pc-relative)
            return new Insn(offset, w, Kind.LOAD, -1);
        }
        if ((w & 0x3a000000) == 0x28000000) {                   // load/store pair, any indexing
            return new Insn(offset, w, (w & 1 << 22) != 0 ? Kind.LOAD : Kind.STORE, base);
        }
        boolean loadOpc = (w >>> 22 & 3) != 0;                  // opc != 00: ldr, ldrs*, prfm
        if ((w & 0x3b000000) == 0x39000000) {                   // unsigned immediate offset
            return new Insn(offset, w, loadOpc ? Kind.FRAME_CANDIDATE_LOAD : Kind.STORE, base);
        }
        if ((w & 0x3b000000) == 0x38000000) {                   // register offset, pre/post-index, unscaled, atomics
            boolean atomic = (w & 1 << 21) != 0 && (w & 0xc00) == 0;
            return new Insn(offset, w, loadOpc || atomic ? Kind.LOAD : Kind.STORE, base);
        }
        fail(String.format("+0x%x: unclassified load/store encoding %08x: extend the decoder", offset, w));
        return null;
    }

    static List<Insn> decodeRange(byte[] code, int from, int to) {
        List<Insn> out = new ArrayList<>();
        for (int at = from; at < to; at += 4) {
            int w = (code[at] & 0xff) | (code[at + 1] & 0xff) << 8 | (code[at + 2] & 0xff) << 16
                    | (code[at + 3] & 0xff) << 24;
            out.add(decode(at, w));
        }
        return out;
    }

    @Test
    void guardIsLoadAcquireBeforeEveryDataLoad() {
        AArch64StubGenerator generator = new AArch64StubGenerator();
        int checked = 0;
        List<RseqAbi.Field> indexes = List.of(RseqAbi.Field.CPU_ID, RseqAbi.Field.MM_CID);
        for (RseqAbi.Field index : indexes) {
            for (StubOptions options : List.of(StubOptions.production(-32, index),
                    StubOptions.production(-32, index).withDelay(100),
                    StubOptions.production(-32, index).nonRestartable())) {
                GeneratedCode code = generator.generate(options);
                for (GeneratedCode.Section s : code.sections()) {
                    checkSection(code, s, options);
                    checked++;
                }
            }
        }
        assertEquals(Operation.values().length * indexes.size() * 3, checked);
    }

    private static void checkSection(GeneratedCode code, GeneratedCode.Section s, StubOptions options) {
        int entry = code.operations().get(s.operation());
        // From the entry to the commit store (the last instruction before post_commit_ip).
        List<Insn> insns = decodeRange(code.code(), entry, s.postCommitOffset());
        String where = s.operation() + " " + options + ":\n  " + String.join("\n  ",
                insns.stream().filter(i -> i.kind() != Kind.NONE).map(Insn::toString).toList());
        int rseqRegister = -1;
        for (Insn i : insns) {
            if ((i.word() & 0xffffffe0) == MRS_TPIDR_EL0) {
                rseqRegister = i.word() & 31;
                break;
            }
        }
        assertTrue(rseqRegister >= 0, "no mrs tpidr_el0 in " + where);
        int guard = -1;
        for (int k = 0; k < insns.size(); k++) {
            Insn i = insns.get(k);
            boolean frameLoad = i.kind() == Kind.FRAME_CANDIDATE_LOAD && (i.base() == 0 || i.base() == rseqRegister);
            if (i.kind() == Kind.NONE || i.kind() == Kind.STORE || frameLoad) {
                continue;
            }
            // The first load that is not a frame field: it must be the guard's load-acquire.
            assertEquals(Kind.ACQUIRE_LOAD_32, i.kind(), "the first load from region memory must be the guard's "
                    + "ldar w (load-acquire), not " + i + ", in " + where);
            guard = k;
            break;
        }
        assertTrue(guard >= 0, "no guard load in " + where);
        boolean comparesExpectedIndex = insns.subList(0, guard).stream()
                .anyMatch(i -> (i.word() & CMP_X1_MASK) == CMP_X1);
        assertEquals(s.operation().takesExpectedIndex(), comparesExpectedIndex,
                "index compared with expectedIndex (x1) before the guard exactly when the operation takes one: " + where);
        Insn commit = insns.getLast();
        assertEquals(Kind.STORE, commit.kind(), "the last instruction of the section is the commit store: " + where);
        assertEquals(s.operation().publishes(), (commit.word() & STLR_64_MASK) == STLR_64,
                "the commit is a store-release exactly when the operation publishes: " + where);
        boolean dataLoadAfter = false;
        for (int k = guard + 1; k < insns.size(); k++) {
            Insn i = insns.get(k);
            assertTrue(i.kind() != Kind.ACQUIRE_LOAD_32, "a second ldar at " + i + " in " + where);
            dataLoadAfter |= i.kind() == Kind.LOAD || i.kind() == Kind.FRAME_CANDIDATE_LOAD;
        }
        assertTrue(dataLoadAfter, "every operation loads data after its guard: " + where);
    }
}
