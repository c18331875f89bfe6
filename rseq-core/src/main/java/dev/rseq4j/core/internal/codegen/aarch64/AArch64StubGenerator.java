package dev.rseq4j.core.internal.codegen.aarch64;

import dev.rseq4j.core.internal.codegen.CodeBuffer;
import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;
import dev.rseq4j.core.internal.codegen.GeneratedCode;
import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.codegen.Probe;
import dev.rseq4j.core.internal.codegen.StubGenerator;
import dev.rseq4j.core.internal.codegen.StubLayout;
import dev.rseq4j.core.internal.codegen.StubOptions;
import dev.rseq4j.core.internal.codegen.StubStatus;
import dev.rseq4j.core.internal.codegen.AreaDescriptor;
import dev.rseq4j.core.internal.platform.Arch;
import dev.rseq4j.core.internal.platform.RseqAbi;


import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Cond.HI;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Cond.HS;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Cond.LO;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Cond.NE;

/**
 * The aarch64 (AAPCS64, glibc TLS) generator: the same operations and statuses as x86_64.
 *
 * <h2>Implementation notes</h2>
 * The thread's {@code struct rseq} is at {@code TPIDR_EL0 + __rseq_offset} (negative on aarch64:
 * glibc puts it below the thread pointer); the offset is built in a register with
 * {@code movz/movn/movk}, so any value works. Arguments arrive in {@code x0..x7} (all eight fit: no
 * stack argument); {@code x9..x15} are scratch, all caller-saved; {@code x16..x18} are not touched.
 * <pre>
 *   entry:  mrs x9,tpidr_el0; mov x10,#rseq_offset; add x9,x9,x10     x9 = &amp;rseq
 *           adr x10,desc; str x10,[x9,#8]                              arm rseq_cs
 *   start:  (mm_cid only: ldr w11,[x9,#4]; tbnz w11,#31,invalid)       registered?
 *           ldr w11,[x9,#index]; ldr w12,[x0,#16]; cmp w11,w12; b.hs invalid
 *           ldr x12,[x0,#8]; mul x11,x11,x12                           x11 = delta from region 0
 *           ldr x12,[x0]; add x12,x12,x11; ldar w12,[x12]              guard, load-acquire
 *           cbnz w12,guarded
 *           ... operation; the commit is the last instruction:
 *   post:   mov x0,#0 (or the popped node); ret
 *           invalid/guarded/failed/corrupt: mov x0,#status; ret
 *           brk #0x45e0                                                signature 0xd428bc00
 *   abort:  mov x0,#1; ret
 * </pre>
 *
 * <h2>Memory ordering</h2>
 * The guard is read with a load-acquire ({@code ldar}) before any data load of the section: a
 * plain {@code ldr} may be overtaken by the later data loads (even across the {@code cbnz}), so a
 * fast path could see a slow path's released guard and still read a word from before the slow
 * path's writes, then commit over them. Why x86_64 needs no such thing and arm64 does is explained
 * once, in the implementation notes of {@code GuardedPerCpuOps} ("Memory ordering of the guard").
 *
 * <p>arm64 may also reorder stores. A commit that <em>publishes</em> data written before it in the
 * same section is a store-release ({@code stlr}), so that a CPU that sees the commit also sees the
 * data: the list head after the pushed node's next pointer, a ring counter after its slot or record.
 * A commit that publishes nothing (a counter add, a compare-and-store of one word, a pop that only
 * unlinks) is a plain {@code str}. A pop loads the node's next pointer through the head it loaded,
 * an address dependency, which arm64 orders after the head load; the head itself is ordered after
 * the guard by the {@code ldar}.
 */
public final class AArch64StubGenerator implements StubGenerator {
    /** glibc's aarch64 RSEQ_SIG: {@code brk #0x45e0}. */
    public static final int SIGNATURE = 0xd428bc00;
    private static final int RSEQ_CS_FIELD = RseqAbi.Field.RSEQ_CS.offset();
    private static final int BRK_SIGNATURE_IMM = 0x45e0;
    // Register plan.
    private static final int X0 = 0;
    private static final int X1 = 1;
    private static final int X2 = 2;
    private static final int X3 = 3;
    private static final int X4 = 4;
    private static final int X5 = 5;
    private static final int X6 = 6;
    private static final int RSEQ = 9;
    private static final int T10 = 10;
    private static final int DELTA = 11;
    private static final int T12 = 12;
    private static final int T13 = 13;
    private static final int T14 = 14;
    private static final int T15 = 15;

    @Override
    public Arch architecture() {
        return Arch.AARCH64;
    }

    @Override
    public int signature() {
        return SIGNATURE;
    }

    @Override
    public GeneratedCode generate(StubOptions options) {
        CodeBuffer buf = new CodeBuffer();
        AArch64Assembler asm = new AArch64Assembler(buf);
        return StubLayout.build(architecture(), buf, 0, new StubLayout.Emitter() {
            @Override
            public void probe(Probe probe) {
                switch (probe) {
                    case NOTHING -> asm.movz(X0, 0, 0);
                    case AREA_ADDRESS -> {
                        asm.mrsTpidrEl0(X0);
                        asm.movImm64(T10, options.rseqOffset());
                        asm.addReg(X0, X0, T10);
                    }
                    default -> {
                        rseqArea(asm, options);
                        asm.ldrsw(X0, RSEQ, probe.field().orElseThrow().offset());
                    }
                }
                asm.ret();
            }

            @Override
            public GeneratedCode.Section section(Operation op, Label descriptor) {
                return emitSection(asm, op, options, descriptor);
            }
        });
    }

    /** x9 = the thread's struct rseq. */
    private static void rseqArea(AArch64Assembler asm, StubOptions o) {
        asm.mrsTpidrEl0(RSEQ);
        asm.movImm64(T10, o.rseqOffset());
        asm.addReg(RSEQ, RSEQ, T10);
    }

    private GeneratedCode.Section emitSection(AArch64Assembler asm, Operation op, StubOptions o, Label descriptor) {
        Label start = new Label();
        Label postCommit = new Label();
        Label abort = new Label();
        Label invalid = new Label();
        Label guarded = new Label();
        Label failed = new Label();
        Label corrupt = new Label();

        rseqArea(asm, o);
        if (o.restartable()) {
            asm.adr(T10, descriptor);
            asm.str64(T10, RSEQ, RSEQ_CS_FIELD);
        }
        asm.bind(start);
        if (o.index() == RseqAbi.Field.MM_CID) {
            // mm_cid of an unregistered thread reads 0 (or stale): cpu_id (-1/-2) says whether it is registered.
            asm.ldr32(DELTA, RSEQ, RseqAbi.Field.CPU_ID.offset());
            asm.tbnz32(DELTA, 31, invalid);
        }
        asm.ldr32(DELTA, RSEQ, o.index().offset());
        asm.ldr32(T12, X0, AreaDescriptor.COUNT);
        asm.cmpReg32(DELTA, T12);
        asm.bcond(HS, invalid);                     // unsigned: -1/-2 are out of range too
        asm.ldr64(T12, X0, AreaDescriptor.STRIDE);
        asm.mul(DELTA, DELTA, T12);                 // distance of this CPU's region from region 0
        asm.ldr64(T12, X0, AreaDescriptor.GUARD0);
        asm.addReg(T12, T12, DELTA);                // this region's guard word (ldar takes a base register only)
        asm.ldar32(T12, T12);                       // ACQUIRE: no data load below may be satisfied before it
        asm.cbnz32(T12, guarded);

        switch (op) {
            case LOAD_ADD_STORE -> {                // x1 = word, x2 = value
                asm.ldr64Reg(T13, X1, DELTA);
                asm.addReg(T13, T13, X2);
                delay(asm, o);
                asm.str64Reg(T13, X1, DELTA);       // commit; publishes nothing: plain store
            }
            case LOAD_COMPARE_STORE -> {            // x1 = word, x2 = expected, x3 = newValue
                asm.ldr64Reg(T13, X1, DELTA);
                asm.cmpReg64(T13, X2);
                asm.bcond(NE, failed);
                delay(asm, o);
                asm.str64Reg(X3, X1, DELTA);        // commit; one word, publishes nothing else
            }
            case LIST_PUSH -> {                     // x1 = head word, x2 = node, x3 = nextOffset
                asm.ldr64Reg(T13, X1, DELTA);
                asm.str64Reg(T13, X2, X3);          // node.next = head (the node is still ours)
                asm.addReg(T14, X1, DELTA);
                delay(asm, o);
                asm.stlr64(X2, T14);                // commit head = node; RELEASE: publishes node.next
            }
            case LIST_POP -> {                      // x1 = head word, x2 = nextOffset, x3 = poolFirst, x4 = poolLast, x5 = nodeMask
                asm.ldr64Reg(T13, X1, DELTA);
                asm.cbz64(T13, failed);
                asm.cmpReg64(T13, X3);
                asm.bcond(LO, corrupt);             // outside the pool: never dereference it
                asm.cmpReg64(T13, X4);
                asm.bcond(HI, corrupt);
                asm.eorReg64(T14, T13, X3);
                asm.tstReg64(T14, X5);
                asm.bcond(NE, corrupt);             // inside the pool but not at a node boundary
                asm.ldr64Reg(T14, T13, X2);         // next = head.next (address-dependent on head)
                delay(asm, o);
                asm.str64Reg(T14, X1, DELTA);       // commit head = next; unlinks, publishes nothing
            }
            case LOAD_COMPARE_TRYSTORE_STORE -> {   // x1 = counter, x2 = expected, x3 = slot, x4 = value, x5 = newCounter
                asm.ldr64Reg(T13, X1, DELTA);
                asm.cmpReg64(T13, X2);
                asm.bcond(NE, failed);
                asm.str64Reg(X4, X3, DELTA);        // try-store the slot
                asm.addReg(T14, X1, DELTA);
                delay(asm, o);
                asm.stlr64(X5, T14);                // commit the counter; RELEASE: publishes the slot
            }
            case LOAD_COMPARE_MEMCPY_STORE -> {     // x1 = counter, x2 = expected, x3 = dst, x4 = src, x5 = length, x6 = newCounter
                Label copy = new Label();
                Label copied = new Label();
                asm.ldr64Reg(T13, X1, DELTA);
                asm.cmpReg64(T13, X2);
                asm.bcond(NE, failed);
                asm.addReg(T14, X3, DELTA);         // destination in this CPU's region
                asm.movReg(T15, X4);
                asm.movReg(T12, X5);
                asm.cbz64(T12, copied);
                asm.bind(copy);                     // byte loop: restartable at any byte, slot unpublished
                asm.ldrbPostIncrement(T13, T15);
                asm.strbPostIncrement(T13, T14);
                asm.subsImm64(T12, T12, 1);
                asm.bcond(NE, copy);
                asm.bind(copied);
                asm.addReg(T14, X1, DELTA);
                delay(asm, o);
                asm.stlr64(X6, T14);                // commit the counter; RELEASE: publishes the record
            }
            default -> throw new IllegalArgumentException("no aarch64 code for " + op);
        }
        asm.bind(postCommit);
        if (op == Operation.LIST_POP) {
            asm.movReg(X0, T13);                    // the popped node
        } else {
            asm.movz(X0, (int) StubStatus.COMMITTED, 0);
        }
        asm.ret();
        returnStatus(asm, invalid, StubStatus.INDEX_INVALID);
        returnStatus(asm, guarded, StubStatus.GUARDED);
        returnStatus(asm, failed, StubStatus.FAILED);
        if (op == Operation.LIST_POP) {
            returnStatus(asm, corrupt, StubStatus.CORRUPT);
        }
        asm.brk(BRK_SIGNATURE_IMM);                 // the 4 bytes before abort_ip: 0xd428bc00
        asm.bind(abort);
        asm.movz(X0, (int) StubStatus.ABORTED, 0);
        asm.ret();
        return new GeneratedCode.Section(op, descriptor.position(), start.position(),
                postCommit.position(), abort.position());
    }

    private static void returnStatus(AArch64Assembler asm, Label label, long status) {
        asm.bind(label);
        asm.movz(X0, (int) status, 0);
        asm.ret();
    }

    /** The injected busy loop of the abort tests ({@code subs w15,w15,#1; b.ne}); nothing for production stubs. */
    private static void delay(AArch64Assembler asm, StubOptions o) {
        if (o.delayLoops() == 0) {
            return;
        }
        Label loop = new Label();
        asm.movImm64(T15, o.delayLoops());
        asm.bind(loop);
        asm.subsImm32(T15, T15, 1);
        asm.bcond(NE, loop);
    }
}
