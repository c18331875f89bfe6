package dev.rseq4j.core.internal.runtime;

import dev.rseq4j.core.internal.codegen.Operation;
import dev.rseq4j.core.internal.platform.RseqAbi;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * One constant handle per operation that calls that operation's stub of whichever {@link StubHandles}
 * it is passed first, and that the JIT compiles into a direct call for the production stubs whatever
 * instance the caller holds: {@code (long) FoldedStubs.LOAD_ADD_STORE.invokeExact(stubs, descriptor, word, value)}.
 *
 * <h2>Why</h2>
 * A downcall costs a few nanoseconds only when its {@link MethodHandle} is a constant the JIT can see
 * through. The JIT trusts static finals and the final fields of records reached from one, so a call
 * through a collection's {@code static final PerCpuOps} folded, but a call through its {@code ops}
 * field invoked a handle loaded at run time, through the handle's adapters (lock + unlock measured
 * about twice as slow); so did a call through the constant from a method the JIT compiled without
 * inlining it into the caller. The collections therefore wrote {@code ops == CPU ? CPU.x(..) : ops.x(..)}
 * at each call site, and every collection built for concurrency-id indexing still took the slow form.
 * This class writes that test once, where every operation's first attempt passes:
 * <pre>{@code
 *   (stubs, args..) -> stubs == cpuStubs   ? <cpu stub>(args..)        // a constant: a direct call
 *                    : stubs == mmCidStubs ? <mm_cid stub>(args..)     // likewise
 *                    : stubs.handle(op).invokeExact(args..)            // test variants: delay loops, controls
 * }</pre>
 * built with {@link MethodHandles#guardWithTest}: the production handles are bound into a constant
 * handle, whose bound values the JIT trusts, so the two comparisons and the direct call compile into
 * the caller. (Choosing a handle first and invoking the chosen one does not fold: the JIT sees a merge
 * of two handles, not a constant.)
 *
 * <p>NOTE: the production stubs are read once, when this class initialises, from this class loader's
 * runtime; where there are none (lock mode, no mm_cid) that branch is left out. Reading them never
 * throws (a failed initialiser would make the class unusable for ever): an unusable runtime leaves the
 * generic branch alone.
 */
public final class FoldedStubs {
    private static final MethodHandle SAME;
    private static final MethodHandle HANDLE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            SAME = lookup.findStatic(FoldedStubs.class, "same",
                    MethodType.methodType(boolean.class, StubHandles.class, StubHandles.class));
            HANDLE = lookup.findVirtual(StubHandles.class, "handle",
                    MethodType.methodType(MethodHandle.class, Operation.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final StubHandles CPU = productionOrNull(RseqAbi.Field.CPU_ID);
    private static final StubHandles MM_CID = productionOrNull(RseqAbi.Field.MM_CID);

    /** {@link Operation#LOAD_ADD_STORE}, the stubs first. */
    public static final MethodHandle LOAD_ADD_STORE = fold(Operation.LOAD_ADD_STORE);
    /** {@link Operation#BATCH_LOAD_ADD_STORE}, the stubs first. */
    public static final MethodHandle BATCH_LOAD_ADD_STORE = fold(Operation.BATCH_LOAD_ADD_STORE);
    /** {@link Operation#LOAD_COMPARE_STORE}, the stubs first. */
    public static final MethodHandle LOAD_COMPARE_STORE = fold(Operation.LOAD_COMPARE_STORE);
    /** {@link Operation#CURRENT_LOAD_COMPARE_STORE}, the stubs first. */
    public static final MethodHandle CURRENT_LOAD_COMPARE_STORE = fold(Operation.CURRENT_LOAD_COMPARE_STORE);
    /** {@link Operation#CURRENT_LOAD_LIMIT_ADD_STORE}, the stubs first. */
    public static final MethodHandle CURRENT_LOAD_LIMIT_ADD_STORE = fold(Operation.CURRENT_LOAD_LIMIT_ADD_STORE);
    /** {@link Operation#LIST_PUSH}, the stubs first. */
    public static final MethodHandle LIST_PUSH = fold(Operation.LIST_PUSH);
    /** {@link Operation#LIST_POP}, the stubs first. */
    public static final MethodHandle LIST_POP = fold(Operation.LIST_POP);
    /** {@link Operation#LOAD_COMPARE_TRYSTORE_STORE}, the stubs first. */
    public static final MethodHandle LOAD_COMPARE_TRYSTORE_STORE = fold(Operation.LOAD_COMPARE_TRYSTORE_STORE);
    /** {@link Operation#LOAD_COMPARE_MEMCPY_STORE}, the stubs first. */
    public static final MethodHandle LOAD_COMPARE_MEMCPY_STORE = fold(Operation.LOAD_COMPARE_MEMCPY_STORE);
    /** {@link Operation#ARRAY_POP}, the stubs first. */
    public static final MethodHandle ARRAY_POP = fold(Operation.ARRAY_POP);
    /** {@link Operation#ARRAY_PUSH}, the stubs first. */
    public static final MethodHandle ARRAY_PUSH = fold(Operation.ARRAY_PUSH);
    /** {@link Operation#ARRAY_COPY_OUT}, the stubs first. */
    public static final MethodHandle ARRAY_COPY_OUT = fold(Operation.ARRAY_COPY_OUT);
    /** {@link Operation#ARRAY_COPY_IN}, the stubs first. */
    public static final MethodHandle ARRAY_COPY_IN = fold(Operation.ARRAY_COPY_IN);

    private FoldedStubs() {
    }

    private static StubHandles productionOrNull(RseqAbi.Field index) {
        try {
            return RseqRuntime.get().stubsOrNull(index);
        } catch (RuntimeException | Error e) {
            return null;    // never throw here (class comment): the generic branch serves every caller
        }
    }

    /** {@code op}'s handle with the stubs as its first argument, the production stubs folded (class comment). */
    private static MethodHandle fold(Operation op) {
        MethodType type = op.descriptor().toMethodType();
        // generic: (stubs, args..) -> stubs.handle(op).invokeExact(args..)
        MethodHandle h = MethodHandles.filterArguments(MethodHandles.exactInvoker(type), 0,
                MethodHandles.insertArguments(HANDLE, 1, op));
        for (StubHandles production : new StubHandles[] {MM_CID, CPU}) {     // the outermost test: CPU
            if (production != null) {
                h = MethodHandles.guardWithTest(MethodHandles.insertArguments(SAME, 1, production),
                        MethodHandles.dropArguments(production.handle(op), 0, StubHandles.class), h);
            }
        }
        return h;
    }

    private static boolean same(StubHandles a, StubHandles b) {
        return a == b;
    }
}
