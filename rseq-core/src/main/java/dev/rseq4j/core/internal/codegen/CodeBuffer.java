package dev.rseq4j.core.internal.codegen;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A growable little-endian byte buffer with labels, shared by the per-architecture assemblers.
 * A reference to an unbound label records a {@link Fixup}; {@link #bind} resolves those already
 * recorded and later references resolve immediately. The encoding of a fixup is the assembler's
 * business ({@link Fixup#patch}).
 */
public final class CodeBuffer {
    private byte[] bytes = new byte[256];
    private int size;

    /** A position in the code, bound once. */
    public static final class Label {
        private int position = -1;
        private final List<Fixup> pending = new ArrayList<>();

        public boolean isBound() {
            return position >= 0;
        }

        public int position() {
            if (position < 0) {
                throw new IllegalStateException("label not bound");
            }
            return position;
        }
    }

    /** Writes a reference to a label once its position is known. */
    @FunctionalInterface
    public interface Fixup {
        void patch(CodeBuffer buffer, int target);
    }

    public int size() {
        return size;
    }

    public void emit8(int b) {
        ensure(1);
        bytes[size++] = (byte) b;
    }

    public void emit32(int v) {
        ensure(4);
        for (int i = 0; i < 4; i++) {
            bytes[size++] = (byte) (v >>> (8 * i));
        }
    }

    public void emit64(long v) {
        emit32((int) v);
        emit32((int) (v >>> 32));
    }

    public void put32(int position, int v) {
        for (int i = 0; i < 4; i++) {
            bytes[position + i] = (byte) (v >>> (8 * i));
        }
    }

    public int get32(int position) {
        return (bytes[position] & 0xff) | (bytes[position + 1] & 0xff) << 8
                | (bytes[position + 2] & 0xff) << 16 | (bytes[position + 3] & 0xff) << 24;
    }

    /** Pads with {@code fill} up to a multiple of {@code alignment}. */
    public void align(int alignment, int fill) {
        while (size % alignment != 0) {
            emit8(fill);
        }
    }

    public void bind(Label label) {
        if (label.isBound()) {
            throw new IllegalStateException("label bound twice");
        }
        label.position = size;
        for (Fixup f : label.pending) {
            f.patch(this, size);
        }
        label.pending.clear();
    }

    /** Resolves {@code fixup} now if the label is bound, else when it is. */
    public void reference(Label label, Fixup fixup) {
        if (label.isBound()) {
            fixup.patch(this, label.position);
        } else {
            label.pending.add(fixup);
        }
    }

    public byte[] toByteArray() {
        return Arrays.copyOf(bytes, size);
    }

    private void ensure(int n) {
        if (size + n > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + n));
        }
    }
}
