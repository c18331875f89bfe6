package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.codegen.GeneratedCode;
import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.codegen.Probe;
import dev.rseq4j.core.internal.codegen.StubOptions;
import dev.rseq4j.core.internal.platform.Arch;
import dev.rseq4j.core.internal.platform.ExecutableMemory;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Downcall handles for one installed {@link GeneratedCode}. A record, so that the JIT trusts its
 * final fields and folds a handle read from a constant instance into a direct call.
 *
 * <p>Every stub is called with {@link Linker.Option#critical}: no thread-state transition, which is
 * what makes a downcall cost a few nanoseconds. That is safe because stubs are short, never block
 * and never call back into the JVM. The stubs that take an address (the record copy, the array copies)
 * allow heap access, so that they copy straight from and to a Java array.
 */
public record StubHandles(StubOptions options,
                          MethodHandle loadAddStore, MethodHandle loadCompareStore,
                          MethodHandle listPush, MethodHandle listPop,
                          MethodHandle loadCompareTrystoreStore, MethodHandle loadCompareMemcpyStore,
                          MethodHandle currentLoadCompareStore, MethodHandle currentLoadLimitAddStore,
                          MethodHandle batchLoadAddStore,
                          MethodHandle arrayPop, MethodHandle arrayPush, MethodHandle arrayCopyOut,
                          MethodHandle arrayCopyIn,
                          MethodHandle areaAddress, MethodHandle cpuId, MethodHandle nodeId,
                          MethodHandle mmCid, MethodHandle flags, MethodHandle nothing) {

    static StubHandles install(GeneratedCode code, StubOptions options) {
        // Shared per process by content: a class loader that loads this library again reuses the code.
        long base = ExecutableMemory.install(code.contentKey(), code.code().length, code::relocated,
                code.architecture() == Arch.AARCH64);
        return new StubHandles(options,
                op(code, base, Operation.LOAD_ADD_STORE),
                op(code, base, Operation.LOAD_COMPARE_STORE),
                op(code, base, Operation.LIST_PUSH),
                op(code, base, Operation.LIST_POP),
                op(code, base, Operation.LOAD_COMPARE_TRYSTORE_STORE),
                op(code, base, Operation.LOAD_COMPARE_MEMCPY_STORE),
                op(code, base, Operation.CURRENT_LOAD_COMPARE_STORE),
                op(code, base, Operation.CURRENT_LOAD_LIMIT_ADD_STORE),
                op(code, base, Operation.BATCH_LOAD_ADD_STORE),
                op(code, base, Operation.ARRAY_POP),
                op(code, base, Operation.ARRAY_PUSH),
                op(code, base, Operation.ARRAY_COPY_OUT),
                op(code, base, Operation.ARRAY_COPY_IN),
                probe(code, base, Probe.AREA_ADDRESS),
                probe(code, base, Probe.CPU_ID),
                probe(code, base, Probe.NODE_ID),
                probe(code, base, Probe.MM_CID),
                probe(code, base, Probe.FLAGS),
                probe(code, base, Probe.NOTHING));
    }

    /** The handle of {@code op}: one switch, so that code keyed by {@link Operation} needs no accessor names. */
    public MethodHandle handle(Operation op) {
        return switch (op) {
            case LOAD_ADD_STORE -> loadAddStore;
            case LOAD_COMPARE_STORE -> loadCompareStore;
            case LIST_PUSH -> listPush;
            case LIST_POP -> listPop;
            case LOAD_COMPARE_TRYSTORE_STORE -> loadCompareTrystoreStore;
            case LOAD_COMPARE_MEMCPY_STORE -> loadCompareMemcpyStore;
            case CURRENT_LOAD_COMPARE_STORE -> currentLoadCompareStore;
            case CURRENT_LOAD_LIMIT_ADD_STORE -> currentLoadLimitAddStore;
            case BATCH_LOAD_ADD_STORE -> batchLoadAddStore;
            case ARRAY_POP -> arrayPop;
            case ARRAY_PUSH -> arrayPush;
            case ARRAY_COPY_OUT -> arrayCopyOut;
            case ARRAY_COPY_IN -> arrayCopyIn;
        };
    }

    private static MethodHandle op(GeneratedCode code, long base, Operation op) {
        MemorySegment entry = MemorySegment.ofAddress(base + code.operations().get(op));
        boolean heap = op.descriptor().argumentLayouts().stream().anyMatch(l -> l instanceof AddressLayout);
        return Linker.nativeLinker().downcallHandle(entry, op.descriptor(), Linker.Option.critical(heap));
    }

    private static MethodHandle probe(GeneratedCode code, long base, Probe probe) {
        MemorySegment entry = MemorySegment.ofAddress(base + code.probes().get(probe));
        return Linker.nativeLinker().downcallHandle(entry, FunctionDescriptor.of(JAVA_LONG), Linker.Option.critical(false));
    }

    /** Calls a probe; probes never fail. */
    static long call(MethodHandle probe) {
        try {
            return (long) probe.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
