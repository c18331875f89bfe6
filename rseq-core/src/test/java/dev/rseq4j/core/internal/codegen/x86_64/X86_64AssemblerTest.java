package dev.rseq4j.core.internal.codegen.x86_64;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.rseq4j.core.internal.codegen.CodeBuffer;
import dev.rseq4j.core.internal.codegen.GnuBinutils;
import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;
import dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond;
import dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Mem;
import dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compares every instruction form {@link X86_64Assembler} emits, byte for byte, with what the GNU
 * assembler ({@code as --64}, AT&T syntax) produces for the same instruction.
 *
 * <p>Each instruction occupies its own 16-byte slot (padded with {@code int3}) both in our buffer
 * and in the assembled {@code .text}, so a wrong length never shifts the comparison of the
 * instructions after it and label offsets agree. After the slots, the {@code .s} file appends one
 * {@code .byte .LeN - .LsN} per instruction: the length gas chose, read back from the same
 * {@code .text} section.
 *
 * <p>Needs GNU binutils ({@code as}, {@code objcopy}) for x86_64 on the PATH; without them the test
 * fails rather than being skipped, because CI installs binutils.
 */
class X86_64AssemblerTest {

    private static final int SLOT = 16;
    private static final int PAD = 0xCC;
    private static final HexFormat HEX = HexFormat.ofDelimiter(" ");

    private static final String[] R64 = {
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
    private static final String[] R32 = {
        "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
        "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};

    /** Displacements for [base (+ index) + disp]: zero, int8 (both signs and bounds), disp32. */
    private static final int[] DISPS = {
        0, 8, -8, 0x7f, -0x80, 0x80, -0x81, 0x920, Integer.MIN_VALUE};

    /** Displacements for fs:[disp32]. */
    private static final int[] FS_DISPS = {
        0, 8, -8, 0x920, 0x12345678, Integer.MAX_VALUE, Integer.MIN_VALUE};

    /** Immediates: int8 range (both signs and bounds) and imm32. */
    private static final int[] IMMS = {
        0, 1, -1, 0x7f, -0x80, 0x80, -0x81, 0x12345678, Integer.MAX_VALUE, Integer.MIN_VALUE};

    /** Public instance methods that emit nothing. */
    private static final Set<String> NON_EMITTING = Set.of("bind", "buffer");

    // ---- the program: our encoding plus the AT&T text of each instruction --------------------

    /** One instruction: the method exercised, its AT&T text, and where our bytes are. */
    record Case(String method, String text, int start, int end) {}

    /** Builds our code and the gas source side by side, one instruction per 16-byte slot. */
    static final class Program {
        final CodeBuffer buf = new CodeBuffer();
        final X86_64Assembler asm = new X86_64Assembler(buf);
        final StringBuilder source = new StringBuilder(".code64\n.text\n");
        final List<Case> cases = new ArrayList<>();

        void emit(String method, String text, Consumer<X86_64Assembler> op) {
            int index = cases.size();
            int start = buf.size();
            assertEquals(index * SLOT, start, "slot start");
            op.accept(asm);
            int end = buf.size();
            if (end - start > SLOT) {
                fail("our encoding of `" + text + "` is " + (end - start) + " bytes (> 15 is never "
                        + "valid x86): " + HEX.formatHex(buf.toByteArray(), start, end));
            }
            while (buf.size() < (index + 1) * SLOT) {
                buf.emit8(PAD);
            }
            source.append(".Ls").append(index).append(":\n\t").append(text)
                    .append("\n.Le").append(index).append(":\n\t.balign ").append(SLOT)
                    .append(", ").append(PAD).append('\n');
            cases.add(new Case(method, text, start, end));
        }

        /** Binds {@code label} here and defines gas's numeric local label {@code number} here. */
        void bind(int number, Label label) {
            source.append(number).append(":\n");
            asm.bind(label);
        }

        /** The complete gas source: the slots, then the table of gas's instruction lengths. */
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

    static String imm(int v) {
        return "$" + hex(v);
    }

    static String att(Mem m) {
        String disp = m.disp() == 0 ? "" : hex(m.disp());
        String index = m.index() == null ? "" : ",%" + R64[m.index().ordinal()];
        return disp + "(%" + R64[m.base().ordinal()] + index + ")";
    }

    static String q(Reg r) {
        return "%" + R64[r.ordinal()];
    }

    static String l(Reg r) {
        return "%" + R32[r.ordinal()];
    }

    static String jcc(Cond c) {
        return "j" + c.name().toLowerCase(Locale.ROOT);
    }

    /** Every base with every displacement, and every base with every index (disp rotating). */
    static List<Mem> memOperands() {
        Reg[] regs = Reg.values();
        List<Mem> out = new ArrayList<>();
        for (Reg base : regs) {
            for (int disp : DISPS) {
                out.add(X86_64Assembler.mem(base, disp));
            }
        }
        int k = 0;
        for (Reg base : regs) {
            for (Reg index : regs) {
                if (index == Reg.RSP) {
                    continue;
                }
                int disp = DISPS[k++ % DISPS.length];
                out.add(disp == 0 ? X86_64Assembler.mem(base, index) : new Mem(base, index, disp));
            }
        }
        return out;
    }

    interface MemForm {
        void emit(X86_64Assembler a, Reg r, Mem m);
    }

    interface RegRegForm {
        void emit(X86_64Assembler a, Reg x, Reg y);
    }

    static Program buildProgram() {
        Program p = new Program();
        Reg[] regs = Reg.values();
        Label farBack = new Label();
        Label farForward = new Label();
        p.bind(4, farBack);
        p.emit("ret", "ret", X86_64Assembler::ret);

        // [mem] forms: every operand once per method, register slot rotating over all 16.
        List<Mem> mems = memOperands();
        record MemMethod(String name, String att, boolean store, boolean r32, MemForm form) {}
        List<MemMethod> memMethods = List.of(
                new MemMethod("movLoad64", "mov", false, false, X86_64Assembler::movLoad64),
                new MemMethod("movLoad32", "mov", false, true, X86_64Assembler::movLoad32),
                new MemMethod("movStore64", "mov", true, false, (a, r, m) -> a.movStore64(m, r)),
                new MemMethod("lea", "lea", false, false, X86_64Assembler::lea),
                new MemMethod("imulLoad64", "imul", false, false, X86_64Assembler::imulLoad64),
                new MemMethod("cmpLoad32", "cmp", false, true, X86_64Assembler::cmpLoad32));
        for (int mi = 0; mi < memMethods.size(); mi++) {
            MemMethod mm = memMethods.get(mi);
            for (int k = 0; k < mems.size(); k++) {
                Mem m = mems.get(k);
                Reg r = regs[(5 * k + 3 * mi) % regs.length];
                String reg = mm.r32() ? l(r) : q(r);
                String text = mm.store()
                        ? mm.att() + " " + reg + ", " + att(m)
                        : mm.att() + " " + att(m) + ", " + reg;
                p.emit(mm.name(), text, a -> mm.form().emit(a, r, m));
            }
        }

        // register-register forms: all 256 pairs. Intel order (dst/a, src/b) -> AT&T "src, dst".
        record RegRegMethod(String name, String att, boolean r32, RegRegForm form) {}
        List<RegRegMethod> regRegMethods = List.of(
                new RegRegMethod("movReg64", "mov", false, X86_64Assembler::movReg64),
                new RegRegMethod("movReg32", "mov", true, X86_64Assembler::movReg32),
                new RegRegMethod("addReg64", "add", false, X86_64Assembler::addReg64),
                new RegRegMethod("subReg64", "sub", false, X86_64Assembler::subReg64),
                new RegRegMethod("cmpReg64", "cmp", false, X86_64Assembler::cmpReg64),
                new RegRegMethod("testReg32", "test", true, X86_64Assembler::testReg32),
                new RegRegMethod("testReg64", "test", false, X86_64Assembler::testReg64),
                new RegRegMethod("xorReg32", "xor", true, X86_64Assembler::xorReg32),
                new RegRegMethod("xorReg64", "xor", false, X86_64Assembler::xorReg64));
        for (RegRegMethod rr : regRegMethods) {
            for (Reg x : regs) {
                for (Reg y : regs) {
                    String text = rr.att() + " " + (rr.r32() ? l(y) + ", " + l(x) : q(y) + ", " + q(x));
                    p.emit(rr.name(), text, a -> rr.form().emit(a, x, y));
                }
            }
        }

        // immediates and single-register forms
        for (Reg r : regs) {
            for (int v : IMMS) {
                p.emit("movImm32", "mov " + imm(v) + ", " + l(r), a -> a.movImm32(r, v));
                p.emit("addImm64", "add " + imm(v) + ", " + q(r), a -> a.addImm64(r, v));
            }
            p.emit("decReg32", "dec " + l(r), a -> a.decReg32(r));
            for (int shift : new int[] {1, 2, 4, 31, 32, 63}) {
                p.emit("shlImm64", "shl $" + shift + ", " + q(r), a -> a.shlImm64(r, shift));
            }
        }

        // fs:[disp32] forms: every register, displacements rotating over FS_DISPS.
        int k = 0;
        for (Reg r : regs) {
            for (int j = 0; j < 4; j++, k++) {
                int d = FS_DISPS[k % FS_DISPS.length];
                String fs = "%fs:" + hex(d);
                p.emit("movLoadFs64", "mov " + fs + ", " + q(r), a -> a.movLoadFs64(r, d));
                p.emit("movLoadFs32", "mov " + fs + ", " + l(r), a -> a.movLoadFs32(r, d));
                p.emit("movStoreFs64", "mov " + q(r) + ", " + fs, a -> a.movStoreFs64(d, r));
                p.emit("movsxdLoadFs", "movslq " + fs + ", " + q(r), a -> a.movsxdLoadFs(r, d));
            }
        }

        // special
        p.emit("repMovsb", "rep movsb", X86_64Assembler::repMovsb);
        for (int sig : new int[] {0x53053053, 0, -1, 0x12345678, Integer.MIN_VALUE}) {
            p.emit("ud1Signature", "ud1 " + hex(sig) + "(%rip), %edi", a -> a.ud1Signature(sig));
        }

        // jumps and rip-relative lea: a label at the jump itself (1b), short backward (1b),
        // forward (2f), far backward (4b, the start of the program) and far forward (3f, the end).
        Label back = new Label();
        Label forward = new Label();
        p.bind(1, back);
        for (Cond c : Cond.values()) {
            p.emit("jcc", "{disp32} " + jcc(c) + " 1b", a -> a.jcc(c, back));
        }
        for (Reg r : regs) {
            p.emit("leaRip", "lea 1b(%rip), " + q(r), a -> a.leaRip(r, back));
        }
        for (Cond c : Cond.values()) {
            p.emit("jcc", "{disp32} " + jcc(c) + " 2f", a -> a.jcc(c, forward));
        }
        for (Reg r : regs) {
            p.emit("leaRip", "lea 2f(%rip), " + q(r), a -> a.leaRip(r, forward));
        }
        p.emit("ret", "ret", X86_64Assembler::ret);
        p.bind(2, forward);
        for (Cond c : Cond.values()) {
            p.emit("jcc", "{disp32} " + jcc(c) + " 2b", a -> a.jcc(c, forward));
            p.emit("jcc", "{disp32} " + jcc(c) + " 4b", a -> a.jcc(c, farBack));
            p.emit("jcc", "{disp32} " + jcc(c) + " 3f", a -> a.jcc(c, farForward));
        }
        for (Reg r : regs) {
            p.emit("leaRip", "lea 4b(%rip), " + q(r), a -> a.leaRip(r, farBack));
            p.emit("leaRip", "lea 3f(%rip), " + q(r), a -> a.leaRip(r, farForward));
        }
        // filler so the far-forward target is far away
        for (Reg r : regs) {
            for (Reg s : regs) {
                Mem m = new Mem(s, r == Reg.RSP ? null : r, 0x100);
                p.emit("lea", "lea " + att(m) + ", " + q(r), a -> a.lea(r, m));
            }
        }
        p.bind(3, farForward);
        p.emit("ret", "ret", X86_64Assembler::ret);
        return p;
    }

    // ---- comparison ---------------------------------------------------------------------------

    /**
     * Compares our bytes with gas's {@code .text} (slots followed by the length table); returns one
     * line per mismatching instruction.
     */
    static List<String> compare(List<Case> cases, byte[] ours, byte[] gas) {
        int n = cases.size();
        List<String> mismatches = new ArrayList<>();
        if (gas.length != n * SLOT + n) {
            mismatches.add("gas .text is " + gas.length + " bytes, expected " + (n * SLOT + n)
                    + " (" + n + " slots of " + SLOT + " bytes plus the length table); "
                    + "an instruction was longer than " + SLOT + " bytes or the layout broke");
            return mismatches;
        }
        for (int i = 0; i < n; i++) {
            Case c = cases.get(i);
            int gasLen = gas[n * SLOT + i] & 0xff;
            byte[] expected = Arrays.copyOfRange(gas, i * SLOT, i * SLOT + gasLen);
            byte[] actual = Arrays.copyOfRange(ours, c.start(), c.end());
            if (!Arrays.equals(expected, actual)) {
                mismatches.add("#" + i + " " + c.method() + ": `" + c.text() + "`  gas: "
                        + HEX.formatHex(expected) + "  ours: " + HEX.formatHex(actual));
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
        byte[] gas = GnuBinutils.X86_64.assembleText(dir, source);
        List<Case> cases = p.cases;

        GnuBinutils.X86_64.assertNoMismatches(compare(cases, ours, gas), cases.size());
        assertTrue(cases.size() > 1000, "only " + cases.size() + " instructions compared");

        // The comparison can fail: swap the gas slots (and lengths) of two instructions whose
        // encodings differ and check both are reported, by text.
        int a = indexOf(cases, "imulLoad64");
        int b = indexOf(cases, "ud1Signature");
        byte[] broken = gas.clone();
        int n = cases.size();
        byte[] slotA = Arrays.copyOfRange(gas, a * SLOT, (a + 1) * SLOT);
        System.arraycopy(gas, b * SLOT, broken, a * SLOT, SLOT);
        System.arraycopy(slotA, 0, broken, b * SLOT, SLOT);
        broken[n * SLOT + a] = gas[n * SLOT + b];
        broken[n * SLOT + b] = gas[n * SLOT + a];
        List<String> detected = compare(cases, ours, broken);
        assertEquals(2, detected.size(), () -> "expected exactly the two swapped cases: " + detected);
        assertTrue(detected.get(0).contains(cases.get(a).text()), detected.get(0));
        assertTrue(detected.get(1).contains(cases.get(b).text()), detected.get(1));
        // ... and a single flipped byte of ours is detected too.
        byte[] flipped = ours.clone();
        flipped[cases.get(b).start() + 1] ^= 1;
        assertEquals(1, compare(cases, flipped, gas).size());
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
        Set<String> covered = new TreeSet<>();
        for (Case c : buildProgram().cases) {
            covered.add(c.method());
        }
        Set<String> missing = new TreeSet<>();
        for (Method m : X86_64Assembler.class.getDeclaredMethods()) {
            if (Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers())
                    && !NON_EMITTING.contains(m.getName()) && !covered.contains(m.getName())) {
                missing.add(m.getName());
            }
        }
        assertTrue(missing.isEmpty(), "public X86_64Assembler methods not compared with GNU as: "
                + missing + " (add cases to X86_64AssemblerTest)");
    }

    @Test
    void shiftCountsOutsideOneTo63AreRejected() {
        X86_64Assembler a = new X86_64Assembler(new CodeBuffer());
        for (int bad : new int[] {0, 64, -1}) {
            assertThrows(IllegalArgumentException.class, () -> a.shlImm64(Reg.RAX, bad), "shl by " + bad);
        }
        assertEquals(0, a.buffer().size(), "nothing emitted");
    }

    @Test
    void ud1SignatureIsGlibcsAbortSignatureInstruction() {
        CodeBuffer buf = new CodeBuffer();
        new X86_64Assembler(buf).ud1Signature(0x53053053);
        // gas: ud1 0x53053053(%rip),%edi
        assertArrayEquals(HEX.parseHex("0f b9 3d 53 30 05 53"), buf.toByteArray());
    }
}
