package dev.rseq4j.bench;

import dev.rseq4j.collections.PerCpuObjectPool;

import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;

/**
 * The buffer pools the service-shaped benchmarks ({@link ServiceBenchmark}, {@link LeaseBlockingBenchmark})
 * compare, as their tasks see them: one definition of each, so that both benchmarks measure the same
 * adapters. Each {@code take} returns a token that {@code buffer} turns into the buffer and {@code give}
 * returns.
 */
final class BufferPools {
    private BufferPools() {
    }

    /** take, buffer, give. */
    interface Pool<B> {
        Object take();

        B buffer(Object taken);

        void give(Object taken);

        /** What the pool did, printed at the end of a trial; empty for pools that count nothing. */
        default String stats() {
            return "";
        }
    }

    /** A pool whose token is the buffer itself (the peers'). */
    private abstract static class Direct<B> implements Pool<B> {
        @Override
        @SuppressWarnings("unchecked")
        public final B buffer(Object taken) {
            return (B) taken;
        }
    }

    /** Ours: a {@link PerCpuObjectPool} of at most {@code maxSize} buffers; the token is the lease. */
    static <B> Pool<B> perCpu(Supplier<B> factory, int maxSize) {
        PerCpuObjectPool<B> p = PerCpuObjectPool.builder(factory).maxSize(maxSize).build();
        return new Pool<>() {
            @Override
            public Object take() {
                return p.acquire();
            }

            @Override
            @SuppressWarnings("unchecked")
            public B buffer(Object taken) {
                return ((PerCpuObjectPool.Lease<B>) taken).get();
            }

            @Override
            @SuppressWarnings("unchecked")
            public void give(Object taken) {
                ((PerCpuObjectPool.Lease<B>) taken).close();
            }

            @Override
            public String stats() {
                return p.stats().toString();
            }
        };
    }

    /** The usual shared pool: a {@link ConcurrentLinkedQueue}, a new buffer when it is empty (unbounded). */
    static <B> Pool<B> queue(Supplier<B> factory) {
        ConcurrentLinkedQueue<B> q = new ConcurrentLinkedQueue<>();
        return new Direct<>() {
            @Override
            public Object take() {
                B b = q.poll();
                return b != null ? b : factory.get();
            }

            @Override
            @SuppressWarnings("unchecked")
            public void give(Object taken) {
                q.offer((B) taken);
            }
        };
    }

    /** The usual per-thread pool: a {@code ThreadLocal} stack (each virtual thread starts with an empty one). */
    static <B> Pool<B> threadLocal(Supplier<B> factory) {
        ThreadLocal<ArrayDeque<B>> local = ThreadLocal.withInitial(ArrayDeque::new);
        return new Direct<>() {
            @Override
            public Object take() {
                B b = local.get().pollLast();
                return b != null ? b : factory.get();
            }

            @Override
            @SuppressWarnings("unchecked")
            public void give(Object taken) {
                local.get().addLast((B) taken);
            }
        };
    }

    /** No pool: a new buffer per take, left to the collector. */
    static <B> Pool<B> unpooled(Supplier<B> factory) {
        return new Direct<>() {
            @Override
            public Object take() {
                return factory.get();
            }

            @Override
            public void give(Object taken) {
            }
        };
    }
}
