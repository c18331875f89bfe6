package dev.rseq4j.core.internal.codegen.x86_64;

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


import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.A;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.AE;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.B;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.S;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.NE;
import static dev.rseq4j.core.internal.codegen.x86_64.X86_64Assembler.Cond.E;
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
 * The x86_64 (System V ABI, glibc TLS) generator.
 *
 * <h2>Implementation notes</h2>
 * The thread's {@code struct rseq} is at {@code fs:[__rseq_offset]} (the fs base is the thread
 * pointer), so every field access is one {@code fs}-relative instruction with the offset folded into
 * a 32-bit displacement; no thread-pointer register is needed. Arguments arrive in
 * {@code rdi, rsi, rdx, rcx, r8, r9}, the seventh on the stack at {@code [rsp+8]}. {@code rdi} holds
 * the area descriptor until the region is computed; after that it is free and the optional delay
 * loop counts in it. {@code rax} holds the distance of this CPU's region from region 0, which the
 * word arguments (addresses in region 0) are added to; {@code r10}/{@code r11} are scratch.
 * All registers used are caller-saved, so no stub touches the stack except to read the seventh
 * argument.
 *
 * <p>Layout of the generated blob (page-aligned when installed):
 * <pre>
 *   +0      struct rseq_cs[Operation.values().length]   32 bytes each, relocated at install
 *   ...     probes                                      (16-byte aligned, int3 padding)
 *   ...     one stub per operation:
 *             lea r10,[rip+desc]; mov fs:[rseq+8],r10   arm rseq_cs
 *   start:    (mm_cid only: mov eax,fs:[rseq+4]; test eax,eax; js invalid)   registered?
 *             mov eax,fs:[rseq+index]                  cpu_id or mm_cid
 *             cmp eax,[rdi+16]; jae invalid             unsigned: -1/-2 are out of range too
 *             imul rax,[rdi+8]                          rax = index * stride (distance from region 0)
 *             mov r10,[rdi]; mov r10d,[rax+r10]         guard word
 *             (word arguments are region-0 addresses, so [rax+arg] is this CPU's word)
 *             test r10d,r10d; jne guarded
 *             ... operation, delay loop, commit store (last instruction)
 *   post:     result; ret
 *             invalid/guarded/failed: mov eax,status; ret
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
    private static final int RSEQ_CS_FIELD = RseqAbi.Field.RSEQ_CS.offset();
    private static final int INT3 = 0xCC;

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
        CodeBuffer buf = new CodeBuffer();
        X86_64Assembler asm = new X86_64Assembler(buf);
        int area = (int) options.rseqOffset();
        return StubLayout.build(architecture(), buf, INT3, new StubLayout.Emitter() {
            @Override
            public void probe(Probe probe) {
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
            public GeneratedCode.Section section(Operation op, Label descriptor) {
                return emitSection(asm, op, options, descriptor);
            }
        });
    }

    private GeneratedCode.Section emitSection(X86_64Assembler asm, Operation op, StubOptions o, Label descriptor) {
        int area = (int) o.rseqOffset();
        Label start = new Label();
        Label postCommit = new Label();
        Label abort = new Label();
        Label invalid = new Label();
        Label guarded = new Label();
        Label failed = new Label();
        Label corrupt = new Label();

        if (op == Operation.LOAD_COMPARE_MEMCPY_STORE) {
            asm.movLoad64(R11, mem(RSP, 8));       // 7th argument: newCounter
        }
        if (o.restartable()) {
            asm.leaRip(R10, descriptor);
            asm.movStoreFs64(area + RSEQ_CS_FIELD, R10);
        }
        asm.bind(start);
        if (o.index() == RseqAbi.Field.MM_CID) {
            // mm_cid does not say whether the thread is registered (it reads 0, or a stale id in a
            // reused glibc stack); cpu_id does (-1/-2).
            asm.movLoadFs32(RAX, area + RseqAbi.Field.CPU_ID.offset());
            asm.testReg32(RAX, RAX);
            asm.jcc(S, invalid);
        }
        asm.movLoadFs32(RAX, area + o.index().offset());
        asm.cmpLoad32(RAX, mem(RDI, AreaDescriptor.COUNT));
        asm.jcc(AE, invalid);
        asm.imulLoad64(RAX, mem(RDI, AreaDescriptor.STRIDE));           // rax = index * stride: this region's distance from region 0
        asm.movLoad64(R10, mem(RDI, AreaDescriptor.GUARD0));            // region 0's guard (independent of rax: loads in parallel)
        asm.movLoad32(R10, mem(RAX, R10));          // TSO: ordered before the data loads (see GuardedPerCpuOps)
        asm.testReg32(R10, R10);
        asm.jcc(NE, guarded);

        switch (op) {
            case LOAD_ADD_STORE -> {               // rsi = offset, rdx = value
                asm.movLoad64(R10, mem(RAX, RSI));
                asm.addReg64(R10, RDX);
                delay(asm, o);
                asm.movStore64(mem(RAX, RSI), R10); // commit
            }
            case LOAD_COMPARE_STORE -> {           // rsi = offset, rdx = expected, rcx = newValue
                asm.movLoad64(R10, mem(RAX, RSI));
                asm.cmpReg64(R10, RDX);
                asm.jcc(NE, failed);
                delay(asm, o);
                asm.movStore64(mem(RAX, RSI), RCX); // commit
            }
            case LIST_PUSH -> {                    // rsi = headOffset, rdx = node, rcx = nextOffset
                asm.movLoad64(R10, mem(RAX, RSI));
                asm.movStore64(mem(RDX, RCX), R10); // node.next = head (abandoned on abort: node is ours)
                delay(asm, o);
                asm.movStore64(mem(RAX, RSI), RDX); // commit head = node
            }
            case LIST_POP -> {                     // rsi = headOffset, rdx = nextOffset, rcx = poolFirst, r8 = poolLast, r9 = nodeMask
                asm.movLoad64(R10, mem(RAX, RSI));
                asm.testReg64(R10, R10);
                asm.jcc(E, failed);
                asm.cmpReg64(R10, RCX);
                asm.jcc(B, corrupt);                // below the pool: never dereference it
                asm.cmpReg64(R10, R8);
                asm.jcc(A, corrupt);                // above the last node
                asm.movReg64(R11, R10);
                asm.xorReg64(R11, RCX);
                asm.testReg64(R11, R9);
                asm.jcc(NE, corrupt);               // inside the pool but not at a node boundary
                asm.movLoad64(R11, mem(R10, RDX));  // next = head.next
                delay(asm, o);
                asm.movStore64(mem(RAX, RSI), R11); // commit head = next
            }
            case LOAD_COMPARE_TRYSTORE_STORE -> {  // rsi = counterOff, rdx = expected, rcx = slotOff, r8 = value, r9 = newCounter
                asm.movLoad64(R10, mem(RAX, RSI));
                asm.cmpReg64(R10, RDX);
                asm.jcc(NE, failed);
                asm.movStore64(mem(RAX, RCX), R8);  // try-store the slot
                delay(asm, o);
                asm.movStore64(mem(RAX, RSI), R9);  // commit the counter
            }
            case LOAD_COMPARE_MEMCPY_STORE -> {    // rsi = counterOff, rdx = expected, rcx = dstOff, r8 = src, r9 = length, r11 = newCounter
                asm.movLoad64(R10, mem(RAX, RSI));
                asm.cmpReg64(R10, RDX);
                asm.jcc(NE, failed);
                asm.lea(RDI, mem(RAX, RCX));
                asm.movReg64(R10, RSI);
                asm.movReg64(RSI, R8);
                asm.movReg64(RCX, R9);
                asm.repMovsb();                     // restartable at any byte; the slot is not yet published
                delay(asm, o);
                asm.movStore64(mem(RAX, R10), R11); // commit the counter
            }
            default -> throw new IllegalArgumentException("no x86_64 code for " + op);
        }
        asm.bind(postCommit);
        if (op == Operation.LIST_POP) {
            asm.movReg64(RAX, R10);                 // the popped node
        } else {
            asm.xorReg32(RAX, RAX);                 // COMMITTED
        }
        asm.ret();
        returnStatus(asm, invalid, StubStatus.INDEX_INVALID);
        returnStatus(asm, guarded, StubStatus.GUARDED);
        returnStatus(asm, failed, StubStatus.FAILED);
        if (op == Operation.LIST_POP) {
            returnStatus(asm, corrupt, StubStatus.CORRUPT);
        }
        asm.ud1Signature(SIGNATURE);
        asm.bind(abort);
        asm.movImm32(RAX, (int) StubStatus.ABORTED);
        asm.ret();
        return new GeneratedCode.Section(op, descriptor.position(), start.position(),
                postCommit.position(), abort.position());
    }

    private static void returnStatus(X86_64Assembler asm, Label label, long status) {
        asm.bind(label);
        asm.movImm32(RAX, (int) status);
        asm.ret();
    }

    /** The injected busy loop of the abort tests ({@code dec edi; jnz}); nothing is emitted for production stubs. */
    private static void delay(X86_64Assembler asm, StubOptions o) {
        if (o.delayLoops() == 0) {
            return;
        }
        Label loop = new Label();
        asm.movImm32(RDI, o.delayLoops());
        asm.bind(loop);
        asm.decReg32(RDI);
        asm.jcc(NE, loop);
    }
}
