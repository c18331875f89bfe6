package dev.rseq4j.core.internal.codegen.x86_64;

import dev.rseq4j.core.internal.codegen.AreaDescriptor;
import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;
import dev.rseq4j.core.internal.codegen.GeneratedCode;
import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.codegen.Probe;
import dev.rseq4j.core.internal.codegen.StubFrame;
import dev.rseq4j.core.internal.codegen.StubGenerator;
import dev.rseq4j.core.internal.codegen.StubOptions;
import dev.rseq4j.core.internal.codegen.StubStatus;
import dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Mem;
import dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg;
import dev.rseq4j.core.internal.platform.Arch;
import dev.rseq4j.core.internal.platform.RseqAbi;

import java.util.List;

import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.A;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.AE;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.B;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.E;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.NE;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.S;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.R10;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.R11;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.R8;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.R9;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.RAX;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.RCX;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.RDI;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.RDX;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.RSI;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Reg.RSP;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.mem;

/**
 * The x86_64 (System V ABI, glibc TLS) generator: the primitives and bodies of {@link StubFrame},
 * which draws the frame and owns the protocol.
 *
 * <h2>Implementation notes</h2>
 * The thread's {@code struct rseq} is at {@code fs:[__rseq_offset]} (the fs base is the thread
 * pointer), so every field access is one {@code fs}-relative instruction with the offset folded into
 * a 32-bit displacement; no thread-pointer register is needed. Arguments arrive in
 * {@code rdi, rsi, rdx, rcx, r8, r9}, the seventh and eighth on the stack at {@code [rsp+8]} and
 * {@code [rsp+16]}; the prologue loads the seventh into {@code r11}, the memcpy body reads the eighth
 * where it needs it (a stack load is harmless inside the section). {@code rdi} holds the area
 * descriptor until the guard is checked; after that it is free and the optional delay loop counts in
 * it. {@code rax} holds the index, then the distance of this region from region 0, which the word
 * arguments (addresses in region 0) are added to; {@code r10}/{@code r11} are scratch. All registers
 * used are caller-saved, so no stub touches the stack except to read arguments.
 *
 * <p>The frame's primitives, as emitted:
 * <pre>
 *   entry:    (7 or more arguments: mov r11,[rsp+8])    prologue
 *             (batched: xor r11d,r11d)                  r11 = sections done
 *   again:    lea r10,[rip+desc]; mov fs:[rseq+8],r10  arm rseq_cs
 *   start:    (mm_cid only: mov eax,fs:[rseq+4]; test eax,eax; js invalid)
 *             mov eax,fs:[rseq+index]                  cpu_id or mm_cid
 *             cmp eax,[rdi+16]; jae invalid
 *             (compare operations: cmp rax,rsi; jne moved)    rsi = expectedIndex
 *             (operations returning the index: mov r9d,eax)
 *             imul rax,[rdi+8]                          rax = delta
 *             mov r10,[rdi]; mov r10d,[rax+r10]; test r10d,r10d; jne guarded
 *             ... body; (delay: mov [rsp-8],rdi; mov edi,n; dec edi; jnz; mov rdi,[rsp-8])
 *             mov [rax+word],value                      commit (plain or "release": the same mov)
 *   post:     xor eax,eax (or mov rax,result; or lea rax,[r9+tag]; or shl result,32; lea rax,[r9+result+tag]); ret
 *             (batched: add r11,1; add rsi,8; mov rcx,r8; mov r8,r9; cmp r11,rdx; jb again)
 *   exits:    mov eax,status; ret                      (batched: shl r11,32; lea rax,[r11+status]; ret)
 *             ud1 edi,[rip+0x53053053]                  signature = the 4 bytes before abort
 *   abort:    mov eax,ABORTED; ret
 * </pre>
 * x86 is TSO: a plain {@code mov} store is already a release store, so the commit needs no fence
 * to publish a slot or a node written before it; and a plain {@code mov} load of the guard is
 * already an acquire load (loads are not reordered with older loads), so the data loads after it
 * cannot see memory from before a slow path's release of the guard. The ordering argument, and why
 * arm64 needs {@code ldar} for the same load, is in the implementation notes of
 * {@code GuardedPerCpuOps} ("Memory ordering of the guard").
 */
public final class X86_64StubGenerator implements StubGenerator {

    /** glibc's x86_64 RSEQ_SIG. */
    public static final int SIGNATURE = 0x53053053;
    private static final int INT3 = 0xCC;
    /** System V integer argument registers, then the registers the prologue loads stack arguments into. */
    private static final List<Reg> ARGUMENTS = List.of(RDI, RSI, RDX, RCX, R8, R9, R11);
    /** The seventh argument, at the stack pointer on entry plus the return address. */
    private static final int STACK_ARGUMENT_7 = 8;
    private static final int STACK_ARGUMENT_8 = 16;
    /** Where an operation that returns its index keeps it: argument 6, free in those operations (at most 4 arguments). */
    private static final Reg INDEX = R9;
    /** Where a batched operation counts the sections done: r11, free in it (five arguments). */
    private static final Reg BATCH_DONE = R11;
    /** The red zone slot where the delay loop keeps rdi, which a batched operation needs after it. */
    private static final int RED_ZONE_SLOT = -8;

    @Override
    public Arch architecture() {
        return Arch.X86_64;
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
        private final X86_64Assembler asm = new X86_64Assembler(buf);
        private final int area = (int) options.rseqOffset();

        Frame(StubOptions options) {
            super(options, INT3);
        }

        @Override
        protected void probe(Probe probe) {
            switch (probe) {
                case AREA_ADDRESS -> {
                    asm.movLoadFs64(RAX, 0);       // tcbhead_t.tcb: the thread pointer itself
                    asm.addImm64(RAX, area);
                }
                case NOTHING -> asm.xorReg32(RAX, RAX);
                default -> asm.movsxdLoadFs(RAX, area + probe.field().orElseThrow().offset());
            }
            asm.ret();
        }

        @Override
        protected Reg argument(int n) {
            return ARGUMENTS.get(n);
        }

        @Override
        protected void prologue(Operation op) {
            if (op.argumentNames().size() + 1 > 6) {
                asm.movLoad64(R11, mem(RSP, STACK_ARGUMENT_7));
            }
        }

        @Override
        protected void armSection(Label descriptor) {
            asm.leaRip(R10, descriptor);
            asm.movStoreFs64(area + RseqAbi.Field.RSEQ_CS.offset(), R10);
        }

        @Override
        protected void branchIfNegative(RseqAbi.Field field, Label target) {
            asm.movLoadFs32(RAX, area + field.offset());
            asm.testReg32(RAX, RAX);
            asm.jcc(S, target);
        }

        @Override
        protected void loadIndex(RseqAbi.Field field) {
            asm.movLoadFs32(RAX, area + field.offset());
        }

        @Override
        protected void branchIfIndexOutOfRange(Label target) {
            asm.cmpLoad32(RAX, mem(RDI, AreaDescriptor.COUNT));
            asm.jcc(AE, target);
        }

        @Override
        protected void branchIfIndexDiffers(Reg expected, Label target) {
            asm.cmpReg64(RAX, expected);           // 64-bit: a negative or huge expectedIndex never matches
            asm.jcc(NE, target);
        }

        @Override
        protected void saveIndex() {
            asm.movReg32(INDEX, RAX);
        }

        /**
         * {@code lea rax,[r9 + tag]}: the tag and status are one constant below 2^31 (see StubStatus); with a
         * value, {@code shl value,32; lea rax,[r9 + value + tag]}.
         */
        @Override
        protected void returnIndexed(long status, Reg value) {
            int tag = Math.toIntExact(StubStatus.indexedTag(status));
            if (value == null) {
                asm.lea(RAX, mem(INDEX, tag));
            } else {
                asm.shlImm64(value, 32);
                asm.lea(RAX, new Mem(INDEX, value, tag));
            }
            asm.ret();
        }

        @Override
        protected void startBatch() {
            asm.xorReg32(BATCH_DONE, BATCH_DONE);
        }

        /** {@code add r11,1; add rsi,8; mov rcx,r8; mov r8,r9; cmp r11,rdx; jb again}. */
        @Override
        protected void nextInBatch(Label again) {
            asm.addImm64(BATCH_DONE, 1);
            asm.addImm64(RSI, Operation.BATCH_WORD_STRIDE);
            asm.movReg64(RCX, R8);
            asm.movReg64(R8, R9);
            asm.cmpReg64(BATCH_DONE, RDX);
            asm.jcc(B, again);
        }

        /** {@code shl r11,32; lea rax,[r11 + status]}. */
        @Override
        protected void returnBatched(long status) {
            asm.shlImm64(BATCH_DONE, 32);
            asm.lea(RAX, mem(BATCH_DONE, Math.toIntExact(status)));
            asm.ret();
        }

        @Override
        protected void computeDelta() {
            asm.imulLoad64(RAX, mem(RDI, AreaDescriptor.STRIDE));
        }

        @Override
        protected void branchIfGuarded(Label target) {
            asm.movLoad64(R10, mem(RDI, AreaDescriptor.GUARD0));    // independent of rax: loads in parallel
            asm.movLoad32(R10, mem(RAX, R10));     // NOTE: TSO: a plain load is ordered before the data loads
            asm.testReg32(R10, R10);
            asm.jcc(NE, target);
        }

        @Override
        protected Commit<Reg> body(Operation op) {
            return switch (op) {
                case LOAD_ADD_STORE -> {           // rsi = offset, rdx = value
                    asm.movLoad64(R10, mem(RAX, RSI));
                    asm.addReg64(R10, RDX);
                    yield commit(R10, RSI);
                }
                case BATCH_LOAD_ADD_STORE -> {     // rsi = this section's word, rdx = count, rcx = its value; r11 = done
                    asm.movLoad64(R10, mem(RAX, RSI));
                    asm.addReg64(R10, RCX);
                    yield commit(R10, RSI);
                }
                case LOAD_COMPARE_STORE -> {       // rdx = offset, rcx = expected, r8 = newValue
                    compare(RDX, RCX);
                    yield commit(R8, RDX);
                }
                case CURRENT_LOAD_COMPARE_STORE -> { // rsi = offset, rdx = expected, rcx = newValue; r9 = index
                    compare(RSI, RDX);
                    yield commit(RCX, RSI);
                }
                case CURRENT_LOAD_LIMIT_ADD_STORE -> { // rsi = offset, rdx = limitOffset, rcx = n; r9 = index
                    asm.movLoad64(R10, mem(RAX, RSI));  // v
                    asm.lea(R11, mem(R10, RCX));        // v + n
                    asm.movLoad64(R8, mem(RAX, RDX));   // the cached limit
                    asm.cmpReg64(R11, R8);
                    asm.jcc(A, failed());               // v + n >u limit: full
                    yield commit(R11, RSI, R10);        // returns v with the index
                }
                case LIST_PUSH -> {                // rsi = headOffset, rdx = node, rcx = nextOffset
                    asm.movLoad64(R10, mem(RAX, RSI));
                    asm.movStore64(mem(RDX, RCX), R10); // node.next = head (abandoned on abort: node is ours)
                    yield commit(RDX, RSI);
                }
                case LIST_POP -> {                 // rsi = headOffset, rdx = nextOffset, rcx = poolFirst, r8 = poolLast, r9 = nodeMask
                    asm.movLoad64(R10, mem(RAX, RSI));
                    asm.testReg64(R10, R10);
                    asm.jcc(E, failed());
                    asm.cmpReg64(R10, RCX);
                    asm.jcc(B, corrupt());          // below the pool: never dereference it
                    asm.cmpReg64(R10, R8);
                    asm.jcc(A, corrupt());          // above the last node
                    asm.movReg64(R11, R10);
                    asm.xorReg64(R11, RCX);
                    asm.testReg64(R11, R9);
                    asm.jcc(NE, corrupt());         // inside the pool but not at a node boundary
                    asm.movLoad64(R11, mem(R10, RDX)); // next = head.next
                    yield commit(R11, RSI, R10);
                }
                case LOAD_COMPARE_TRYSTORE_STORE -> { // rdx = counterOff, rcx = expected, r8 = slotOff, r9 = value, r11 = newCounter
                    compare(RDX, RCX);
                    asm.movStore64(mem(RAX, R8), R9);   // try-store the slot (unpublished until the commit)
                    yield commit(R11, RDX);
                }
                case LOAD_COMPARE_MEMCPY_STORE -> { // rdx = counterOff, rcx = expected, r8 = dstOff, r9 = header, r11 = src, [rsp+16] = newCounter
                    compare(RDX, RCX);
                    asm.movStore64(mem(RAX, R8), R9);   // the header, in the section with the payload
                    asm.lea(RDI, new Mem(RAX, R8, Operation.RECORD_HEADER_BYTES));
                    asm.movReg64(RSI, R11);
                    asm.movReg32(RCX, R9);          // length: the header's low 32 bits, zero-extended
                    asm.repMovsb();                 // restartable at any byte; the record is not yet published
                    asm.movLoad64(R10, mem(RSP, STACK_ARGUMENT_8));
                    yield commit(R10, RDX);
                }
                case ARRAY_POP -> {                // rsi = countOff, rdx = slotsOff, rcx = capacity; r9 = index
                    asm.movLoad64(R10, mem(RAX, RSI));  // n
                    asm.testReg64(R10, R10);
                    asm.jcc(E, failed());               // empty
                    asm.cmpReg64(R10, RCX);
                    asm.jcc(A, corrupt());              // n >u capacity: never read outside the array
                    asm.lea(R8, mem(R10, -1));          // n - 1 (r8 is free: three arguments)
                    slotAddress(R11, R8, RDX);
                    asm.movLoad64(R11, mem(RAX, R11));  // the top slot, read inside the section
                    yield commit(R8, RSI, R11);         // returns it with the index
                }
                case ARRAY_PUSH -> {               // rsi = countOff, rdx = slotsOff, rcx = capacity, r8 = value
                    asm.movLoad64(R10, mem(RAX, RSI));  // n
                    asm.cmpReg64(R10, RCX);
                    asm.jcc(AE, failed());              // full (a count beyond the array too: never written outside it)
                    slotAddress(R11, R10, RDX);
                    asm.movStore64(mem(RAX, R11), R8);  // the slot above the top, unpublished until the commit
                    asm.addImm64(R10, 1);
                    yield commit(R10, RSI);
                }
                case ARRAY_COPY_OUT -> {           // rsi = countOff, rdx = slotsOff, rcx = capacity, r8 = n, r9 = dst
                    asm.movLoad64(R10, mem(RAX, RSI));  // c
                    asm.cmpReg64(R10, RCX);
                    asm.jcc(A, corrupt());              // c >u capacity
                    asm.cmpReg64(R10, R8);
                    asm.jcc(B, failed());               // c <u n: fewer than n
                    asm.subReg64(R10, R8);              // c - n
                    slotAddress(R11, R10, RDX);
                    asm.movReg64(RDX, RSI);             // the count's word: rsi becomes the copy's source
                    asm.lea(RSI, mem(RAX, R11));        // the first slot moved, in this region
                    asm.movReg64(RDI, R9);              // the caller's batch (rdi is free after the guard)
                    asm.movReg64(RCX, R8);
                    asm.shlImm64(RCX, 3);               // bytes
                    asm.repMovsb();                     // writes only the caller's batch: restartable at any byte
                    yield commit(R10, RDX);
                }
                case ARRAY_COPY_IN -> {            // rsi = countOff, rdx = slotsOff, rcx = capacity, r8 = n, r9 = src
                    asm.movLoad64(R10, mem(RAX, RSI));  // c
                    asm.cmpReg64(R10, RCX);
                    asm.jcc(A, corrupt());              // c >u capacity (so c + n cannot wrap)
                    asm.lea(R11, mem(R10, R8));         // c + n
                    asm.cmpReg64(R11, RCX);
                    asm.jcc(A, failed());               // c + n >u capacity: no room
                    slotAddress(R10, R10, RDX);
                    asm.lea(RDI, mem(RAX, R10));        // the slot above the top, in this region
                    asm.movReg64(RCX, R8);
                    asm.shlImm64(RCX, 3);               // bytes
                    asm.movReg64(R8, RSI);              // the count's word: rsi becomes the copy's source
                    asm.movReg64(RSI, R9);
                    asm.repMovsb();                     // above the top: unpublished until the commit
                    yield commit(R11, R8);
                }
            };
        }

        /** {@code dst = slots + 8 * n}: the region-0 address of slot {@code n} of an array stack. */
        private void slotAddress(Reg dst, Reg n, Reg slots) {
            if (dst != n) {
                asm.movReg64(dst, n);
            }
            asm.shlImm64(dst, 3);                   // Operation.ARRAY_SLOT_BYTES
            asm.addReg64(dst, slots);
        }

        /** {@code if (load(word) != expected) goto failed}. */
        private void compare(Reg word, Reg expected) {
            asm.movLoad64(R10, mem(RAX, word));
            asm.cmpReg64(R10, expected);
            asm.jcc(NE, failed());
        }

        /**
         * {@code dec edi; jnz}, with rdi (the descriptor) kept in the red zone meanwhile: every register is
         * taken in a batched operation, whose next section needs rdi. The System V red zone (128 bytes below
         * rsp) is the leaf's own: neither signal delivery nor the kernel's abort touches it.
         */
        @Override
        protected void delay(int loops) {
            Label loop = new Label();
            asm.movStore64(mem(RSP, RED_ZONE_SLOT), RDI);
            asm.movImm32(RDI, loops);
            asm.bind(loop);
            asm.decReg32(RDI);
            asm.jcc(NE, loop);
            asm.movLoad64(RDI, mem(RSP, RED_ZONE_SLOT));
        }

        @Override
        protected void commitStore(Reg value, Reg word) {
            asm.movStore64(mem(RAX, word), value);
        }

        /** TSO: every store is a release store. */
        @Override
        protected void commitStoreRelease(Reg value, Reg word) {
            commitStore(value, word);
        }

        @Override
        protected void returnImmediate(long value) {
            if (value == 0) {
                asm.xorReg32(RAX, RAX);
            } else {
                asm.movImm32(RAX, Math.toIntExact(value));
            }
            asm.ret();
        }

        @Override
        protected void returnRegister(Reg register) {
            asm.movReg64(RAX, register);
            asm.ret();
        }

        @Override
        protected void signature() {
            asm.ud1Signature(SIGNATURE);
        }
    }
}
