package dev.rseq4j.core.internal.codegen;

import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;
import dev.rseq4j.core.internal.platform.Arch;
import dev.rseq4j.core.internal.platform.RseqAbi;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The protocol every stub follows, written once: the blob layout and, for each {@link Operation},
 * the frame around its body. An architecture supplies the primitives (one or two instructions
 * each) and a short body per operation; a {@link StubGenerator} creates one frame per
 * {@link StubGenerator#generate} call (a frame holds the buffer it writes, so it is used once).
 *
 * <h2>The blob</h2>
 * <pre>
 *   +0   struct rseq_cs[Operation.values().length]   32 bytes each, zero until relocated
 *   ...  one stub per Probe                          16-byte aligned, padded (x86_64: int3, aarch64: udf)
 *   ...  one stub per Operation, as below            16-byte aligned
 * </pre>
 *
 * <h2>The frame of one operation</h2>
 * <pre>
 *            prologue                                   {@link #prologue}: per-arch set-up, before the section
 *            (batched only: done = 0)                    {@link #startBatch}
 *   again:   rseq_cs = &amp;descriptor                     {@link #armSection} (only when options.restartable())
 *   start:   (mm_cid only: if (int) cpu_id &lt; 0 goto invalid)   {@link #branchIfNegative}
 *            index = rseq.cpu_id or rseq.mm_cid          {@link #loadIndex}
 *            if index &gt;=u descriptor.count goto invalid   {@link #branchIfIndexOutOfRange}
 *            (takesExpectedIndex only: if index != expectedIndex goto moved)   {@link #branchIfIndexDiffers}
 *            (returnsIndex only: keep the index in a register the body leaves alone)   {@link #saveIndex}
 *            delta = index * descriptor.stride           {@link #computeDelta}
 *            if load-acquire32(guard0 + delta) != 0 goto guarded   {@link #branchIfGuarded}
 *            body                                        {@link #body}: may branch to failed/corrupt,
 *                                                        returns what to commit
 *            delay loop                                  {@link #delay} (tests only)
 *            store(word + delta, value)                  {@link #commitStore} or, when the operation
 *                                                        {@link Operation#publishes()}, {@link #commitStoreRelease}:
 *                                                        the last instruction of the section
 *   post_commit:
 *            (batched only: done += 1; next word and value; if done &lt; count goto again)   {@link #nextInBatch}
 *            return COMMITTED, or the body's result      {@link #returnImmediate} / {@link #returnRegister}
 *            (returnsIndex: return indexed(COMMITTED, index))   {@link #returnIndexed}
 *   invalid: return INDEX_INVALID
 *   guarded: return GUARDED
 *   (failed: return FAILED, or indexed(FAILED, index);  corrupt: return CORRUPT;  moved: return MOVED   where used)
 *            signature                                   {@link #signature}: the 4 bytes before abort_ip
 *   abort:   return ABORTED
 *   (batched: invalid, guarded and abort return batched(status, done))   {@link #returnBatched}
 * </pre>
 * A batched operation's sections share one descriptor and one {@code [start, post_commit)}: the loop
 * re-arms {@code rseq_cs} before each (the kernel may have cleared it after the previous commit), and
 * its bookkeeping runs after post_commit, outside the section, so an abort in section {@code i}
 * leaves {@code done == i}.
 * Everything between {@code start} and the commit may be abandoned at any instruction: it writes
 * nothing another thread can see except memory the caller owns (a node not yet pushed, a ring slot
 * not yet published by its counter). The status exits are outside {@code [start, post_commit)}, so
 * a preemption after a decision to return a status does not abort it.
 *
 * @param <R> the architecture's register type
 */
public abstract class StubFrame<R> {
    private static final int STUB_ALIGNMENT = 16;

    /**
     * What the body leaves for the frame to commit: store {@code value} to {@code word + delta}; return
     * {@code result} ({@link Operation#returnsValue()} only, else null; with the index when the operation
     * also {@link Operation#returnsIndex()}).
     */
    protected record Commit<R>(R value, R word, R result) {
    }

    /** Commit {@code value} to {@code word + delta}. */
    protected static <R> Commit<R> commit(R value, R word) {
        return new Commit<>(value, word, null);
    }

    /** Commit {@code value} to {@code word + delta}, then return {@code result}. */
    protected static <R> Commit<R> commit(R value, R word, R result) {
        return new Commit<>(value, word, result);
    }

    protected final StubOptions options;
    protected final CodeBuffer buf = new CodeBuffer();
    private final int padding;
    private Label failed;
    private Label corrupt;

    /**
     * @param padding the byte that pads between stubs (x86_64: int3; aarch64: 0, an undefined instruction)
     */
    protected StubFrame(StubOptions options, int padding) {
        this.options = options;
        this.padding = padding;
    }

    // ---- the architecture's part ---------------------------------------------------------------

    /** A whole probe stub, return included. */
    protected abstract void probe(Probe probe);

    /** Set-up before the section (stack arguments, the rseq area's address); may be empty. */
    protected abstract void prologue(Operation op);

    /** {@code rseq_cs = &descriptor}. */
    protected abstract void armSection(Label descriptor);

    /** Branches to {@code target} when the 32-bit {@code field} of struct rseq is negative. */
    protected abstract void branchIfNegative(RseqAbi.Field field, Label target);

    /** Loads the 32-bit region index from {@code field} of struct rseq. */
    protected abstract void loadIndex(RseqAbi.Field field);

    /** Branches to {@code target} when the index is not below the descriptor's count, unsigned. */
    protected abstract void branchIfIndexOutOfRange(Label target);

    /** Branches to {@code target} when the index differs from {@code expected} (a 64-bit argument). */
    protected abstract void branchIfIndexDiffers(R expected, Label target);

    /**
     * Copies the index (below the descriptor's count) into the register {@link #returnIndexed} reads, which
     * no body of an operation that {@link Operation#returnsIndex()} uses.
     */
    protected abstract void saveIndex();

    /**
     * Returns {@code StubStatus.indexed(status, saved index)}: the saved index plus {@link StubStatus#indexedTag};
     * with the low 32 bits of {@code value} in the high half ({@link StubStatus#withValue}) unless it is null.
     * May clobber {@code value}.
     */
    protected abstract void returnIndexed(long status, R value);

    /** {@code done = 0}, in a register the section leaves alone (batched operations). */
    protected abstract void startBatch();

    /**
     * After a batched operation's commit, outside the section: {@code done += 1}; the next word and value
     * take the places the body reads; branches to {@code again} while {@code done < count}.
     */
    protected abstract void nextInBatch(Label again);

    /** Returns {@code StubStatus.batched(status, done)}. */
    protected abstract void returnBatched(long status);

    /** {@code delta = index * stride}: this region's distance from region 0. */
    protected abstract void computeDelta();

    /** Loads this region's guard word with acquire semantics; branches to {@code target} when non-zero. */
    protected abstract void branchIfGuarded(Label target);

    /** The operation's steps between the guard check and the commit; see {@link Operation}. */
    protected abstract Commit<R> body(Operation op);

    /** A busy loop of {@code loops} iterations (only emitted when {@code loops > 0}). */
    protected abstract void delay(int loops);

    /** The commit: one plain store of {@code value} to {@code word + delta}, ending the section. */
    protected abstract void commitStore(R value, R word);

    /** The commit as one store-release of {@code value} to {@code word + delta}, ending the section. */
    protected abstract void commitStoreRelease(R value, R word);

    /** Returns {@code value} to the caller. */
    protected abstract void returnImmediate(long value);

    /** Returns the contents of {@code register} to the caller. */
    protected abstract void returnRegister(R register);

    /** The 4-byte abort signature, emitted so that it ends right where abort_ip is bound. */
    protected abstract void signature();

    /** The register of argument {@code n}; 0 is the area descriptor. */
    protected abstract R argument(int n);

    // ---- for bodies ----------------------------------------------------------------------------

    /** The register that holds {@code op}'s argument {@code name} (see {@link Operation#argumentNames()}). */
    protected final R argument(Operation op, String name) {
        int n = op.argumentNames().indexOf(name);
        if (n < 0) {
            throw new IllegalArgumentException(op + " has no argument " + name);
        }
        return argument(n + 1);
    }

    /** Where a body branches to return {@link StubStatus#FAILED}. */
    protected final Label failed() {
        if (failed == null) {
            failed = new Label();
        }
        return failed;
    }

    /** Where a body branches to return {@link StubStatus#CORRUPT}. */
    protected final Label corrupt() {
        if (corrupt == null) {
            corrupt = new Label();
        }
        return corrupt;
    }

    // ---- the frame -----------------------------------------------------------------------------

    /** Lays out descriptors, probes and operations. */
    public final GeneratedCode generate(Arch architecture) {
        Map<Operation, Label> descriptors = new EnumMap<>(Operation.class);
        for (Operation op : Operation.values()) {
            Label d = new Label();
            buf.bind(d);
            descriptors.put(op, d);
            for (int i = 0; i < RseqAbi.RSEQ_CS_SIZE; i++) {
                buf.emit8(0);
            }
        }
        Map<Probe, Integer> probes = new EnumMap<>(Probe.class);
        for (Probe probe : Probe.values()) {
            buf.align(STUB_ALIGNMENT, padding);
            probes.put(probe, buf.size());
            probe(probe);
        }
        Map<Operation, Integer> entries = new EnumMap<>(Operation.class);
        List<GeneratedCode.Section> sections = new ArrayList<>();
        for (Operation op : Operation.values()) {
            buf.align(STUB_ALIGNMENT, padding);
            entries.put(op, buf.size());
            sections.add(section(op, descriptors.get(op)));
        }
        return new GeneratedCode(architecture, buf.toByteArray(), entries, probes, sections);
    }

    private GeneratedCode.Section section(Operation op, Label descriptor) {
        Label start = new Label();
        Label postCommit = new Label();
        Label abort = new Label();
        Label invalid = new Label();
        Label guarded = new Label();
        Label moved = new Label();
        failed = null;
        corrupt = null;

        Label again = new Label();
        prologue(op);
        if (op.batched()) {
            startBatch();
        }
        buf.bind(again);
        if (options.restartable()) {
            armSection(descriptor);
        }
        buf.bind(start);
        if (options.index() == RseqAbi.Field.MM_CID) {
            // mm_cid does not say whether the thread is registered (it reads 0, or a stale id in a
            // reused glibc stack); cpu_id does (-1/-2).
            branchIfNegative(RseqAbi.Field.CPU_ID, invalid);
        }
        loadIndex(options.index());
        branchIfIndexOutOfRange(invalid);          // unsigned: -1/-2 are out of range too
        if (op.takesExpectedIndex()) {
            // NOTE: checked inside the section, before anything is loaded from a region: the
            // caller's expected value and offsets were computed from region expectedIndex, so they
            // must not be applied to another one. A migration after this check aborts the section.
            branchIfIndexDiffers(argument(op, "expectedIndex"), moved);
        }
        if (op.returnsIndex()) {
            saveIndex();
        }
        computeDelta();
        // NOTE: the guard is loaded with acquire semantics before any data load of the body, so
        // that no data load is satisfied before the guard is seen clear (GuardedPerCpuOps,
        // "Memory ordering of the guard").
        branchIfGuarded(guarded);
        Commit<R> commit = body(op);
        if (options.delayLoops() > 0) {
            delay(options.delayLoops());
        }
        // NOTE: a commit that publishes memory written earlier in the section (a node's next, a
        // ring slot or record) is a store-release, so a reader that sees it sees that memory too.
        if (op.publishes()) {
            commitStoreRelease(commit.value(), commit.word());
        } else {
            commitStore(commit.value(), commit.word());
        }
        buf.bind(postCommit);
        if (op.batched()) {
            nextInBatch(again);
        }
        if (op.returnsIndex()) {
            returnIndexed(StubStatus.COMMITTED, commit.result());
        } else if (op.returnsValue()) {
            returnRegister(commit.result());
        } else {
            returnImmediate(StubStatus.COMMITTED);
        }
        exit(op, invalid, StubStatus.INDEX_INVALID);
        exit(op, guarded, StubStatus.GUARDED);
        if (op.returnsIndex() && failed != null) {
            buf.bind(failed);               // the compare failed on the saved index's region: say which
            returnIndexed(StubStatus.FAILED, null);
        } else {
            exit(failed, StubStatus.FAILED);
        }
        exit(corrupt, StubStatus.CORRUPT);
        exit(op.takesExpectedIndex() ? moved : null, StubStatus.MOVED);
        signature();
        buf.bind(abort);
        exitStatus(op, StubStatus.ABORTED);
        return new GeneratedCode.Section(op, descriptor.position(), start.position(),
                postCommit.position(), abort.position());
    }

    /** {@code label: return status}, when the label is used. */
    private void exit(Label label, long status) {
        if (label != null) {
            buf.bind(label);
            returnImmediate(status);
        }
    }

    /** {@code label: return status}, with the sections done when {@code op} is batched. */
    private void exit(Operation op, Label label, long status) {
        buf.bind(label);
        exitStatus(op, status);
    }

    private void exitStatus(Operation op, long status) {
        if (op.batched()) {
            returnBatched(status);
        } else {
            returnImmediate(status);
        }
    }
}
