package dev.rseq4j.core.internal.codegen.x86_64;

import dev.rseq4j.core.internal.codegen.CodeBuffer;
import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;

/**
 * A small x86_64 encoder with labels: only the instruction forms the stubs need, each encoded the
 * way the GNU assembler encodes it (the tests compare every form with {@code as}). Method names are
 * Intel-order: destination first.
 *
 * <p>Memory operands are {@code [base + index + disp]} with scale 1, or {@code fs:[disp32]} (the
 * thread's rseq area), or {@code [rip + label]}. Jumps are always rel32, so code size never depends
 * on label distance.
 */
public final class X86_64Assembler {

    /** General-purpose registers, in encoding order. */
    public enum Reg {
        RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15;

        int low3() {
            return ordinal() & 7;
        }

        int high() {
            return ordinal() >> 3;
        }
    }

    /** Condition codes for {@link #jcc}. */
    public enum Cond {
        E(0x4), NE(0x5), AE(0x3), B(0x2), A(0x7), S(0x8);

        final int code;

        Cond(int code) {
            this.code = code;
        }
    }

    /** A {@code [base + index + disp]} operand; {@code index} may be null. */
    public record Mem(Reg base, Reg index, int disp) {
        public Mem {
            if (base == null) {
                throw new IllegalArgumentException("base register required");
            }
            if (index == Reg.RSP) {
                throw new IllegalArgumentException("rsp cannot be an index register");
            }
        }
    }

    public static Mem mem(Reg base, int disp) {
        return new Mem(base, null, disp);
    }

    public static Mem mem(Reg base, Reg index) {
        return new Mem(base, index, 0);
    }

    private static final int FS = 0x64;
    // REX prefix 0100WRXB: W = 64-bit operand, R/X/B = high bit of ModRM.reg / SIB.index / ModRM.rm or SIB.base.
    private static final int REX = 0x40;
    private static final int REX_W = 1 << 3;
    private static final int REX_R_SHIFT = 2;
    private static final int REX_X_SHIFT = 1;
    private static final int REX_B_SHIFT = 0;
    // ModRM: mod[7:6] reg[5:3] rm[2:0]; SIB: scale[7:6] index[5:3] base[2:0].
    private static final int MOD_SHIFT = 6;
    private static final int REG_SHIFT = 3;
    private static final int MOD_INDIRECT = 0b00;
    private static final int MOD_DISP8 = 0b01;
    private static final int MOD_DISP32 = 0b10;
    private static final int MOD_REGISTER = 0b11;
    /** rm = 100: a SIB byte follows (and, as SIB.index, "no index"). */
    private static final int RM_SIB = 0b100;
    /** rm = 101 with mod 00: rip + disp32 (and, as SIB.base with mod 00, "no base"). */
    private static final int RM_DISP32 = 0b101;
    /** {@code 0F}: the two-byte opcode escape. */
    private static final int ESCAPE_0F = 0x0F;
    /** {@code B8+r}: mov r32, imm32. */
    private static final int MOV_IMM32 = 0xB8;

    private final CodeBuffer buf;

    public X86_64Assembler(CodeBuffer buf) {
        this.buf = buf;
    }

    public CodeBuffer buffer() {
        return buf;
    }

    // ---- moves ---------------------------------------------------------------------------

    /** {@code mov r64, [mem]} */
    public void movLoad64(Reg dst, Mem src) {
        memOp(REX_W, 0x8B, dst.ordinal(), src);
    }

    /** {@code mov r32, [mem]} (zero-extends into the 64-bit register) */
    public void movLoad32(Reg dst, Mem src) {
        memOp(0, 0x8B, dst.ordinal(), src);
    }

    /** {@code mov [mem], r64} */
    public void movStore64(Mem dst, Reg src) {
        memOp(REX_W, 0x89, src.ordinal(), dst);
    }

    /** {@code mov r64, r64} */
    public void movReg64(Reg dst, Reg src) {
        regReg(REX_W, 0x89, src, dst);
    }

    /** {@code mov r32, r32} (zero-extends into the 64-bit register) */
    public void movReg32(Reg dst, Reg src) {
        regReg(0, 0x89, src, dst);
    }

    /** {@code mov r32, imm32} (zero-extends) */
    public void movImm32(Reg dst, int imm) {
        rex(0, 0, 0, dst.high());
        buf.emit8(MOV_IMM32 + dst.low3());
        buf.emit32(imm);
    }

    /** {@code mov r64, fs:[disp32]} */
    public void movLoadFs64(Reg dst, int disp) {
        buf.emit8(FS);
        fsOp(REX_W, 0x8B, dst, disp);
    }

    /** {@code mov r32, fs:[disp32]} */
    public void movLoadFs32(Reg dst, int disp) {
        buf.emit8(FS);
        fsOp(0, 0x8B, dst, disp);
    }

    /** {@code mov fs:[disp32], r64} */
    public void movStoreFs64(int disp, Reg src) {
        buf.emit8(FS);
        fsOp(REX_W, 0x89, src, disp);
    }

    /** {@code movsxd r64, fs:[disp32]} (sign-extends a 32-bit field) */
    public void movsxdLoadFs(Reg dst, int disp) {
        buf.emit8(FS);
        fsOp(REX_W, 0x63, dst, disp);
    }

    /** {@code lea r64, [mem]} */
    public void lea(Reg dst, Mem src) {
        memOp(REX_W, 0x8D, dst.ordinal(), src);
    }

    /** {@code lea r64, [rip + label]} */
    public void leaRip(Reg dst, Label target) {
        rex(REX_W, dst.high(), 0, 0);
        buf.emit8(0x8D);
        buf.emit8(MOD_INDIRECT << MOD_SHIFT | dst.low3() << REG_SHIFT | RM_DISP32);
        int at = buf.size();
        buf.emit32(0);
        int end = buf.size();
        buf.reference(target, (b, t) -> b.put32(at, t - end));
    }

    // ---- arithmetic ----------------------------------------------------------------------

    /** {@code add r64, r64} */
    public void addReg64(Reg dst, Reg src) {
        regReg(REX_W, 0x01, src, dst);
    }

    /** {@code sub r64, r64} */
    public void subReg64(Reg dst, Reg src) {
        regReg(REX_W, 0x29, src, dst);
    }

    /** {@code add r64, imm32} (imm8 form when it fits, as the GNU assembler chooses) */
    public void addImm64(Reg dst, int imm) {
        rex(REX_W, 0, 0, dst.high());
        if (imm == (byte) imm) {
            buf.emit8(0x83);
            buf.emit8(modrmRegister(0, dst.low3()));     // /0: add
            buf.emit8(imm);
        } else if (dst == Reg.RAX) {
            buf.emit8(0x05);
            buf.emit32(imm);
        } else {
            buf.emit8(0x81);
            buf.emit8(modrmRegister(0, dst.low3()));     // /0: add
            buf.emit32(imm);
        }
    }

    /** {@code imul r64, [mem]} */
    public void imulLoad64(Reg dst, Mem src) {
        memOp0F(REX_W, 0xAF, dst.ordinal(), src);
    }

    /** {@code cmp r64, r64} (flags of {@code a - b}) */
    public void cmpReg64(Reg a, Reg b) {
        regReg(REX_W, 0x39, b, a);
    }

    /** {@code cmp r32, [mem]} (flags of {@code a - [mem]}) */
    public void cmpLoad32(Reg a, Mem b) {
        memOp(0, 0x3B, a.ordinal(), b);
    }

    /** {@code test r32, r32} */
    public void testReg32(Reg a, Reg b) {
        regReg(0, 0x85, b, a);
    }

    /** {@code test r64, r64} */
    public void testReg64(Reg a, Reg b) {
        regReg(REX_W, 0x85, b, a);
    }

    /** {@code xor r64, r64} */
    public void xorReg64(Reg dst, Reg src) {
        regReg(REX_W, 0x31, src, dst);
    }

    /** {@code xor r32, r32} */
    public void xorReg32(Reg dst, Reg src) {
        regReg(0, 0x31, src, dst);
    }

    /** {@code shl r64, imm} for {@code imm} in [1, 63] (the {@code D1} form for 1, as the GNU assembler chooses) */
    public void shlImm64(Reg r, int imm) {
        if (imm < 1 || imm > 63) {
            throw new IllegalArgumentException("shift must be in [1, 63], was " + imm);
        }
        rex(REX_W, 0, 0, r.high());
        buf.emit8(imm == 1 ? 0xD1 : 0xC1);
        buf.emit8(modrmRegister(4, r.low3()));           // /4: shl
        if (imm != 1) {
            buf.emit8(imm);
        }
    }

    /** {@code dec r32} */
    public void decReg32(Reg r) {
        rex(0, 0, 0, r.high());
        buf.emit8(0xFF);
        buf.emit8(modrmRegister(1, r.low3()));           // /1: dec
    }

    // ---- control flow and special --------------------------------------------------------

    /** {@code jcc rel32} */
    public void jcc(Cond cond, Label target) {
        buf.emit8(ESCAPE_0F);
        buf.emit8(0x80 | cond.code);
        rel32(target);
    }

    public void ret() {
        buf.emit8(0xC3);
    }

    /** {@code rep movsb}: copies rcx bytes from [rsi] to [rdi]; restartable at any byte. */
    public void repMovsb() {
        buf.emit8(0xF3);
        buf.emit8(0xA4);
    }

    /**
     * {@code ud1 edi, [rip + signature]}: a trapping instruction whose last four bytes are the rseq
     * abort signature, so the kernel finds the signature right before abort_ip and the CPU never
     * executes it as data (glibc's convention).
     */
    public void ud1Signature(int signature) {
        buf.emit8(ESCAPE_0F);
        buf.emit8(0xB9);
        buf.emit8(MOD_INDIRECT << MOD_SHIFT | Reg.RDI.low3() << REG_SHIFT | RM_DISP32);   // edi, [rip + disp32]
        buf.emit32(signature);
    }

    public void bind(Label label) {
        buf.bind(label);
    }

    // ---- encoding helpers ----------------------------------------------------------------

    private void rel32(Label target) {
        int at = buf.size();
        buf.emit32(0);
        int end = buf.size();
        buf.reference(target, (b, t) -> b.put32(at, t - end));
    }

    private void rex(int w, int r, int x, int b) {
        int bits = w | r << REX_R_SHIFT | x << REX_X_SHIFT | b << REX_B_SHIFT;
        if (bits != 0) {
            buf.emit8(REX | bits);
        }
    }

    /** ModRM register-direct form: {@code opcode /r} with reg = {@code reg}, rm = {@code rm}. */
    private void regReg(int w, int opcode, Reg reg, Reg rm) {
        rex(w, reg.high(), 0, rm.high());
        buf.emit8(opcode);
        buf.emit8(modrmRegister(reg.low3(), rm.low3()));
    }

    /** ModRM with mod 11: both operands registers (or an opcode extension in reg). */
    private static int modrmRegister(int reg3, int rm3) {
        return MOD_REGISTER << MOD_SHIFT | reg3 << REG_SHIFT | rm3;
    }

    private void memOp(int w, int opcode, int reg, Mem m) {
        rex(w, reg >> 3, m.index() == null ? 0 : m.index().high(), m.base().high());
        buf.emit8(opcode);
        modrm(reg & 7, m);
    }

    private void memOp0F(int w, int opcode, int reg, Mem m) {
        rex(w, reg >> 3, m.index() == null ? 0 : m.index().high(), m.base().high());
        buf.emit8(ESCAPE_0F);
        buf.emit8(opcode);
        modrm(reg & 7, m);
    }

    /** {@code opcode reg, [disp32]} with no base and no index (after an fs prefix). */
    private void fsOp(int w, int opcode, Reg reg, int disp) {
        rex(w, reg.high(), 0, 0);
        buf.emit8(opcode);
        buf.emit8(MOD_INDIRECT << MOD_SHIFT | reg.low3() << REG_SHIFT | RM_SIB);
        buf.emit8(RM_SIB << REG_SHIFT | RM_DISP32);      // SIB: no index, no base: disp32 follows
        buf.emit32(disp);
    }

    private void modrm(int reg3, Mem m) {
        Reg base = m.base();
        int disp = m.disp();
        // [rbp]/[r13] with mod 00 would mean rip/disp32: force a zero disp8.
        int mod = disp == 0 && base.low3() != RM_DISP32 ? MOD_INDIRECT : disp == (byte) disp ? MOD_DISP8 : MOD_DISP32;
        // rm 100 means "SIB follows", so [rsp]/[r12] need a SIB byte too (index 100: none).
        boolean sib = m.index() != null || base.low3() == RM_SIB;
        buf.emit8(mod << MOD_SHIFT | reg3 << REG_SHIFT | (sib ? RM_SIB : base.low3()));
        if (sib) {
            int index = m.index() == null ? RM_SIB : m.index().low3();
            buf.emit8(index << REG_SHIFT | base.low3());    // scale 00: x1
        }
        if (mod == MOD_DISP8) {
            buf.emit8(disp);
        } else if (mod == MOD_DISP32) {
            buf.emit32(disp);
        }
    }
}
