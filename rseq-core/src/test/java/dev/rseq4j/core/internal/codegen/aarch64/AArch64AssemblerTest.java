package dev.rseq4j.core.internal.codegen.aarch64;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rseq4j.core.internal.codegen.CodeBuffer;
import dev.rseq4j.core.internal.codegen.GnuBinutils;
import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;
import dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Cond;
import dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Reg;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compares every instruction form {@link AArch64Assembler} emits, word for word, with what the GNU
 * assembler for AArch64 ({@code aarch64-linux-gnu-as}) produces for the same instruction.
 *
 * <p>Each instruction occupies its own 8-byte slot (the instruction, then zero padding) both in our
 * buffer and in the assembled {@code .text}, so an encoding of the wrong length never shifts the
 * comparison of the instructions after it and label offsets agree. Far branches are placed with
 * zero filler ({@code .skip} for gas, zero bytes for us) so both sides stay in line. After the code,
 * the {@code .s} file appends one {@code .byte .LeN - .LsN} per instruction: the length gas chose,
 * read back from the same {@code .text} section.
 *
 * <p>{@link AArch64Assembler#movImm64} has no single gas form; it is checked semantically by
 * executing the emitted movz/movn/movk sequence in a small interpreter.
 *
 * <p>Needs {@code aarch64-linux-gnu-as} and {@code aarch64-linux-gnu-objcopy} (Debian package
 * binutils-aarch64-linux-gnu) on the PATH; without them the test fails rather than being skipped,
 * because CI installs them.
 */
class AArch64AssemblerTest {

    private static final int SLOT = 8;
    private static final int INSN = 4;
    private static final HexFormat HEX = HexFormat.ofDelimiter(" ");

    private static final String AS = "aarch64-linux-gnu-as";
    private static final String OBJCOPY = "aarch64-linux-gnu-objcopy";

    /** The range of b.cond/cbz/cbnz (imm19 words) and adr (imm21 bytes), in bytes. */
    private static final int MAX_FORWARD_19 = (1 << 20) - 4;
    private static final int MAX_BACKWARD_19 = 1 << 20;
    private static final int MAX_FORWARD_ADR = (1 << 20) - 1;
    /** The range of tbnz (imm14 words), in bytes. */
    private static final int MAX_FORWARD_14 = (1 << 15) - 4;
    private static final int MAX_BACKWARD_14 = 1 << 15;

    /** imm16 values for movz/movk/movn/brk: field edges and a few in between. */
    private static final int[] IMM16 = {0, 1, 0x1234, 0x8000, 0xffff};
    private static final int[] SHIFTS = {0, 16, 32, 48};
    /** imm12 values for add/subs. */
    private static final int[] IMM12 = {0, 1, 2, 0x555, 0x800, 4094, 4095};
    /** Scaled offsets in units of the access size: 0, 1, 2, middle and the largest. */
    private static final int[] OFFSET_UNITS = {0, 1, 2, 0x100, 0x800, 4095};

    /** Public instance methods that emit nothing. */
    private static final Set<String> NON_EMITTING = Set.of("bind", "buffer");
    /** Public emitting methods with no single gas form, tested semantically instead. */
    private static final Set<String> SEMANTIC = Set.of("movImm64");

    // ---- the program: our encoding plus the gas text of each instruction --------------------

    /** One instruction: the method exercised, its gas text, and where our bytes are. */
    record Case(String method, String text, int start, int end) {}

    /** Builds our code and the gas source side by side, one instruction per 8-byte slot. */
    static final class Program {
        final CodeBuffer buf = new CodeBuffer();
        final AArch64Assembler asm = new AArch64Assembler(buf);
        final StringBuilder source = new StringBuilder(".text\n");
        final List<Case> cases = new ArrayList<>();
        private final Map<Label, String> names = new IdentityHashMap<>();

        void emit(String method, String text, Consumer<AArch64Assembler> op) {
            int index = cases.size();
            int start = buf.size();
            op.accept(asm);
            int end = buf.size();
            if (end - start != INSN) {
                fail("our encoding of `" + text + "` is " + (end - start) + " bytes, every A64 "
                        + "instruction is 4: " + HEX.formatHex(buf.toByteArray(), start, end));
            }
            while (buf.size() < start + SLOT) {
                buf.emit8(0);
            }
            source.append(".Ls").append(index).append(":\n\t").append(text)
                    .append("\n.Le").append(index).append(":\n\t.skip ").append(SLOT)
                    .append(" - (.Le").append(index).append(" - .Ls").append(index).append("), 0\n");
            cases.add(new Case(method, text, start, end));
        }

        /** The gas name of {@code label} (a local symbol), defined where {@link #bind} puts it. */
        String name(Label label) {
            return names.computeIfAbsent(label, l -> ".Lt" + names.size());
        }

        /** Binds {@code label} here and defines its gas label here. */
        void bind(Label label) {
            source.append(name(label)).append(":\n");
            asm.bind(label);
        }

        /** {@code bytes} zero bytes on both sides. */
        void fill(int bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("negative fill " + bytes);
            }
            for (int i = 0; i < bytes; i++) {
                buf.emit8(0);
            }
            source.append("\t.skip ").append(bytes).append(", 0\n");
        }

        /** The complete gas source: the code, then the table of gas's instruction lengths. */
        String finish() {
            for (int i = 0; i < cases.size(); i++) {
                source.append("\t.byte .Le").append(i).append(" - .Ls").append(i).append('\n');
            }
            return source.toString();
        }
    }

    static String hex(long v) {
        return v < 0 ? "-0x" + Long.toHexString(-v) : "0x" + Long.toHexString(v);
    }

    /** x register, 31 = xzr. */
    static String x(int r) {
        return r == 31 ? "xzr" : "x" + r;
    }

    /** w register, 31 = wzr. */
    static String w(int r) {
        return r == 31 ? "wzr" : "w" + r;
    }

    /** x register, 31 = sp (base registers, add/sub immediate). */
    static String xsp(int r) {
        return r == 31 ? "sp" : "x" + r;
    }

    /** w register, 31 = wsp. */
    static String wsp(int r) {
        return r == 31 ? "wsp" : "w" + r;
    }

    /** A permutation of 0..31 ({@code mul} odd), to rotate one register slot against another. */
    static int perm(int k, int mul, int add) {
        return (mul * k + add) & 31;
    }

    /** A branch-like instruction to a label: the method, its gas text given the label's name. */
    record BranchForm(String method, Function<String, String> text, BiConsumer<AArch64Assembler, Label> op) {}

    static BranchForm bcondForm(Cond c) {
        return new BranchForm("bcond", t -> "b." + c.name().toLowerCase(Locale.ROOT) + " " + t,
                (a, l) -> a.bcond(c, l));
    }

    static BranchForm cbzForm(int r) {
        return new BranchForm("cbz64", t -> "cbz " + x(r) + ", " + t, (a, l) -> a.cbz64(reg(r), l));
    }

    static BranchForm cbnzForm(int r) {
        return new BranchForm("cbnz32", t -> "cbnz " + w(r) + ", " + t, (a, l) -> a.cbnz32(reg(r), l));
    }

    static BranchForm tbnzForm(int r, int bit) {
        return new BranchForm("tbnz32", t -> "tbnz " + w(r) + ", #" + bit + ", " + t,
                (a, l) -> a.tbnz32(reg(r), bit, l));
    }

    static BranchForm adrForm(int r) {
        return new BranchForm("adr", t -> "adr " + x(r) + ", " + t, (a, l) -> a.adr(reg(r), l));
    }

    /** Every condition, and cbz/cbnz/tbnz/adr with every register 0..31 and tbnz every bit. */
    static List<BranchForm> allBranchForms() {
        List<BranchForm> forms = new ArrayList<>();
        for (Cond c : Cond.values()) {
            forms.add(bcondForm(c));
        }
        for (int r = 0; r < 32; r++) {
            forms.add(cbzForm(r));
            forms.add(cbnzForm(r));
            forms.add(tbnzForm(r, r));
            forms.add(tbnzForm(r, 31 - perm(r, 5, 3)));
            forms.add(adrForm(r));
        }
        return forms;
    }

    /** Forms whose range is +-1 MiB: every condition, and cbz/cbnz/adr with a few registers. */
    static List<BranchForm> farForms() {
        List<BranchForm> forms = new ArrayList<>();
        for (Cond c : Cond.values()) {
            forms.add(bcondForm(c));
        }
        for (int r : new int[] {0, 17, 30, 31}) {
            forms.add(cbzForm(r));
            forms.add(cbnzForm(r));
            forms.add(adrForm(r));
        }
        return forms;
    }

    /** tbnz forms (range +-32 KiB) with a few registers and bits. */
    static List<BranchForm> tbnzForms() {
        return List.of(tbnzForm(0, 0), tbnzForm(9, 31), tbnzForm(30, 1), tbnzForm(31, 16));
    }

    /** Each form in its own slot, all to one label. */
    static void branchesTo(Program p, List<BranchForm> forms, Label target) {
        for (BranchForm f : forms) {
            p.emit(f.method(), f.text().apply(p.name(target)), a -> f.op().accept(a, target));
        }
    }

    /** Each form to a label exactly {@code distance} bytes ahead of it (its own label each). */
    static void forwardBy(Program p, List<BranchForm> forms, int distance) {
        int first = p.buf.size();
        List<Label> labels = new ArrayList<>();
        for (BranchForm f : forms) {
            Label l = new Label();
            labels.add(l);
            p.emit(f.method(), f.text().apply(p.name(l)), a -> f.op().accept(a, l));
        }
        p.fill(first + distance - p.buf.size());
        for (int i = 0; i < labels.size(); i++) {
            p.bind(labels.get(i));
            int imm = i;
            p.emit("brk", "brk #" + hex(imm), a -> a.brk(imm));
        }
    }

    /** Each form to a label exactly {@code distance} bytes behind it (its own label each). */
    static void backwardBy(Program p, List<BranchForm> forms, int distance) {
        int first = p.buf.size();
        List<Label> labels = new ArrayList<>();
        for (int i = 0; i < forms.size(); i++) {
            Label l = new Label();
            labels.add(l);
            p.bind(l);
            int imm = 0xffff - i;
            p.emit("brk", "brk #" + hex(imm), a -> a.brk(imm));
        }
        p.fill(first + distance - p.buf.size());
        for (int i = 0; i < forms.size(); i++) {
            BranchForm f = forms.get(i);
            Label l = labels.get(i);
            p.emit(f.method(), f.text().apply(p.name(l)), a -> f.op().accept(a, l));
        }
    }

    interface MoveWide {
        void emit(AArch64Assembler a, Reg rd, int imm16, int shift);
    }

    interface Reg3 {
        void emit(AArch64Assembler a, Reg x, Reg y, Reg z);
    }

    interface Reg2 {
        void emit(AArch64Assembler a, Reg x, Reg y);
    }

    interface RegRegImm {
        void emit(AArch64Assembler a, Reg x, Reg y, int imm);
    }

    interface LoadStore {
        void emit(AArch64Assembler a, Reg rt, Reg rn, long offset);
    }

    /** Register {@code n}; throws for a number outside [0, 31], as the assembler did before registers were typed. */
    static Reg reg(int n) {
        return Reg.x(n);
    }

    static Program buildProgram() {
        Program p = new Program();
        p.emit("ret", "ret", AArch64Assembler::ret);
        // a label at an odd offset, for adr (byte-granular) at odd distances
        Label odd = new Label();
        p.fill(1);
        p.bind(odd);
        p.fill(3);
        for (int r = 0; r < 32; r++) {
            int rd = r;
            p.emit("adr", "adr " + x(rd) + ", " + p.name(odd), a -> a.adr(reg(rd), odd));
        }

        // move wide: every register (31 = xzr), every shift, imm16 edges
        record MoveWideMethod(String name, MoveWide form) {}
        for (MoveWideMethod m : List.of(
                new MoveWideMethod("movz", AArch64Assembler::movz),
                new MoveWideMethod("movk", AArch64Assembler::movk),
                new MoveWideMethod("movn", AArch64Assembler::movn))) {
            for (int rd = 0; rd < 32; rd++) {
                for (int shift : SHIFTS) {
                    for (int imm : IMM16) {
                        int r = rd;
                        p.emit(m.name(), m.name() + " " + x(r) + ", #" + hex(imm) + ", lsl #" + shift,
                                a -> m.form().emit(a, reg(r), imm, shift));
                    }
                }
            }
        }

        // two-register forms: all 1024 pairs (31 = xzr/wzr)
        record Reg2Method(String name, Function<int[], String> text, Reg2 form) {}
        for (Reg2Method m : List.of(
                new Reg2Method("movReg", r -> "mov " + x(r[0]) + ", " + x(r[1]), AArch64Assembler::movReg),
                new Reg2Method("movReg32", r -> "mov " + w(r[0]) + ", " + w(r[1]), AArch64Assembler::movReg32),
                new Reg2Method("cmpReg32", r -> "cmp " + w(r[0]) + ", " + w(r[1]), AArch64Assembler::cmpReg32),
                new Reg2Method("cmpReg64", r -> "cmp " + x(r[0]) + ", " + x(r[1]), AArch64Assembler::cmpReg64),
                new Reg2Method("tstReg64", r -> "tst " + x(r[0]) + ", " + x(r[1]), AArch64Assembler::tstReg64))) {
            for (int i = 0; i < 32; i++) {
                for (int j = 0; j < 32; j++) {
                    int a0 = i;
                    int a1 = j;
                    p.emit(m.name(), m.text().apply(new int[] {a0, a1}), a -> m.form().emit(a, reg(a0), reg(a1)));
                }
            }
        }

        // three-register forms: each slot takes every value 0..31, the others rotating
        record Reg3Method(String name, Function<int[], String> text, Reg3 form) {}
        for (Reg3Method m : List.of(
                new Reg3Method("addReg", r -> "add " + x(r[0]) + ", " + x(r[1]) + ", " + x(r[2]),
                        AArch64Assembler::addReg),
                new Reg3Method("subReg", r -> "sub " + x(r[0]) + ", " + x(r[1]) + ", " + x(r[2]),
                        AArch64Assembler::subReg),
                new Reg3Method("mul", r -> "mul " + x(r[0]) + ", " + x(r[1]) + ", " + x(r[2]),
                        AArch64Assembler::mul),
                new Reg3Method("eorReg64", r -> "eor " + x(r[0]) + ", " + x(r[1]) + ", " + x(r[2]),
                        AArch64Assembler::eorReg64),
                new Reg3Method("ldr64Reg", r -> "ldr " + x(r[0]) + ", [" + xsp(r[1]) + ", " + x(r[2]) + "]",
                        AArch64Assembler::ldr64Reg),
                new Reg3Method("ldr32Reg", r -> "ldr " + w(r[0]) + ", [" + xsp(r[1]) + ", " + x(r[2]) + "]",
                        AArch64Assembler::ldr32Reg),
                new Reg3Method("str64Reg", r -> "str " + x(r[0]) + ", [" + xsp(r[1]) + ", " + x(r[2]) + "]",
                        AArch64Assembler::str64Reg))) {
            List<int[]> triples = new ArrayList<>();
            for (int v = 0; v < 3; v++) {
                for (int k = 0; k < 32; k++) {
                    triples.add(new int[] {k, perm(k, 5, 3 + 11 * v), perm(k, 11, 7 + 5 * v)});
                }
            }
            triples.add(new int[] {0, 0, 0});
            triples.add(new int[] {31, 31, 31});
            for (int[] t : triples) {
                p.emit(m.name(), m.text().apply(t), a -> m.form().emit(a, reg(t[0]), reg(t[1]), reg(t[2])));
            }
        }

        // add, shifted register: each slot takes every value 0..31, the shift its edges and 32
        for (int shift : new int[] {0, 1, 32, 63}) {
            for (int k = 0; k < 32; k++) {
                int[] t = {k, perm(k, 5, 3 + shift), perm(k, 11, 7 + shift)};
                int sh = shift;
                p.emit("addRegLsl", "add " + x(t[0]) + ", " + x(t[1]) + ", " + x(t[2]) + ", lsl #" + sh,
                        a -> a.addRegLsl(reg(t[0]), reg(t[1]), reg(t[2]), sh));
            }
        }

        // add/subs immediate: imm12 edges; register 31 is sp as source (and as add's destination),
        // zr as subs's destination
        record ImmMethod(String name, Function<int[], String> text, RegRegImm form) {}
        for (ImmMethod m : List.of(
                new ImmMethod("addImm64", r -> "add " + xsp(r[0]) + ", " + xsp(r[1]) + ", #" + r[2],
                        AArch64Assembler::addImm64),
                new ImmMethod("subsImm32", r -> "subs " + w(r[0]) + ", " + wsp(r[1]) + ", #" + r[2],
                        AArch64Assembler::subsImm32),
                new ImmMethod("subsImm64", r -> "subs " + x(r[0]) + ", " + xsp(r[1]) + ", #" + r[2],
                        AArch64Assembler::subsImm64))) {
            for (int ii = 0; ii < IMM12.length; ii++) {
                int imm = IMM12[ii];
                for (int k = 0; k < 32; k++) {
                    int rd = k;
                    int rn = perm(k, 7, 5 * ii);
                    p.emit(m.name(), m.text().apply(new int[] {rd, rn, imm}), a -> m.form().emit(a, reg(rd), reg(rn), imm));
                }
            }
        }

        // loads and stores with a scaled unsigned offset: 0, size, ..., 4095 * size; base 31 = sp
        record LoadStoreMethod(String name, String mnemonic, boolean wide, int size, LoadStore form) {}
        for (LoadStoreMethod m : List.of(
                new LoadStoreMethod("ldr64", "ldr", true, 8, AArch64Assembler::ldr64),
                new LoadStoreMethod("ldr32", "ldr", false, 4, AArch64Assembler::ldr32),
                new LoadStoreMethod("ldrsw", "ldrsw", true, 4, AArch64Assembler::ldrsw),
                new LoadStoreMethod("str64", "str", true, 8, AArch64Assembler::str64))) {
            for (int oi = 0; oi < OFFSET_UNITS.length; oi++) {
                long offset = (long) OFFSET_UNITS[oi] * m.size();
                for (int k = 0; k < 32; k++) {
                    int rt = k;
                    int rn = perm(k, 5, 3 + 7 * oi);
                    String text = m.mnemonic() + " " + (m.wide() ? x(rt) : w(rt)) + ", [" + xsp(rn)
                            + ", #" + offset + "]";
                    p.emit(m.name(), text, a -> m.form().emit(a, reg(rt), reg(rn), offset));
                }
            }
        }

        // stlr: every register in each slot, base 31 = sp
        for (int v = 0; v < 3; v++) {
            for (int k = 0; k < 32; k++) {
                int rt = k;
                int rn = perm(k, 5, 3 + 11 * v);
                p.emit("stlr64", "stlr " + x(rt) + ", [" + xsp(rn) + "]", a -> a.stlr64(reg(rt), reg(rn)));
            }
        }

        // ldar (32-bit): every register in each slot, base 31 = sp
        for (int v = 0; v < 3; v++) {
            for (int k = 0; k < 32; k++) {
                int rt = k;
                int rn = perm(k, 7, 5 + 11 * v);
                p.emit("ldar32", "ldar " + w(rt) + ", [" + xsp(rn) + "]", a -> a.ldar32(reg(rt), reg(rn)));
            }
        }

        // post-increment byte loads/stores; rt != rn (writeback with rt == rn is unpredictable)
        for (int d : new int[] {1, 5, 17, 31}) {
            for (int k = 0; k < 32; k++) {
                int rt = k;
                int rn = (k + d) & 31;
                p.emit("ldrbPostIncrement", "ldrb " + w(rt) + ", [" + xsp(rn) + "], #1",
                        a -> a.ldrbPostIncrement(reg(rt), reg(rn)));
                p.emit("strbPostIncrement", "strb " + w(rt) + ", [" + xsp(rn) + "], #1",
                        a -> a.strbPostIncrement(reg(rt), reg(rn)));
            }
        }

        // system
        for (int r = 0; r < 32; r++) {
            int rt = r;
            p.emit("mrsTpidrEl0", "mrs " + x(rt) + ", tpidr_el0", a -> a.mrsTpidrEl0(reg(rt)));
        }
        p.emit("ret", "ret", AArch64Assembler::ret);
        for (int imm : new int[] {0, 1, 0x45e0, 0x1234, 0x7fff, 0x8000, 0xffff}) {
            p.emit("brk", "brk #" + hex(imm), a -> a.brk(imm));
        }

        // branches and adr
        List<BranchForm> all = allBranchForms();
        // to itself (distance 0)
        for (BranchForm f : all) {
            Label self = new Label();
            p.bind(self);
            p.emit(f.method(), f.text().apply(p.name(self)), a -> f.op().accept(a, self));
        }
        // short backward (bound label): distances 8, 16, ... 
        Label back = new Label();
        p.bind(back);
        p.emit("ret", "ret", AArch64Assembler::ret);
        branchesTo(p, all, back);
        // short forward (label bound later)
        Label forward = new Label();
        branchesTo(p, all, forward);
        p.emit("ret", "ret", AArch64Assembler::ret);
        p.bind(forward);
        p.emit("ret", "ret", AArch64Assembler::ret);
        // adr back to the odd label: odd distances of a few KiB
        for (int r = 0; r < 32; r++) {
            int rd = r;
            p.emit("adr", "adr " + x(rd) + ", " + p.name(odd), a -> a.adr(reg(rd), odd));
        }
        // middle distances, and the edges of each range
        List<BranchForm> mid = new ArrayList<>(farForms());
        mid.addAll(tbnzForms());
        forwardBy(p, mid, 0x4000);
        backwardBy(p, mid, 0x4000);
        forwardBy(p, tbnzForms(), MAX_FORWARD_14);
        backwardBy(p, tbnzForms(), MAX_BACKWARD_14);
        forwardBy(p, farForms(), 0x40000);
        backwardBy(p, farForms(), 0x40000 + 4);
        forwardBy(p, farForms(), MAX_FORWARD_19);
        backwardBy(p, farForms(), MAX_BACKWARD_19);
        // last: adr to the end of the code, the first exactly at adr's largest forward distance
        // (1 MiB - 1, an odd offset, which is why nothing follows it)
        Label end = new Label();
        int first = p.buf.size();
        for (int r = 0; r < 32; r++) {
            int rd = r;
            p.emit("adr", "adr " + x(rd) + ", " + p.name(end), a -> a.adr(reg(rd), end));
        }
        p.fill(first + MAX_FORWARD_ADR - p.buf.size());
        p.bind(end);
        return p;
    }

    // ---- comparison ---------------------------------------------------------------------------

    /**
     * Compares our bytes with gas's {@code .text} (code followed by the length table); returns one
     * line per mismatching instruction.
     */
    static List<String> compare(List<Case> cases, byte[] ours, byte[] gas) {
        int n = cases.size();
        List<String> mismatches = new ArrayList<>();
        if (gas.length != ours.length + n) {
            mismatches.add("gas .text is " + gas.length + " bytes, expected " + (ours.length + n)
                    + " (" + ours.length + " bytes of code plus a length table of " + n + "); "
                    + "the layout of the two sides differs");
            return mismatches;
        }
        for (int i = 0; i < n; i++) {
            Case c = cases.get(i);
            int gasLen = gas[ours.length + i] & 0xff;
            byte[] expected = Arrays.copyOfRange(gas, c.start(), c.start() + gasLen);
            byte[] actual = Arrays.copyOfRange(ours, c.start(), c.end());
            if (!Arrays.equals(expected, actual)) {
                mismatches.add("#" + i + " " + c.method() + " @0x" + Integer.toHexString(c.start())
                        + ": `" + c.text() + "`  gas: " + HEX.formatHex(expected)
                        + "  ours: " + HEX.formatHex(actual));
            }
        }
        return mismatches;
    }

    // ---- tests --------------------------------------------------------------------------------

    @Test
    void everyFormEncodesLikeTheGnuAssembler(@TempDir Path dir) throws IOException {
        Program p = buildProgram();
        String source = p.finish();
        byte[] ours = p.buf.toByteArray();
        byte[] gas = GnuBinutils.AARCH64.assembleText(dir, source);
        List<Case> cases = p.cases;

        GnuBinutils.AARCH64.assertNoMismatches(compare(cases, ours, gas), cases.size());
        assertTrue(cases.size() > 5000, "only " + cases.size() + " instructions compared");

        // gas's brk #0x45e0 is the rseq abort signature 0xd428bc00
        Case sig = cases.stream().filter(c -> c.text().equals("brk #0x45e0")).findFirst().orElseThrow();
        assertArrayEquals(HEX.parseHex("00 bc 28 d4"),
                Arrays.copyOfRange(gas, sig.start(), sig.start() + INSN), "gas brk #0x45e0");

        // The comparison can fail: swap the gas slots of two instructions whose encodings differ
        // and check both are reported, by text.
        int a = indexOf(cases, "movz");
        int b = indexOf(cases, "mrsTpidrEl0");
        byte[] broken = gas.clone();
        int sa = cases.get(a).start();
        int sb = cases.get(b).start();
        System.arraycopy(gas, sb, broken, sa, SLOT);
        System.arraycopy(gas, sa, broken, sb, SLOT);
        List<String> detected = compare(cases, ours, broken);
        assertEquals(2, detected.size(), () -> "expected exactly the two swapped cases: " + detected);
        assertTrue(detected.get(0).contains(cases.get(a).text()), detected.get(0));
        assertTrue(detected.get(1).contains(cases.get(b).text()), detected.get(1));
        // ... a single flipped bit of ours is detected too, also in a branch offset ...
        byte[] flipped = ours.clone();
        flipped[cases.get(b).start() + 1] ^= 1;
        assertEquals(1, compare(cases, flipped, gas).size());
        Case far = cases.stream().filter(c -> c.method().equals("bcond")).reduce((x, y) -> y).orElseThrow();
        byte[] offByOne = ours.clone();
        offByOne[far.start()] ^= 1 << 5;  // lowest bit of imm19
        List<String> farDetected = compare(cases, offByOne, gas);
        assertEquals(1, farDetected.size(), farDetected::toString);
        assertTrue(farDetected.get(0).contains(far.text()), farDetected.get(0));
        // ... and so is a layout that drifted.
        assertEquals(1, compare(cases, ours, Arrays.copyOf(gas, gas.length + 4)).size());
    }

    private static int indexOf(List<Case> cases, String method) {
        for (int i = 0; i < cases.size(); i++) {
            if (cases.get(i).method().equals(method)) {
                return i;
            }
        }
        throw new AssertionError("no case for " + method);
    }

    @Test
    void everyPublicEmittingMethodIsCovered() {
        List<Case> cases = buildProgram().cases;
        Set<String> covered = new TreeSet<>();
        for (Case c : cases) {
            covered.add(c.method());
        }
        Set<String> missing = new TreeSet<>();
        for (Method m : AArch64Assembler.class.getDeclaredMethods()) {
            if (Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers())
                    && !NON_EMITTING.contains(m.getName()) && !SEMANTIC.contains(m.getName())
                    && !covered.contains(m.getName())) {
                missing.add(m.getName());
            }
        }
        assertTrue(missing.isEmpty(), "public AArch64Assembler methods not compared with " + AS + ": "
                + missing + " (add cases to AArch64AssemblerTest)");
        Set<String> conds = new LinkedHashSet<>();
        for (Case c : cases) {
            if (c.method().equals("bcond")) {
                conds.add(c.text().substring(2, c.text().indexOf(' ')).toUpperCase(Locale.ROOT));
            }
        }
        for (Cond c : Cond.values()) {
            assertTrue(conds.contains(c.name()), "no b." + c.name().toLowerCase(Locale.ROOT) + " case");
        }
    }

    @Test
    void brk0x45e0IsTheRseqAbortSignature() {
        CodeBuffer buf = new CodeBuffer();
        new AArch64Assembler(buf).brk(0x45e0);
        assertArrayEquals(HEX.parseHex("00 bc 28 d4"), buf.toByteArray());
        assertEquals(0xd428bc00, buf.get32(0));
    }

    // ---- movImm64, executed ---------------------------------------------------------------------

    /**
     * Executes a movz/movn/movk sequence writing {@code rd}, decoding the 64-bit move-wide
     * encodings (sf=1, bits 28..23 = 100101, opc 00 movn / 10 movz / 11 movk, hw, imm16, Rd).
     */
    static long execute(int rd, int[] words, long value) {
        long x = 0x5a5a_a5a5_5a5a_a5a5L;
        for (int i = 0; i < words.length; i++) {
            int word = words[i];
            String where = "instruction " + i + " (0x" + Integer.toHexString(word) + ") of movImm64("
                    + rd + ", 0x" + Long.toHexString(value) + ")";
            assertEquals(1, word >>> 31, () -> where + ": not 64-bit (sf)");
            assertEquals(0b100101, (word >>> 23) & 0x3f, () -> where + ": not a move wide");
            assertEquals(rd, word & 31, () -> where + ": wrong destination");
            int opc = (word >>> 29) & 3;
            int shift = 16 * ((word >>> 21) & 3);
            long imm = (long) ((word >>> 5) & 0xffff) << shift;
            if (i == 0 && opc == 0b11) {
                fail(where + ": starts with movk, so depends on the old register value");
            }
            switch (opc) {
                case 0b00 -> x = ~imm;
                case 0b10 -> x = imm;
                case 0b11 -> x = (x & ~(0xffffL << shift)) | imm;
                default -> fail(where + ": opc 01 is unallocated");
            }
        }
        return x;
    }

    static int halfwordsDifferentFrom(long value, int filler) {
        int n = 0;
        for (int shift = 0; shift < 64; shift += 16) {
            n += ((value >>> shift) & 0xffff) != filler ? 1 : 0;
        }
        return n;
    }

    static List<Long> movImm64Values() {
        List<Long> values = new ArrayList<>(List.of(0L, 1L, -1L, -32L, 0xffffL, 0x10000L, 0xffff_ffffL,
                0x1_0000_0000L, Long.MIN_VALUE, Long.MAX_VALUE, 0x1234_5678_9abc_def0L,
                0xffff_0000_ffff_0000L, 0x0000_ffff_0000_ffffL, 0xffff_ffff_0000_0000L, 0xd428bc00L,
                0x53053053L, -0x10000L, -0x10001L));
        // every combination of halfwords from {0, 0xffff, 0x1234, 0x8000, 0x7fff}
        int[] halves = {0, 0xffff, 0x1234, 0x8000, 0x7fff};
        for (int a : halves) {
            for (int b : halves) {
                for (int c : halves) {
                    for (int d : halves) {
                        values.add((long) a << 48 | (long) b << 32 | (long) c << 16 | d);
                    }
                }
            }
        }
        for (int k = 0; k < 64; k++) {
            values.add(1L << k);
            values.add(~(1L << k));
            values.add((1L << k) - 1);
            values.add(-(1L << k));
        }
        Random random = new Random(0x5eed_2024L);
        for (int i = 0; i < 5000; i++) {
            values.add(random.nextLong());
            values.add(random.nextLong() >> random.nextInt(64));
        }
        return values;
    }

    @Test
    void movImm64BuildsEveryValueInAtMostFourInstructions() {
        int checked = 0;
        List<Long> values = movImm64Values();
        for (int vi = 0; vi < values.size(); vi++) {
            long value = values.get(vi);
            int rd = vi % 31;
            CodeBuffer buf = new CodeBuffer();
            new AArch64Assembler(buf).movImm64(reg(rd), value);
            int size = buf.size();
            assertTrue(size % 4 == 0 && size >= 4 && size <= 16, () -> "movImm64(0x"
                    + Long.toHexString(value) + ") emitted " + size + " bytes: "
                    + HEX.formatHex(buf.toByteArray()));
            int[] words = new int[size / 4];
            for (int i = 0; i < words.length; i++) {
                words[i] = buf.get32(4 * i);
            }
            long result = execute(rd, words, value);
            assertEquals(value, result, () -> "movImm64(" + rd + ", 0x" + Long.toHexString(value)
                    + ") computes 0x" + Long.toHexString(result) + ": " + HEX.formatHex(buf.toByteArray()));
            // as documented: one instruction per halfword differing from the better filler
            int expected = Math.max(1, Math.min(halfwordsDifferentFrom(value, 0),
                    halfwordsDifferentFrom(value, 0xffff)));
            assertEquals(expected, words.length, () -> "movImm64(0x" + Long.toHexString(value)
                    + ") instruction count: " + HEX.formatHex(buf.toByteArray()));
            checked++;
        }
        assertTrue(checked > 10000, "only " + checked + " values");
    }

    // ---- out-of-range arguments ------------------------------------------------------------------

    private static void assertRejects(String what, Consumer<AArch64Assembler> op) {
        AArch64Assembler a = new AArch64Assembler(new CodeBuffer());
        assertThrows(IllegalArgumentException.class, () -> op.accept(a), what + " must be rejected");
    }

    /** Zero words until the buffer is {@code size} bytes long. */
    private static void padTo(CodeBuffer buf, int size) {
        while (buf.size() < size) {
            buf.emit8(0);
        }
    }

    @Test
    void outOfRangeArgumentsAreRejected() {
        Label l = new Label();
        // registers: 32 and -1 in every register slot
        for (int bad : new int[] {32, -1}) {
            String r = "register " + bad;
            assertRejects("movz " + r, a -> a.movz(reg(bad), 0, 0));
            assertRejects("movk " + r, a -> a.movk(reg(bad), 0, 0));
            assertRejects("movn " + r, a -> a.movn(reg(bad), 0, 0));
            assertRejects("movImm64 " + r, a -> a.movImm64(reg(bad), 0x1234_5678L));
            assertRejects("movReg rd " + r, a -> a.movReg(reg(bad), reg(0)));
            assertRejects("movReg rm " + r, a -> a.movReg(reg(0), reg(bad)));
            for (String name : List.of("addReg", "subReg", "mul", "eorReg64", "ldr64Reg", "ldr32Reg", "str64Reg")) {
                Reg3 f = switch (name) {
                    case "addReg" -> AArch64Assembler::addReg;
                    case "subReg" -> AArch64Assembler::subReg;
                    case "mul" -> AArch64Assembler::mul;
                    case "eorReg64" -> AArch64Assembler::eorReg64;
                    case "ldr64Reg" -> AArch64Assembler::ldr64Reg;
                    case "ldr32Reg" -> AArch64Assembler::ldr32Reg;
                    default -> AArch64Assembler::str64Reg;
                };
                assertRejects(name + " slot 0 " + r, a -> f.emit(a, reg(bad), reg(0), reg(0)));
                assertRejects(name + " slot 1 " + r, a -> f.emit(a, reg(0), reg(bad), reg(0)));
                assertRejects(name + " slot 2 " + r, a -> f.emit(a, reg(0), reg(0), reg(bad)));
            }
            assertRejects("movReg32 rd " + r, a -> a.movReg32(reg(bad), reg(0)));
            assertRejects("movReg32 rm " + r, a -> a.movReg32(reg(0), reg(bad)));
            assertRejects("addRegLsl rd " + r, a -> a.addRegLsl(reg(bad), reg(0), reg(0), 1));
            assertRejects("addRegLsl rn " + r, a -> a.addRegLsl(reg(0), reg(bad), reg(0), 1));
            assertRejects("addRegLsl rm " + r, a -> a.addRegLsl(reg(0), reg(0), reg(bad), 1));
            assertRejects("addImm64 rd " + r, a -> a.addImm64(reg(bad), reg(0), 1));
            assertRejects("addImm64 rn " + r, a -> a.addImm64(reg(0), reg(bad), 1));
            assertRejects("subsImm32 rd " + r, a -> a.subsImm32(reg(bad), reg(0), 1));
            assertRejects("subsImm32 rn " + r, a -> a.subsImm32(reg(0), reg(bad), 1));
            assertRejects("subsImm64 rd " + r, a -> a.subsImm64(reg(bad), reg(0), 1));
            assertRejects("subsImm64 rn " + r, a -> a.subsImm64(reg(0), reg(bad), 1));
            assertRejects("cmpReg32 rn " + r, a -> a.cmpReg32(reg(bad), reg(0)));
            assertRejects("cmpReg32 rm " + r, a -> a.cmpReg32(reg(0), reg(bad)));
            assertRejects("cmpReg64 rn " + r, a -> a.cmpReg64(reg(bad), reg(0)));
            assertRejects("cmpReg64 rm " + r, a -> a.cmpReg64(reg(0), reg(bad)));
            assertRejects("tstReg64 rn " + r, a -> a.tstReg64(reg(bad), reg(0)));
            assertRejects("tstReg64 rm " + r, a -> a.tstReg64(reg(0), reg(bad)));
            for (String name : List.of("ldr64", "ldr32", "ldrsw", "str64")) {
                LoadStore f = switch (name) {
                    case "ldr64" -> AArch64Assembler::ldr64;
                    case "ldr32" -> AArch64Assembler::ldr32;
                    case "ldrsw" -> AArch64Assembler::ldrsw;
                    default -> AArch64Assembler::str64;
                };
                assertRejects(name + " rt " + r, a -> f.emit(a, reg(bad), reg(0), 0));
                assertRejects(name + " rn " + r, a -> f.emit(a, reg(0), reg(bad), 0));
            }
            assertRejects("stlr64 rt " + r, a -> a.stlr64(reg(bad), reg(0)));
            assertRejects("stlr64 rn " + r, a -> a.stlr64(reg(0), reg(bad)));
            assertRejects("ldar32 rt " + r, a -> a.ldar32(reg(bad), reg(0)));
            assertRejects("ldar32 rn " + r, a -> a.ldar32(reg(0), reg(bad)));
            assertRejects("ldrbPostIncrement rt " + r, a -> a.ldrbPostIncrement(reg(bad), reg(0)));
            assertRejects("ldrbPostIncrement rn " + r, a -> a.ldrbPostIncrement(reg(0), reg(bad)));
            assertRejects("strbPostIncrement rt " + r, a -> a.strbPostIncrement(reg(bad), reg(0)));
            assertRejects("strbPostIncrement rn " + r, a -> a.strbPostIncrement(reg(0), reg(bad)));
            assertRejects("cbz64 " + r, a -> a.cbz64(reg(bad), l));
            assertRejects("cbnz32 " + r, a -> a.cbnz32(reg(bad), l));
            assertRejects("tbnz32 " + r, a -> a.tbnz32(reg(bad), 0, l));
            assertRejects("adr " + r, a -> a.adr(reg(bad), l));
            assertRejects("mrsTpidrEl0 " + r, a -> a.mrsTpidrEl0(reg(bad)));
        }

        // move wide: imm16 and shift
        for (String name : List.of("movz", "movk", "movn")) {
            MoveWide f = switch (name) {
                case "movz" -> AArch64Assembler::movz;
                case "movk" -> AArch64Assembler::movk;
                default -> AArch64Assembler::movn;
            };
            assertRejects(name + " imm16 65536", a -> f.emit(a, reg(0), 65536, 0));
            assertRejects(name + " imm16 -1", a -> f.emit(a, reg(0), -1, 0));
            for (int shift : new int[] {8, 1, 15, 17, 64, -16}) {
                assertRejects(name + " shift " + shift, a -> f.emit(a, reg(0), 1, shift));
            }
        }
        // imm12
        assertRejects("subsImm32 4096", a -> a.subsImm32(reg(0), reg(1), 4096));
        assertRejects("subsImm32 -1", a -> a.subsImm32(reg(0), reg(1), -1));
        assertRejects("addRegLsl shift 64", a -> a.addRegLsl(reg(0), reg(1), reg(2), 64));
        assertRejects("addRegLsl shift -1", a -> a.addRegLsl(reg(0), reg(1), reg(2), -1));
        assertRejects("addImm64 4096", a -> a.addImm64(reg(0), reg(1), 4096));
        assertRejects("addImm64 -1", a -> a.addImm64(reg(0), reg(1), -1));
        assertRejects("subsImm64 4096", a -> a.subsImm64(reg(0), reg(1), 4096));
        assertRejects("subsImm64 -1", a -> a.subsImm64(reg(0), reg(1), -1));
        // scaled offsets: misaligned, one unit past the end, negative
        for (long off : new long[] {4, 1, 32768, 32760 + 8, -8, 1L << 32, Long.MIN_VALUE}) {
            assertRejects("ldr64 offset " + off, a -> a.ldr64(reg(0), reg(1), off));
            assertRejects("str64 offset " + off, a -> a.str64(reg(0), reg(1), off));
        }
        for (long off : new long[] {2, 1, 16384, -4, 1L << 32, Long.MIN_VALUE}) {
            assertRejects("ldr32 offset " + off, a -> a.ldr32(reg(0), reg(1), off));
            assertRejects("ldrsw offset " + off, a -> a.ldrsw(reg(0), reg(1), off));
        }
        // brk imm16, tbnz bit
        assertRejects("brk 65536", a -> a.brk(65536));
        assertRejects("brk -1", a -> a.brk(-1));
        assertRejects("tbnz32 bit 32", a -> a.tbnz32(reg(0), 32, l));
        assertRejects("tbnz32 bit -1", a -> a.tbnz32(reg(0), -1, l));

        // branch distances: the edge fits, one step past it does not (forward: when the label is
        // bound; backward: at the branch)
        record Far(String name, BiConsumer<AArch64Assembler, Label> op, int maxForward, int maxBackward,
                int step) {}
        List<Far> fars = new ArrayList<>();
        for (Cond c : Cond.values()) {
            fars.add(new Far("bcond " + c, (a, t) -> a.bcond(c, t), MAX_FORWARD_19, MAX_BACKWARD_19, 4));
        }
        fars.add(new Far("cbz64", (a, t) -> a.cbz64(reg(3), t), MAX_FORWARD_19, MAX_BACKWARD_19, 4));
        fars.add(new Far("cbnz32", (a, t) -> a.cbnz32(reg(3), t), MAX_FORWARD_19, MAX_BACKWARD_19, 4));
        fars.add(new Far("tbnz32", (a, t) -> a.tbnz32(reg(3), 7, t), MAX_FORWARD_14, MAX_BACKWARD_14, 4));
        fars.add(new Far("adr", (a, t) -> a.adr(reg(3), t), MAX_FORWARD_ADR, MAX_BACKWARD_19, 1));
        for (Far f : fars) {
            for (int extra : new int[] {0, f.step()}) {
                int forward = f.maxForward() + extra;
                int backward = f.maxBackward() + extra;
                CodeBuffer fb = new CodeBuffer();
                AArch64Assembler fa = new AArch64Assembler(fb);
                Label ft = new Label();
                f.op().accept(fa, ft);
                padTo(fb, forward);
                CodeBuffer bb = new CodeBuffer();
                AArch64Assembler ba = new AArch64Assembler(bb);
                Label bt = new Label();
                padTo(bb, 4);
                ba.bind(bt);
                padTo(bb, 4 + backward);
                if (extra == 0) {
                    assertDoesNotThrow(() -> fa.bind(ft), f.name() + " +" + forward + " fits");
                    assertDoesNotThrow(() -> f.op().accept(ba, bt), f.name() + " -" + backward + " fits");
                } else {
                    assertThrows(IllegalArgumentException.class, () -> fa.bind(ft),
                            f.name() + " +" + forward + " must be rejected");
                    assertThrows(IllegalArgumentException.class, () -> f.op().accept(ba, bt),
                            f.name() + " -" + backward + " must be rejected");
                }
            }
        }
    }
}
