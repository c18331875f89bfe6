package dev.rseq4j.collections;

import com.google.common.collect.testing.QueueTestSuiteBuilder;
import com.google.common.collect.testing.TestStringQueueGenerator;
import com.google.common.collect.testing.features.CollectionFeature;
import com.google.common.collect.testing.features.CollectionSize;
import com.google.common.collect.testing.testers.CollectionClearTester;
import junit.framework.Test;
import junit.framework.TestSuite;
import org.junit.runner.RunWith;
import org.junit.runners.AllTests;

import java.util.Queue;
import java.util.function.Function;

/**
 * An external conformance suite nobody here wrote: guava-testlib's {@link QueueTestSuiteBuilder}
 * generates the {@code java.util.Queue} and {@code Collection} contract tests (offer, peek, element,
 * add, addAll, contains, containsAll, iterator, toArray, equals, hashCode, and that every
 * unsupported mutation throws {@link UnsupportedOperationException}) for the features a collection
 * claims. Run by JUnit's vintage engine.
 *
 * <p>Features claimed for {@link PerCpuRingBuffer}, exactly what it has:
 * <ul>
 *   <li>{@code SUPPORTS_ADD}: {@code add}/{@code offer} insert (into the current CPU's ring);</li>
 *   <li>{@code ALLOWS_NULL_QUERIES}: {@code contains(null)} answers false; null <em>elements</em>
 *       are rejected ({@code ALLOWS_NULL_VALUES} is not claimed, so the suite checks the
 *       {@code NullPointerException});</li>
 *   <li>{@code NON_STANDARD_TOSTRING}: {@code toString} is a summary, not the elements;</li>
 *   <li>{@code CollectionSize.ANY}.</li>
 * </ul>
 * Not claimed, and why:
 * <ul>
 *   <li>{@code KNOWN_ORDER}: elements of different CPUs have no defined order, and the test thread
 *       may migrate between two adds;</li>
 *   <li>{@code SUPPORTS_REMOVE} and {@code SUPPORTS_ITERATOR_REMOVE}: {@code remove(Object)},
 *       {@code removeAll}, {@code retainAll}, {@code removeIf} and {@code Iterator.remove} would
 *       remove from the middle of a ring, which a single-consumer ring cannot do (as
 *       {@code MpscArrayQueue}); the suite checks that they throw {@code UnsupportedOperationException}.
 *       {@code poll}, {@code remove()} and {@code clear()} do work (they take from the head, as the
 *       consumer): guava's feature cannot say "head only", so its poll tests do not run here (our own
 *       {@link PerCpuRingBufferTest} covers them) and its two "clear is unsupported" tests are
 *       suppressed;</li>
 *   <li>the capacity bound: a full ring refuses {@code offer} (and {@code add} throws
 *       {@link IllegalStateException}), which the suite has no feature for; the generator makes
 *       rings of 16 per CPU, more than the suite's largest collection needs, so no add meets a full ring.</li>
 * </ul>
 */
@RunWith(AllTests.class)
public class RingQueueConformanceTest {

    public static Test suite() throws NoSuchMethodException {
        TestSuite suite = new TestSuite("PerCpuRingBuffer conformance (guava-testlib)");
        suite.addTest(suite("PerCpuRingBuffer", elements -> new PerCpuRingBuffer<>(16)));
        // NOTE: the same contract with the elements spread over every ring (regions pinned over lock
        // mode, one element per region in turn), so that iteration, contains, toArray and equals
        // cross rings whichever CPU the test runs on.
        suite.addTest(suite("PerCpuRingBuffer spread over regions", elements -> {
            PinnedOps ops = PinnedOps.lockMode(0);
            PerCpuRingBuffer<String> q = new PerCpuRingBuffer<>(ops, 16);
            for (int i = 0; i < elements.length; i++) {
                ops.here = i % q.regions();
                q.add(elements[i]);
            }
            return q;
        }));
        return suite;
    }

    private static TestSuite suite(String name, Function<String[], PerCpuRingBuffer<String>> ring)
            throws NoSuchMethodException {
        return QueueTestSuiteBuilder.using(new TestStringQueueGenerator() {
                    @Override
                    protected Queue<String> create(String[] elements) {
                        PerCpuRingBuffer<String> q = ring.apply(elements);
                        if (q.isEmpty()) {
                            for (String e : elements) {
                                q.add(e);
                            }
                        }
                        return q;
                    }
                })
                .named(name)
                .withFeatures(CollectionFeature.SUPPORTS_ADD, CollectionFeature.ALLOWS_NULL_QUERIES,
                        CollectionFeature.NON_STANDARD_TOSTRING, CollectionSize.ANY)
                .suppressing(CollectionClearTester.class.getMethod("testClear_unsupported"),
                        CollectionClearTester.class.getMethod("testClear_unsupportedByEmptyCollection"))
                .createTestSuite();
    }
}
