package dev.rseq4j.core.internal.codegen.aarch64;

import dev.rseq4j.core.internal.codegen.AreaDescriptor;
import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;
import dev.rseq4j.core.internal.codegen.GeneratedCode;
import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.codegen.Probe;
import dev.rseq4j.core.internal.codegen.StubFrame;
import dev.rseq4j.core.internal.codegen.StubGenerator;
import dev.rseq4j.core.internal.codegen.StubOptions;
import dev.rseq4j.core.internal.codegen.StubStatus;
import dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Reg;
import dev.rseq4j.core.internal.platform.Arch;
import dev.rseq4j.core.internal.platform.RseqAbi;

import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Cond.HI;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Cond.HS;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Cond.LO;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.Cond.NE;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X0;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X1;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X10;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X11;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X12;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X13;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X14;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X15;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X2;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X3;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X4;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X5;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X6;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X7;
import static dev.rseq4j.core.internal.codegen.aarch64.AArch64Assembler.X9;

/**
 * The aarch64 (AAPCS64, glibc TLS) generator: the primitives and bodies of {@link StubFrame},
 * which draws the frame and owns the protocol.
 *
 * <h2>Implementation notes</h2>
 * The thread's {@code struct rseq} is at {@code TPIDR_EL0 + __rseq_offset} (negative on aarch64:
 * glibc puts it below the thread pointer); the offset is built in a register with
 * {@code movz/movn/movk}, so any value works. Arguments arrive in {@code x0..x7} (all eight fit: no
 * stack argument); {@code x9..x15} are scratch, all caller-saved; {@code x16..x18} are not touched.
 * Register plan: {@code x9} = &amp;rseq, {@code x11} = index, then delta; {@code x10}, {@code x12..x15}
 * scratch. The frame's primitives, as emitted:
 * <pre>
 *   entry:  mrs x9,tpidr_el0; mov x10,#rseq_offset; add x9,x9,x10     prologue: x9 = &amp;rseq
 *           (batched: mov x6,#0)                                       x6 = sections done
 *   again:  adr x10,desc; str x10,[x9,#8]                              arm rseq_cs
 *   start:  (mm_cid only: ldr w11,[x9,#4]; tbnz w11,#31,invalid)
 *           ldr w11,[x9,#index]; ldr w12,[x0,#16]; cmp w11,w12; b.hs invalid
 *           (compare operations: cmp x11,x1; b.ne moved)               x1 = expectedIndex
 *           (operations returning the index: mov x14,x11)
 *           ldr x12,[x0,#8]; mul x11,x11,x12                           x11 = delta
 *           ldr x12,[x0]; add x12,x12,x11; ldar w12,[x12]; cbnz w12,guarded
 *           ... body; (delay: mov x15,#n; subs w15,w15,#1; b.ne)
 *           str value,[word,x11]                                       plain commit, or
 *           add x10,word,x11; stlr value,[x10]                         release commit
 *   post:   mov x0,#0 (or mov x0,result; or mov x0,#tag; add x0,x0,x14 [; add x0,x0,result,lsl #32]); ret
 *           (batched: add x6,x6,#1; add x1,x1,#8; mov x3,x4; mov x4,x5; cmp x6,x2; b.lo again)
 *   exits:  mov x0,#status; ret                                        (batched: add x0,x0,x6,lsl #32 before ret)
 *           brk #0x45e0                                                signature 0xd428bc00
 *   abort:  mov x0,#1; ret
 * </pre>
 * A batched operation starts with {@code mov x6,#0} (x6, the sections done, is no argument of it) and
 * loops back to the arming of {@code rseq_cs}; {@code x9} (&amp;rseq) survives every section.
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
    private static final int BRK_SIGNATURE_IMM = 0x45e0;
    /** The padding between stubs: 0 is an undefined instruction. */
    private static final int UDF = 0;
    // Register plan.
    private static final Reg RSEQ = X9;
    private static final Reg DELTA = X11;             // the index, then index * stride
    private static final Reg COMMIT_ADDRESS = X10;    // stlr takes a base register only
    private static final Reg DELAY_COUNTER = X15;
    private static final Reg INDEX = X14;             // operations that return their index: free in their bodies
    private static final Reg BATCH_DONE = X6;         // batched operations: sections committed (argument 6 is free there)

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
        return new Frame(options).generate(architecture());
    }

    /** One generation: the buffer, the assembler and the options. */
    private static final class Frame extends StubFrame<Reg> {
        private final AArch64Assembler asm = new AArch64Assembler(buf);

        Frame(StubOptions options) {
            super(options, UDF);
        }

        @Override
        protected void probe(Probe probe) {
            switch (probe) {
                case NOTHING -> asm.movz(X0, 0, 0);
                case AREA_ADDRESS -> rseqArea(X0);
                default -> {
                    rseqArea(RSEQ);
                    asm.ldrsw(X0, RSEQ, probe.field().orElseThrow().offset());
                }
            }
            asm.ret();
        }

        /** {@code rd} = the thread's struct rseq. */
        private void rseqArea(Reg rd) {
            asm.mrsTpidrEl0(rd);
            asm.movImm64(X10, options.rseqOffset());
            asm.addReg(rd, rd, X10);
        }

        @Override
        protected Reg argument(int n) {
            return Reg.x(n);                        // x0..x7: every operation's arguments fit
        }

        @Override
        protected void prologue(Operation op) {
            rseqArea(RSEQ);
        }

        @Override
        protected void armSection(Label descriptor) {
            asm.adr(X10, descriptor);
            asm.str64(X10, RSEQ, RseqAbi.Field.RSEQ_CS.offset());
        }

        @Override
        protected void branchIfNegative(RseqAbi.Field field, Label target) {
            asm.ldr32(DELTA, RSEQ, field.offset());
            asm.tbnz32(DELTA, 31, target);
        }

        @Override
        protected void loadIndex(RseqAbi.Field field) {
            asm.ldr32(DELTA, RSEQ, field.offset());
        }

        @Override
        protected void branchIfIndexOutOfRange(Label target) {
            asm.ldr32(X12, X0, AreaDescriptor.COUNT);
            asm.cmpReg32(DELTA, X12);
            asm.bcond(HS, target);
        }

        @Override
        protected void branchIfIndexDiffers(Reg expected, Label target) {
            asm.cmpReg64(DELTA, expected);          // 64-bit: ldr w zero-extended the index
            asm.bcond(NE, target);
        }

        @Override
        protected void saveIndex() {
            asm.movReg(INDEX, DELTA);
        }

        /**
         * {@code mov x0,#tag; add x0,x0,x14}: the tag and status are one constant (see StubStatus); with a
         * value, {@code add x0,x0,value,lsl #32} too.
         */
        @Override
        protected void returnIndexed(long status, Reg value) {
            asm.movImm64(X0, StubStatus.indexedTag(status));
            asm.addReg(X0, X0, INDEX);
            if (value != null) {
                asm.addRegLsl(X0, X0, value, 32);
            }
            asm.ret();
        }

        @Override
        protected void startBatch() {
            asm.movz(BATCH_DONE, 0, 0);
        }

        /** {@code add x6,x6,#1; add x1,x1,#8; mov x3,x4; mov x4,x5; cmp x6,x2; b.lo again}. */
        @Override
        protected void nextInBatch(Label again) {
            asm.addImm64(BATCH_DONE, BATCH_DONE, 1);
            asm.addImm64(X1, X1, Operation.BATCH_WORD_STRIDE);
            asm.movReg(X3, X4);
            asm.movReg(X4, X5);
            asm.cmpReg64(BATCH_DONE, X2);
            asm.bcond(LO, again);
        }

        /** {@code mov x0,#status; add x0,x0,x6,lsl #32}. */
        @Override
        protected void returnBatched(long status) {
            asm.movImm64(X0, status);
            asm.addRegLsl(X0, X0, BATCH_DONE, 32);
            asm.ret();
        }

        @Override
        protected void computeDelta() {
            asm.ldr64(X12, X0, AreaDescriptor.STRIDE);
            asm.mul(DELTA, DELTA, X12);
        }

        @Override
        protected void branchIfGuarded(Label target) {
            asm.ldr64(X12, X0, AreaDescriptor.GUARD0);
            asm.addReg(X12, X12, DELTA);            // this region's guard word (ldar takes a base register only)
            asm.ldar32(X12, X12);                   // NOTE: ACQUIRE: no data load below may be satisfied before it
            asm.cbnz32(X12, target);
        }

        @Override
        protected Commit<Reg> body(Operation op) {
            return switch (op) {
                case LOAD_ADD_STORE -> {            // x1 = word, x2 = value
                    asm.ldr64Reg(X13, X1, DELTA);
                    asm.addReg(X13, X13, X2);
                    yield commit(X13, X1);
                }
                case BATCH_LOAD_ADD_STORE -> {      // x1 = this section's word, x2 = count, x3 = its value; x6 = done
                    asm.ldr64Reg(X13, X1, DELTA);
                    asm.addReg(X13, X13, X3);
                    yield commit(X13, X1);
                }
                case LOAD_COMPARE_STORE -> {        // x2 = word, x3 = expected, x4 = newValue
                    compare(X2, X3);
                    yield commit(X4, X2);
                }
                case CURRENT_LOAD_COMPARE_STORE -> { // x1 = word, x2 = expected, x3 = newValue; x14 = index
                    compare(X1, X2);
                    yield commit(X3, X1);
                }
                case CURRENT_LOAD_LIMIT_ADD_STORE -> { // x1 = word, x2 = limit word, x3 = n; x14 = index
                    asm.ldr64Reg(X13, X1, DELTA);   // v
                    asm.addReg(X12, X13, X3);       // v + n
                    asm.ldr64Reg(X10, X2, DELTA);   // the cached limit (x10 is free: a plain commit)
                    asm.cmpReg64(X12, X10);
                    asm.bcond(HI, failed());        // v + n >u limit: full
                    yield commit(X12, X1, X13);     // returns v with the index
                }
                case LIST_PUSH -> {                 // x1 = head word, x2 = node, x3 = nextOffset
                    asm.ldr64Reg(X13, X1, DELTA);
                    asm.str64Reg(X13, X2, X3);      // node.next = head (the node is still ours)
                    yield commit(X2, X1);     // release: publishes node.next
                }
                case LIST_POP -> {                  // x1 = head word, x2 = nextOffset, x3 = poolFirst, x4 = poolLast, x5 = nodeMask
                    asm.ldr64Reg(X13, X1, DELTA);
                    asm.cbz64(X13, failed());
                    asm.cmpReg64(X13, X3);
                    asm.bcond(LO, corrupt());       // outside the pool: never dereference it
                    asm.cmpReg64(X13, X4);
                    asm.bcond(HI, corrupt());
                    asm.eorReg64(X14, X13, X3);
                    asm.tstReg64(X14, X5);
                    asm.bcond(NE, corrupt());       // inside the pool but not at a node boundary
                    asm.ldr64Reg(X14, X13, X2);     // NOTE: next = head.next, address-dependent on head
                    yield commit(X14, X1, X13); // plain: unlinks, publishes nothing
                }
                case LOAD_COMPARE_TRYSTORE_STORE -> { // x2 = counter, x3 = expected, x4 = slot, x5 = value, x6 = newCounter
                    compare(X2, X3);
                    asm.str64Reg(X5, X4, DELTA);    // try-store the slot
                    yield commit(X6, X2);     // release: publishes the slot
                }
                case LOAD_COMPARE_MEMCPY_STORE -> { // x2 = counter, x3 = expected, x4 = dst, x5 = header, x6 = src, x7 = newCounter
                    Label copy = new Label();
                    Label copied = new Label();
                    compare(X2, X3);
                    asm.str64Reg(X5, X4, DELTA);    // the header, in the section with the payload
                    asm.addReg(X14, X4, DELTA);
                    asm.addImm64(X14, X14, Operation.RECORD_HEADER_BYTES); // the payload's destination in this region
                    asm.movReg(X15, X6);
                    asm.movReg32(X12, X5);          // length: the header's low 32 bits, zero-extended
                    asm.cbz64(X12, copied);
                    asm.bind(copy);                 // byte loop: restartable at any byte, record unpublished
                    asm.ldrbPostIncrement(X13, X15);
                    asm.strbPostIncrement(X13, X14);
                    asm.subsImm64(X12, X12, 1);
                    asm.bcond(NE, copy);
                    asm.bind(copied);
                    yield commit(X7, X2);     // release: publishes the record
                }
                case ARRAY_POP -> {                 // x1 = count word, x2 = slots, x3 = capacity; x14 = index
                    asm.ldr64Reg(X13, X1, DELTA);   // n
                    asm.cbz64(X13, failed());       // empty
                    asm.cmpReg64(X13, X3);
                    asm.bcond(HI, corrupt());       // n >u capacity: never read outside the array
                    asm.subsImm64(X13, X13, 1);     // n - 1
                    asm.addRegLsl(X12, X2, X13, 3); // the top slot (Operation.ARRAY_SLOT_BYTES)
                    asm.ldr64Reg(X12, X12, DELTA);  // read inside the section
                    yield commit(X13, X1, X12);     // plain: publishes nothing; returns it with the index
                }
                case ARRAY_PUSH -> {                // x1 = count word, x2 = slots, x3 = capacity, x4 = value
                    asm.ldr64Reg(X13, X1, DELTA);   // n
                    asm.cmpReg64(X13, X3);
                    asm.bcond(HS, failed());        // full (a count beyond the array too: never written outside it)
                    asm.addRegLsl(X12, X2, X13, 3);
                    asm.str64Reg(X4, X12, DELTA);   // the slot above the top, unpublished until the commit
                    asm.addImm64(X13, X13, 1);
                    yield commit(X13, X1);          // release: publishes the slot
                }
                case ARRAY_COPY_OUT -> {            // x1 = count word, x2 = slots, x3 = capacity, x4 = n, x5 = dst
                    asm.ldr64Reg(X13, X1, DELTA);   // c
                    asm.cmpReg64(X13, X3);
                    asm.bcond(HI, corrupt());       // c >u capacity
                    asm.cmpReg64(X13, X4);
                    asm.bcond(LO, failed());        // c <u n: fewer than n
                    asm.subReg(X13, X13, X4);       // c - n
                    asm.addRegLsl(X12, X2, X13, 3);
                    asm.addReg(X12, X12, DELTA);    // the first slot moved, in this region
                    asm.addRegLsl(X6, X12, X4, 3);  // the end of the slots moved
                    copyWords(X12, X5, X6);         // writes only the caller's batch: restartable anywhere
                    yield commit(X13, X1);          // plain: the slots stay as they were
                }
                case ARRAY_COPY_IN -> {             // x1 = count word, x2 = slots, x3 = capacity, x4 = n, x5 = src
                    asm.ldr64Reg(X13, X1, DELTA);   // c
                    asm.cmpReg64(X13, X3);
                    asm.bcond(HI, corrupt());       // c >u capacity (so c + n cannot wrap)
                    asm.addReg(X12, X13, X4);       // c + n
                    asm.cmpReg64(X12, X3);
                    asm.bcond(HI, failed());        // c + n >u capacity: no room
                    asm.addRegLsl(X14, X2, X13, 3);
                    asm.addReg(X14, X14, DELTA);    // the slot above the top, in this region
                    asm.addRegLsl(X6, X5, X4, 3);   // the end of the caller's batch
                    copyWords(X5, X14, X6);         // above the top: unpublished until the commit
                    yield commit(X12, X1);          // release: publishes the slots
                }
            };
        }

        /**
         * {@code do { *to++ = *from++; } while (from != end)}, 8 bytes at a time ({@code end} is the end of the
         * source; at least one word: NOTE: with none it would copy without end, so Java rejects n = 0 before
         * any call, checkBatch): a word loop, restartable at any word. Clobbers x15.
         */
        private void copyWords(Reg from, Reg to, Reg end) {
            Label copy = new Label();
            asm.bind(copy);
            asm.ldr64(X15, from, 0);
            asm.str64(X15, to, 0);
            asm.addImm64(from, from, Operation.ARRAY_SLOT_BYTES);
            asm.addImm64(to, to, Operation.ARRAY_SLOT_BYTES);
            asm.cmpReg64(from, end);
            asm.bcond(NE, copy);
        }

        /** {@code if (load(word) != expected) goto failed}. */
        private void compare(Reg word, Reg expected) {
            asm.ldr64Reg(X13, word, DELTA);
            asm.cmpReg64(X13, expected);
            asm.bcond(NE, failed());
        }

        @Override
        protected void delay(int loops) {
            Label loop = new Label();
            asm.movImm64(DELAY_COUNTER, loops);
            asm.bind(loop);
            asm.subsImm32(DELAY_COUNTER, DELAY_COUNTER, 1);
            asm.bcond(NE, loop);
        }

        @Override
        protected void commitStore(Reg value, Reg word) {
            asm.str64Reg(value, word, DELTA);
        }

        @Override
        protected void commitStoreRelease(Reg value, Reg word) {
            asm.addReg(COMMIT_ADDRESS, word, DELTA);
            asm.stlr64(value, COMMIT_ADDRESS);      // NOTE: RELEASE: every earlier store is visible first
        }

        @Override
        protected void returnImmediate(long value) {
            asm.movImm64(X0, value);
            asm.ret();
        }

        @Override
        protected void returnRegister(Reg register) {
            asm.movReg(X0, register);
            asm.ret();
        }

        @Override
        protected void signature() {
            asm.brk(BRK_SIGNATURE_IMM);             // the 4 bytes before abort_ip: 0xd428bc00
        }
    }
}
