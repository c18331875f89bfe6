package dev.rseq4j.core.internal.codegen.aarch64;

import dev.rseq4j.core.internal.codegen.CodeBuffer;
import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;

/**
 * A small A64 encoder with labels: only the instruction forms the stubs need, each encoded as the
 * GNU assembler encodes it (the tests compare every form with {@code aarch64-linux-gnu-as}).
 * Registers are numbers 0..30; 31 is {@code xzr}/{@code wzr} where an instruction reads it as zero.
 * An immediate or offset that does not fit its field throws {@link IllegalArgumentException}: the
 * generator builds such values in a register ({@link #movImm64}) instead of truncating them. A
 * branch whose label is bound later is checked when it is bound. Either way the exception abandons
 * the whole generation: a buffer that threw is never installed.
 */
public final class AArch64Assembler {
    /** The zero register where an encoding reads register 31 as zero. */
    public static final int ZR = 31;

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

    private static int reg(int r) {
        if (r < 0 || r > 31) {
            throw new IllegalArgumentException("register must be in [0, 31], was " + r);
        }
        return r;
    }

    private static int unsigned(long value, int bits, String what) {
        if (value < 0 || value >= 1L << bits) {
            throw new IllegalArgumentException(what + " must fit in " + bits + " unsigned bits, was " + value);
        }
        return (int) value;
    }

    // ---- moves and arithmetic -------------------------------------------------------------

    /** {@code movz xd, #imm16, lsl #shift} */
    public void movz(int rd, int imm16, int shift) {
        checkShift(shift);
        emit(0xd2800000 | (shift / 16) << 21 | unsigned(imm16, 16, "imm16") << 5 | reg(rd));
    }

    /** {@code movk xd, #imm16, lsl #shift} */
    public void movk(int rd, int imm16, int shift) {
        checkShift(shift);
        emit(0xf2800000 | (shift / 16) << 21 | unsigned(imm16, 16, "imm16") << 5 | reg(rd));
    }

    /** {@code movn xd, #imm16, lsl #shift}: xd = ~(imm16 << shift) */
    public void movn(int rd, int imm16, int shift) {
        checkShift(shift);
        emit(0x92800000 | (shift / 16) << 21 | unsigned(imm16, 16, "imm16") << 5 | reg(rd));
    }

    private static void checkShift(int shift) {
        if (shift != 0 && shift != 16 && shift != 32 && shift != 48) {
            throw new IllegalArgumentException("shift must be 0, 16, 32 or 48, was " + shift);
        }
    }

    /**
     * Builds any 64-bit value in {@code xd}: {@code movz} at the first non-zero halfword (or
     * {@code movn} at the first halfword that is not 0xffff, when fewer halfwords then differ from
     * 0xffff than from 0), then a {@code movk} for each remaining halfword that differs.
     */
    public void movImm64(int rd, long value) {
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
    public void movReg(int rd, int rm) {
        emit(0xaa0003e0 | reg(rm) << 16 | reg(rd));
    }

    /** {@code add xd, xn, xm} */
    public void addReg(int rd, int rn, int rm) {
        emit(0x8b000000 | reg(rm) << 16 | reg(rn) << 5 | reg(rd));
    }

    /** {@code eor xd, xn, xm} */
    public void eorReg64(int rd, int rn, int rm) {
        emit(0xca000000 | reg(rm) << 16 | reg(rn) << 5 | reg(rd));
    }

    /** {@code tst xn, xm} (ands xzr, xn, xm): Z set when {@code xn & xm == 0} */
    public void tstReg64(int rn, int rm) {
        emit(0xea00001f | reg(rm) << 16 | reg(rn) << 5);
    }

    /** {@code subs wd, wn, #imm12} */
    public void subsImm32(int rd, int rn, int imm12) {
        emit(0x71000000 | unsigned(imm12, 12, "imm12") << 10 | reg(rn) << 5 | reg(rd));
    }

    /** {@code subs xd, xn, #imm12} */
    public void subsImm64(int rd, int rn, int imm12) {
        emit(0xf1000000 | unsigned(imm12, 12, "imm12") << 10 | reg(rn) << 5 | reg(rd));
    }

    /** {@code mul xd, xn, xm} (madd xd, xn, xm, xzr) */
    public void mul(int rd, int rn, int rm) {
        emit(0x9b007c00 | reg(rm) << 16 | reg(rn) << 5 | reg(rd));
    }

    /** {@code cmp wn, wm} */
    public void cmpReg32(int rn, int rm) {
        emit(0x6b00001f | reg(rm) << 16 | reg(rn) << 5);
    }

    /** {@code cmp xn, xm} */
    public void cmpReg64(int rn, int rm) {
        emit(0xeb00001f | reg(rm) << 16 | reg(rn) << 5);
    }

    // ---- loads and stores -----------------------------------------------------------------

    /** {@code ldr xt, [xn, #offset]} (offset a multiple of 8 in [0, 32760]) */
    public void ldr64(int rt, int rn, long offset) {
        emit(0xf9400000 | scaled(offset, 8) << 10 | reg(rn) << 5 | reg(rt));
    }

    /** {@code ldr wt, [xn, #offset]} (offset a multiple of 4 in [0, 16380]) */
    public void ldr32(int rt, int rn, long offset) {
        emit(0xb9400000 | scaled(offset, 4) << 10 | reg(rn) << 5 | reg(rt));
    }

    /** {@code ldrsw xt, [xn, #offset]} */
    public void ldrsw(int rt, int rn, long offset) {
        emit(0xb9800000 | scaled(offset, 4) << 10 | reg(rn) << 5 | reg(rt));
    }

    /** {@code str xt, [xn, #offset]} */
    public void str64(int rt, int rn, long offset) {
        emit(0xf9000000 | scaled(offset, 8) << 10 | reg(rn) << 5 | reg(rt));
    }

    /** {@code ldr xt, [xn, xm]} */
    public void ldr64Reg(int rt, int rn, int rm) {
        emit(0xf8606800 | reg(rm) << 16 | reg(rn) << 5 | reg(rt));
    }

    /** {@code ldr wt, [xn, xm]} */
    public void ldr32Reg(int rt, int rn, int rm) {
        emit(0xb8606800 | reg(rm) << 16 | reg(rn) << 5 | reg(rt));
    }

    /** {@code str xt, [xn, xm]} */
    public void str64Reg(int rt, int rn, int rm) {
        emit(0xf8206800 | reg(rm) << 16 | reg(rn) << 5 | reg(rt));
    }

    /** {@code stlr xt, [xn]}: store-release */
    public void stlr64(int rt, int rn) {
        emit(orderedAccess(SIZE_64, false, rt, rn));
    }

    /**
     * {@code ldar wt, [xn]}: load-acquire of a 32-bit word. No later load or store of this thread
     * is performed before it (unlike a plain {@code ldr}, which a later load may overtake, even
     * across a conditional branch). Base register only: no offset form exists.
     */
    public void ldar32(int rt, int rn) {
        emit(orderedAccess(SIZE_32, true, rt, rn));
    }

    // Load/store ordered (LDAR/STLR), Arm ARM C4.1.66 "Load/store ordered":
    //   size[31:30] 001000[29:24] o2[23]=1 L[22] o1[21]=0 Rs[20:16]=11111 o0[15]=1 Rt2[14:10]=11111 Rn[9:5] Rt[4:0]
    private static final int SIZE_32 = 0b10;
    private static final int SIZE_64 = 0b11;
    private static final int ORDERED_CLASS = 0b001000 << 24;
    private static final int ORDERED_O2 = 1 << 23;
    private static final int ORDERED_LOAD = 1 << 22;
    private static final int ORDERED_RS_NONE = 0b11111 << 16;
    private static final int ORDERED_O0_ACQUIRE_RELEASE = 1 << 15;
    private static final int ORDERED_RT2_NONE = 0b11111 << 10;

    /** {@code ldar}/{@code stlr} of {@code size} (0b10 = 32-bit, 0b11 = 64-bit): acquire load or release store. */
    private static int orderedAccess(int size, boolean load, int rt, int rn) {
        return size << 30 | ORDERED_CLASS | ORDERED_O2 | (load ? ORDERED_LOAD : 0) | ORDERED_RS_NONE
                | ORDERED_O0_ACQUIRE_RELEASE | ORDERED_RT2_NONE | reg(rn) << 5 | reg(rt);
    }

    /** {@code ldrb wt, [xn], #1}: load a byte, then advance xn */
    public void ldrbPostIncrement(int rt, int rn) {
        emit(0x38400400 | 1 << 12 | reg(rn) << 5 | reg(rt));
    }

    /** {@code strb wt, [xn], #1}: store a byte, then advance xn */
    public void strbPostIncrement(int rt, int rn) {
        emit(0x38000400 | 1 << 12 | reg(rn) << 5 | reg(rt));
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
        branch19(0x54000000 | cond.code, target);
    }

    /** {@code cbz xt, label} */
    public void cbz64(int rt, Label target) {
        branch19(0xb4000000 | reg(rt), target);
    }

    /** {@code cbnz wt, label} */
    public void cbnz32(int rt, Label target) {
        branch19(0x35000000 | reg(rt), target);
    }

    /** {@code tbnz wt, #bit, label} (bit in [0, 31], within 32 KiB) */
    public void tbnz32(int rt, int bit, Label target) {
        int at = buf.size();
        int base = 0x37000000 | unsigned(bit, 5, "bit") << 19 | reg(rt);
        emit(base);
        buf.reference(target, (b, t) -> b.put32(at, base | imm((t - at) / 4, 14, t - at) << 5));
    }

    private void branch19(int base, Label target) {
        int at = buf.size();
        emit(base);
        buf.reference(target, (b, t) -> b.put32(at, base | imm((t - at) / 4, 19, t - at) << 5));
    }

    /** {@code adr xd, label} (within 1 MiB) */
    public void adr(int rd, Label target) {
        int at = buf.size();
        int base = 0x10000000 | reg(rd);
        emit(base);
        buf.reference(target, (b, t) -> {
            int off = imm(t - at, 21, t - at);
            b.put32(at, base | (off & 3) << 29 | (off >>> 2) << 5);
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
    public void mrsTpidrEl0(int rt) {
        emit(0xd53bd040 | reg(rt));
    }

    public void ret() {
        emit(0xd65f03c0);
    }

    /** {@code brk #imm16}; {@code brk #0x45e0} is the rseq abort signature 0xd428bc00 */
    public void brk(int imm16) {
        emit(0xd4200000 | unsigned(imm16, 16, "imm16") << 5);
    }

    public void bind(Label label) {
        buf.bind(label);
    }
}
