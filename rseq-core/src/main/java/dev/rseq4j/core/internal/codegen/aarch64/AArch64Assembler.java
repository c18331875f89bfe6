package dev.rseq4j.core.internal.codegen.aarch64;

import dev.rseq4j.core.internal.codegen.CodeBuffer;
import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;

/**
 * A small A64 encoder with labels: only the instruction forms the stubs need, each encoded as the
 * GNU assembler encodes it (the tests compare every form with {@code aarch64-linux-gnu-as}).
 * Registers are {@link Reg}s: {@code x0..x30}, and number 31, which is {@code xzr}/{@code wzr} where
 * an instruction reads it as zero and {@code sp} where it is a base or an immediate form's source.
 * An immediate or offset that does not fit its field throws {@link IllegalArgumentException}: the
 * generator builds such values in a register ({@link #movImm64}) instead of truncating them. A
 * branch whose label is bound later is checked when it is bound. Either way the exception abandons
 * the whole generation: a buffer that threw is never installed.
 */
public final class AArch64Assembler {
    /** A general-purpose register by number: 0..30, or 31 (zr or sp, by instruction). */
    public record Reg(int number) {
        public Reg {
            if (number < 0 || number > 31) {
                throw new IllegalArgumentException("register must be in [0, 31], was " + number);
            }
        }

        /** {@code x<n>} (31: zr or sp). */
        public static Reg x(int n) {
            return new Reg(n);
        }

        @Override
        public String toString() {
            return "x" + number;
        }
    }

    public static final Reg X0 = new Reg(0);
    public static final Reg X1 = new Reg(1);
    public static final Reg X2 = new Reg(2);
    public static final Reg X3 = new Reg(3);
    public static final Reg X4 = new Reg(4);
    public static final Reg X5 = new Reg(5);
    public static final Reg X6 = new Reg(6);
    public static final Reg X7 = new Reg(7);
    public static final Reg X9 = new Reg(9);
    public static final Reg X10 = new Reg(10);
    public static final Reg X11 = new Reg(11);
    public static final Reg X12 = new Reg(12);
    public static final Reg X13 = new Reg(13);
    public static final Reg X14 = new Reg(14);
    public static final Reg X15 = new Reg(15);
    /** The zero register where an encoding reads register 31 as zero. */
    public static final Reg ZR = new Reg(31);

    // ---- instruction fields (Arm ARM, "A64 instruction set encoding") --------------------------
    /** sf/size: the 64-bit form of a data-processing instruction. */
    private static final int SF = 1 << 31;
    private static final int RD_SHIFT = 0;          // Rd/Rt [4:0]
    private static final int RN_SHIFT = 5;          // Rn [9:5]
    private static final int RM_SHIFT = 16;         // Rm [20:16]
    private static final int IMM12_SHIFT = 10;      // add/sub immediate, load/store unsigned offset [21:10]
    private static final int IMM6_SHIFT = 10;       // shifted-register shift amount [15:10]
    private static final int IMM16_SHIFT = 5;       // move wide, exception generation [20:5]
    private static final int HW_SHIFT = 21;         // move wide: halfword position [22:21]
    private static final int IMM19_SHIFT = 5;       // b.cond, cbz/cbnz [23:5]
    private static final int IMM14_SHIFT = 5;       // tbz/tbnz [18:5]
    private static final int B40_SHIFT = 19;        // tbz/tbnz bit number [23:19]
    private static final int IMM9_SHIFT = 12;       // load/store post-index [20:12]
    private static final int IMMLO_SHIFT = 29;      // adr [30:29]
    private static final int IMMHI_SHIFT = 5;       // adr [23:5]

    // Opcodes: every field zero except the ones that select the instruction.
    private static final int MOVZ = 0x52800000 | SF;
    private static final int MOVK = 0x72800000 | SF;
    private static final int MOVN = 0x12800000 | SF;
    private static final int ORR_SHIFTED = 0x2a000000 | SF;
    private static final int ORR_SHIFTED_32 = 0x2a000000;
    private static final int ADD_SHIFTED = 0x0b000000 | SF;
    private static final int SUB_SHIFTED = 0x4b000000 | SF;
    private static final int ADD_IMM_64 = 0x11000000 | SF;
    private static final int EOR_SHIFTED = 0x4a000000 | SF;
    private static final int ANDS_SHIFTED = 0x6a000000 | SF;
    private static final int SUBS_SHIFTED_32 = 0x6b000000;
    private static final int SUBS_IMM_32 = 0x71000000;
    private static final int MADD = 0x1b000000 | SF;
    private static final int RA_SHIFT = 10;         // madd's addend [14:10]
    private static final int LDR_64_UIMM = 0xf9400000;
    private static final int LDR_32_UIMM = 0xb9400000;
    private static final int LDRSW_UIMM = 0xb9800000;
    private static final int STR_64_UIMM = 0xf9000000;
    private static final int LDR_64_REG = 0xf8606800;   // option LSL/UXTX (011), S = 0: [xn, xm]
    private static final int LDR_32_REG = 0xb8606800;
    private static final int STR_64_REG = 0xf8206800;
    private static final int LDRB_POST = 0x38400400;
    private static final int STRB_POST = 0x38000400;
    private static final int B_COND = 0x54000000;
    private static final int CBZ_64 = 0x34000000 | SF;
    private static final int CBNZ_32 = 0x35000000;
    private static final int TBNZ = 0x37000000;
    private static final int ADR = 0x10000000;
    private static final int MRS_TPIDR_EL0 = 0xd53bd040;
    private static final int RET_X30 = 0xd65f03c0;
    private static final int BRK = 0xd4200000;

    /** Condition codes of {@link #bcond}. */
    public enum Cond {
        EQ(0), NE(1), HS(2), LO(3), HI(8), LS(9);

        final int code;

        Cond(int code) {
            this.code = code;
        }
    }

    private final CodeBuffer buf;

    public AArch64Assembler(CodeBuffer buf) {
        this.buf = buf;
    }

    public CodeBuffer buffer() {
        return buf;
    }

    private void emit(int instruction) {
        buf.emit32(instruction);
    }

    /** An instruction whose operands are three registers: {@code Rd/Rt}, {@code Rn} and {@code Rm}. */
    private void registers(int opcode, Reg rd, Reg rn, Reg rm) {
        emit(opcode | rm(rm) | rn(rn) | rd(rd));
    }

    /** A load or store {@code [xn, #offset]}, the offset scaled by the access {@code size}. */
    private void unsignedOffset(int opcode, Reg rt, Reg rn, long offset, int size) {
        emit(opcode | scaled(offset, size) << IMM12_SHIFT | rn(rn) | rd(rt));
    }

    private static int rd(Reg r) {
        return r.number() << RD_SHIFT;
    }

    private static int rn(Reg r) {
        return r.number() << RN_SHIFT;
    }

    private static int rm(Reg r) {
        return r.number() << RM_SHIFT;
    }

    private static int unsigned(long value, int bits, String what) {
        if (value < 0 || value >= 1L << bits) {
            throw new IllegalArgumentException(what + " must fit in " + bits + " unsigned bits, was " + value);
        }
        return (int) value;
    }

    // ---- moves and arithmetic -------------------------------------------------------------

    /** {@code movz xd, #imm16, lsl #shift} */
    public void movz(Reg rd, int imm16, int shift) {
        moveWide(MOVZ, rd, imm16, shift);
    }

    /** {@code movk xd, #imm16, lsl #shift} */
    public void movk(Reg rd, int imm16, int shift) {
        moveWide(MOVK, rd, imm16, shift);
    }

    /** {@code movn xd, #imm16, lsl #shift}: xd = ~(imm16 << shift) */
    public void movn(Reg rd, int imm16, int shift) {
        moveWide(MOVN, rd, imm16, shift);
    }

    private void moveWide(int opcode, Reg rd, int imm16, int shift) {
        if (shift != 0 && shift != 16 && shift != 32 && shift != 48) {
            throw new IllegalArgumentException("shift must be 0, 16, 32 or 48, was " + shift);
        }
        emit(opcode | (shift / 16) << HW_SHIFT | unsigned(imm16, 16, "imm16") << IMM16_SHIFT | rd(rd));
    }

    /**
     * Builds any 64-bit value in {@code xd}: {@code movz} at the first non-zero halfword (or
     * {@code movn} at the first halfword that is not 0xffff, when fewer halfwords then differ from
     * 0xffff than from 0), then a {@code movk} for each remaining halfword that differs.
     */
    public void movImm64(Reg rd, long value) {
        boolean inverted = halfwordsDifferentFrom(value, 0xffff) < halfwordsDifferentFrom(value, 0);
        int filler = inverted ? 0xffff : 0;
        int first = -1;
        for (int shift = 0; shift < 64; shift += 16) {
            if (halfword(value, shift) != filler) {
                first = shift;
                break;
            }
        }
        if (first < 0) {                       // 0 or -1
            if (inverted) {
                movn(rd, 0, 0);
            } else {
                movz(rd, 0, 0);
            }
            return;
        }
        if (inverted) {
            movn(rd, ~halfword(value, first) & 0xffff, first);
        } else {
            movz(rd, halfword(value, first), first);
        }
        for (int shift = first + 16; shift < 64; shift += 16) {
            if (halfword(value, shift) != filler) {
                movk(rd, halfword(value, shift), shift);
            }
        }
    }

    private static int halfword(long value, int shift) {
        return (int) (value >>> shift) & 0xffff;
    }

    private static int halfwordsDifferentFrom(long value, int filler) {
        int n = 0;
        for (int shift = 0; shift < 64; shift += 16) {
            n += halfword(value, shift) != filler ? 1 : 0;
        }
        return n;
    }

    /** {@code mov xd, xm} (orr xd, xzr, xm) */
    public void movReg(Reg rd, Reg rm) {
        registers(ORR_SHIFTED, rd, ZR, rm);
    }

    /** {@code mov wd, wm} (orr wd, wzr, wm): zero-extends the low 32 bits of {@code xm} into {@code xd} */
    public void movReg32(Reg rd, Reg rm) {
        registers(ORR_SHIFTED_32, rd, ZR, rm);
    }

    /** {@code add xd, xn, xm} */
    public void addReg(Reg rd, Reg rn, Reg rm) {
        registers(ADD_SHIFTED, rd, rn, rm);
    }

    /** {@code sub xd, xn, xm} */
    public void subReg(Reg rd, Reg rn, Reg rm) {
        registers(SUB_SHIFTED, rd, rn, rm);
    }

    /** {@code add xd, xn, xm, lsl #shift} for {@code shift} in [0, 63] (register 31 is zr) */
    public void addRegLsl(Reg rd, Reg rn, Reg rm, int shift) {
        registers(ADD_SHIFTED | unsigned(shift, 6, "shift") << IMM6_SHIFT, rd, rn, rm);
    }

    /** {@code eor xd, xn, xm} */
    public void eorReg64(Reg rd, Reg rn, Reg rm) {
        registers(EOR_SHIFTED, rd, rn, rm);
    }

    /** {@code tst xn, xm} (ands xzr, xn, xm): Z set when {@code xn & xm == 0} */
    public void tstReg64(Reg rn, Reg rm) {
        registers(ANDS_SHIFTED, ZR, rn, rm);
    }

    /** {@code add xd, xn, #imm12} (register 31 is sp in both places) */
    public void addImm64(Reg rd, Reg rn, int imm12) {
        emit(ADD_IMM_64 | unsigned(imm12, 12, "imm12") << IMM12_SHIFT | rn(rn) | rd(rd));
    }

    /** {@code subs wd, wn, #imm12} */
    public void subsImm32(Reg rd, Reg rn, int imm12) {
        emit(SUBS_IMM_32 | unsigned(imm12, 12, "imm12") << IMM12_SHIFT | rn(rn) | rd(rd));
    }

    /** {@code subs xd, xn, #imm12} */
    public void subsImm64(Reg rd, Reg rn, int imm12) {
        emit(SUBS_IMM_32 | SF | unsigned(imm12, 12, "imm12") << IMM12_SHIFT | rn(rn) | rd(rd));
    }

    /** {@code mul xd, xn, xm} (madd xd, xn, xm, xzr) */
    public void mul(Reg rd, Reg rn, Reg rm) {
        emit(MADD | rm(rm) | ZR.number() << RA_SHIFT | rn(rn) | rd(rd));
    }

    /** {@code cmp wn, wm} */
    public void cmpReg32(Reg rn, Reg rm) {
        registers(SUBS_SHIFTED_32, ZR, rn, rm);
    }

    /** {@code cmp xn, xm} */
    public void cmpReg64(Reg rn, Reg rm) {
        registers(SUBS_SHIFTED_32 | SF, ZR, rn, rm);
    }

    // ---- loads and stores -----------------------------------------------------------------

    /** {@code ldr xt, [xn, #offset]} (offset a multiple of 8 in [0, 32760]) */
    public void ldr64(Reg rt, Reg rn, long offset) {
        unsignedOffset(LDR_64_UIMM, rt, rn, offset, 8);
    }

    /** {@code ldr wt, [xn, #offset]} (offset a multiple of 4 in [0, 16380]) */
    public void ldr32(Reg rt, Reg rn, long offset) {
        unsignedOffset(LDR_32_UIMM, rt, rn, offset, 4);
    }

    /** {@code ldrsw xt, [xn, #offset]} */
    public void ldrsw(Reg rt, Reg rn, long offset) {
        unsignedOffset(LDRSW_UIMM, rt, rn, offset, 4);
    }

    /** {@code str xt, [xn, #offset]} */
    public void str64(Reg rt, Reg rn, long offset) {
        unsignedOffset(STR_64_UIMM, rt, rn, offset, 8);
    }

    /** {@code ldr xt, [xn, xm]} */
    public void ldr64Reg(Reg rt, Reg rn, Reg rm) {
        registers(LDR_64_REG, rt, rn, rm);
    }

    /** {@code ldr wt, [xn, xm]} */
    public void ldr32Reg(Reg rt, Reg rn, Reg rm) {
        registers(LDR_32_REG, rt, rn, rm);
    }

    /** {@code str xt, [xn, xm]} */
    public void str64Reg(Reg rt, Reg rn, Reg rm) {
        registers(STR_64_REG, rt, rn, rm);
    }

    /** {@code stlr xt, [xn]}: store-release */
    public void stlr64(Reg rt, Reg rn) {
        emit(orderedAccess(SIZE_64, false, rt, rn));
    }

    /**
     * {@code ldar wt, [xn]}: load-acquire of a 32-bit word. No later load or store of this thread
     * is performed before it (unlike a plain {@code ldr}, which a later load may overtake, even
     * across a conditional branch). Base register only: no offset form exists.
     */
    public void ldar32(Reg rt, Reg rn) {
        emit(orderedAccess(SIZE_32, true, rt, rn));
    }

    // Load/store ordered (LDAR/STLR), Arm ARM C4.1.66 "Load/store ordered":
    //   size[31:30] 001000[29:24] o2[23]=1 L[22] o1[21]=0 Rs[20:16]=11111 o0[15]=1 Rt2[14:10]=11111 Rn[9:5] Rt[4:0]
    private static final int SIZE_SHIFT = 30;
    private static final int SIZE_32 = 0b10;
    private static final int SIZE_64 = 0b11;
    private static final int ORDERED_CLASS = 0b001000 << 24;
    private static final int ORDERED_O2 = 1 << 23;
    private static final int ORDERED_LOAD = 1 << 22;
    private static final int ORDERED_RS_NONE = 0b11111 << 16;
    private static final int ORDERED_O0_ACQUIRE_RELEASE = 1 << 15;
    private static final int ORDERED_RT2_NONE = 0b11111 << 10;

    /** {@code ldar}/{@code stlr} of {@code size} (0b10 = 32-bit, 0b11 = 64-bit): acquire load or release store. */
    private static int orderedAccess(int size, boolean load, Reg rt, Reg rn) {
        return size << SIZE_SHIFT | ORDERED_CLASS | ORDERED_O2 | (load ? ORDERED_LOAD : 0) | ORDERED_RS_NONE
                | ORDERED_O0_ACQUIRE_RELEASE | ORDERED_RT2_NONE | rn(rn) | rd(rt);
    }

    /** {@code ldrb wt, [xn], #1}: load a byte, then advance xn */
    public void ldrbPostIncrement(Reg rt, Reg rn) {
        emit(LDRB_POST | 1 << IMM9_SHIFT | rn(rn) | rd(rt));
    }

    /** {@code strb wt, [xn], #1}: store a byte, then advance xn */
    public void strbPostIncrement(Reg rt, Reg rn) {
        emit(STRB_POST | 1 << IMM9_SHIFT | rn(rn) | rd(rt));
    }

    private static int scaled(long offset, int size) {
        if (offset < 0 || offset % size != 0 || offset / size >= 4096) {
            throw new IllegalArgumentException("offset must be a multiple of " + size + " in [0, "
                    + 4095L * size + "], was " + offset);
        }
        return (int) (offset / size);
    }

    // ---- control flow, system -------------------------------------------------------------

    /** {@code b.cond label} (within 1 MiB) */
    public void bcond(Cond cond, Label target) {
        branch19(B_COND | cond.code, target);
    }

    /** {@code cbz xt, label} */
    public void cbz64(Reg rt, Label target) {
        branch19(CBZ_64 | rd(rt), target);
    }

    /** {@code cbnz wt, label} */
    public void cbnz32(Reg rt, Label target) {
        branch19(CBNZ_32 | rd(rt), target);
    }

    /** {@code tbnz wt, #bit, label} (bit in [0, 31], within 32 KiB) */
    public void tbnz32(Reg rt, int bit, Label target) {
        int at = buf.size();
        int base = TBNZ | unsigned(bit, 5, "bit") << B40_SHIFT | rd(rt);
        emit(base);
        buf.reference(target, (b, t) -> b.put32(at, base | imm((t - at) / 4, 14, t - at) << IMM14_SHIFT));
    }

    private void branch19(int base, Label target) {
        int at = buf.size();
        emit(base);
        buf.reference(target, (b, t) -> b.put32(at, base | imm((t - at) / 4, 19, t - at) << IMM19_SHIFT));
    }

    /** {@code adr xd, label} (within 1 MiB) */
    public void adr(Reg rd, Label target) {
        int at = buf.size();
        int base = ADR | rd(rd);
        emit(base);
        buf.reference(target, (b, t) -> {
            int off = imm(t - at, 21, t - at);
            b.put32(at, base | (off & 3) << IMMLO_SHIFT | (off >>> 2) << IMMHI_SHIFT);
        });
    }

    /** A signed {@code bits}-wide field: the value masked, after checking that it fits. */
    private static int imm(int value, int bits, int byteDistance) {
        if (value < -(1 << (bits - 1)) || value >= 1 << (bits - 1)) {
            throw new IllegalArgumentException("branch target " + byteDistance + " bytes away does not fit "
                    + bits + " bits");
        }
        return value & ((1 << bits) - 1);
    }

    /** {@code mrs xt, tpidr_el0}: the thread pointer */
    public void mrsTpidrEl0(Reg rt) {
        emit(MRS_TPIDR_EL0 | rd(rt));
    }

    public void ret() {
        emit(RET_X30);
    }

    /** {@code brk #imm16}; {@code brk #0x45e0} is the rseq abort signature 0xd428bc00 */
    public void brk(int imm16) {
        emit(BRK | unsigned(imm16, 16, "imm16") << IMM16_SHIFT);
    }

    public void bind(Label label) {
        buf.bind(label);
    }
}
