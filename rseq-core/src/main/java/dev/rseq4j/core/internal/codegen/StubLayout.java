package dev.rseq4j.core.internal.codegen;

import dev.rseq4j.core.internal.codegen.CodeBuffer.Label;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The blob layout every generator shares:
 * <pre>
 *   +0   struct rseq_cs[Operation.values().length]   32 bytes each, zero until relocated
 *   ...  one stub per Probe                          16-byte aligned
 *   ...  one stub per Operation (its critical section and exits)
 * </pre>
 * The architecture supplies the instructions through {@link Emitter}.
 */
public final class StubLayout {
    private static final int DESCRIPTOR_SIZE = 32;
    private static final int STUB_ALIGNMENT = 16;

    private StubLayout() {
    }

    /** What an architecture emits into the shared layout. */
    public interface Emitter {
        /** A whole probe stub, return included. */
        void probe(Probe probe);

        /** A whole operation stub, armed with {@code descriptor}; returns its section's offsets. */
        GeneratedCode.Section section(Operation op, Label descriptor);
    }

    /**
     * Lays out descriptors, probes and operations in {@code buf}.
     *
     * @param padding the byte that pads between stubs (x86_64: int3; aarch64: 0, an undefined instruction)
     */
    public static GeneratedCode build(dev.rseq4j.core.internal.platform.Arch architecture, CodeBuffer buf, int padding, Emitter emitter) {
        Map<Operation, Label> descriptors = new EnumMap<>(Operation.class);
        for (Operation op : Operation.values()) {
            Label d = new Label();
            buf.bind(d);
            descriptors.put(op, d);
            for (int i = 0; i < DESCRIPTOR_SIZE; i++) {
                buf.emit8(0);
            }
        }
        Map<Probe, Integer> probes = new EnumMap<>(Probe.class);
        for (Probe probe : Probe.values()) {
            buf.align(STUB_ALIGNMENT, padding);
            probes.put(probe, buf.size());
            emitter.probe(probe);
        }
        Map<Operation, Integer> entries = new EnumMap<>(Operation.class);
        List<GeneratedCode.Section> sections = new ArrayList<>();
        for (Operation op : Operation.values()) {
            buf.align(STUB_ALIGNMENT, padding);
            entries.put(op, buf.size());
            sections.add(emitter.section(op, descriptors.get(op)));
        }
        return new GeneratedCode(architecture, buf.toByteArray(), entries, probes, sections);
    }
}
