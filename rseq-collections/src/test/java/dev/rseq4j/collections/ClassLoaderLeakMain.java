package dev.rseq4j.collections;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.ref.WeakReference;
import java.lang.reflect.Method;
import java.net.JarURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Run in a forked JVM by {@link ClassLoaderLeakTest}: what an application server does on every
 * redeploy. Each round loads the library in a fresh {@link URLClassLoader} (parent: the platform
 * loader, so nothing is shared with the application class path), uses a few {@code PerCpuCounter}s,
 * a {@code PerCpuObjectPool} and a {@code PerCpuMemoryPool} through their public API only (reflection:
 * the internals may change), closes the memory pool in even rounds and drops it open in odd ones (its
 * cleaner must release it), drops everything and keeps a weak reference to the loader. Then it
 * collects and prints one line {@code rounds=N cleared=N unloadedClasses=N execMappingsAfterFirst=N
 * execMappingsAtEnd=N ... mappedMiBAfterFirst=N mappedMiBAtEnd=N ...}, and exits 0 when the loaders were
 * collected, no executable code accumulated and the process's anonymous mappings stayed flat (a
 * memory pool whose range outlived its loader would add 64 MiB per round), 1 otherwise.
 *
 * <p>Arguments: the number of rounds, the number of loaders that must have been collected. One
 * loader, the latest, may stay softly reachable from a JDK cache until memory runs short (cleared at
 * once with {@code -XX:SoftRefLRUPolicyMSPerMB=0}); that is no leak, since it is bounded.
 */
public final class ClassLoaderLeakMain {
    private static final int COUNTERS = 3;
    private static final int INCREMENTS = 1_000;
    /** Leases and blocks each round takes and gives back. */
    private static final int LEASES = 100;
    /**
     * Blocks of each round's memory pool: 64 MiB of address space reserved (1 MiB committed), so that a
     * pool whose memory outlived its loader adds 64 MiB of mappings per round, far above what the JVM
     * itself maps and unmaps over the rounds (heap, metaspace, code cache, cached thread stacks).
     */
    private static final long BLOCKS = 1 << 18;
    private static final long BLOCK_BYTES = 256;
    /** Growth of the process's anonymous mappings that is the JVM's own (measured: under 40 MiB). */
    private static final long MAPPED_SLACK_BYTES = 256L << 20;
    /**
     * The negative control ({@code keepArenas} as third argument): each memory pool's arena is kept
     * open beyond its loader (the pool's close-when-unreachable token is held here, and the pool is
     * dropped open), so its range stays mapped; the run must report that growth.
     */
    private static boolean keepArenas;
    private static final List<Object> KEPT = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        int mustClear = Integer.parseInt(args[1]);
        keepArenas = args.length > 2 && args[2].equals("keepArenas");
        URL[] urls = {root("dev/rseq4j/core/Rseq.class"), root("dev/rseq4j/collections/PerCpuCounter.class")};
        List<WeakReference<ClassLoader>> loaders = new ArrayList<>();
        long[] execAfterFirst = null;
        long[] mappingsAfterFirst = null;
        long start = System.nanoTime();
        for (int i = 0; i < rounds; i++) {
            loaders.add(round(urls, i == 0, i % 2 == 0));
            if (i == 0) {
                execAfterFirst = anonymousExecutableMappings();
                mappingsAfterFirst = anonymousMappings();
            }
        }
        long roundsMillis = (System.nanoTime() - start) / 1_000_000;
        // Collect until every loader is gone, or nothing changed for 25 collections (bounded).
        long deadline = System.nanoTime() + 15_000_000_000L;
        int cleared = cleared(loaders);
        for (int unchanged = 0; cleared < rounds && unchanged < 25 && System.nanoTime() < deadline; ) {
            System.gc();
            Thread.sleep(20);
            int now = cleared(loaders);
            unchanged = now == cleared ? unchanged + 1 : 0;
            cleared = now;
        }
        long unloaded = ManagementFactory.getClassLoadingMXBean().getUnloadedClassCount();
        long[] execAtEnd = anonymousExecutableMappings();
        // NOTE: a pool dropped open is closed by the JDK's cleaner thread once collected: give the
        // last ones time.
        long[] mappingsAtEnd = anonymousMappings();
        for (long settle = System.nanoTime() + 10_000_000_000L;
             mappingsAtEnd[1] - mappingsAfterFirst[1] > MAPPED_SLACK_BYTES && System.nanoTime() < settle;
             mappingsAtEnd = anonymousMappings()) {
            System.gc();
            Thread.sleep(100);
        }
        boolean ok = cleared >= mustClear && unloaded > 0 && execAtEnd[0] - execAfterFirst[0] <= 8
                && mappingsAtEnd[1] - mappingsAfterFirst[1] <= MAPPED_SLACK_BYTES;
        List<Integer> alive = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            if (loaders.get(i).get() != null) {
                alive.add(i);
            }
        }
        System.out.println("rounds=" + rounds + " cleared=" + cleared + " unloadedClasses=" + unloaded
                + " execMappingsAfterFirst=" + execAfterFirst[0] + " execMappingsAtEnd=" + execAtEnd[0]
                + " execBytesAfterFirst=" + execAfterFirst[1] + " execBytesAtEnd=" + execAtEnd[1]
                + " mappingsAfterFirst=" + mappingsAfterFirst[0] + " mappingsAtEnd=" + mappingsAtEnd[0]
                + " mappedMiBAfterFirst=" + (mappingsAfterFirst[1] >> 20) + " mappedMiBAtEnd=" + (mappingsAtEnd[1] >> 20)
                + " roundsMillis=" + roundsMillis + " notCollected=" + alive + " ok=" + ok);
        System.exit(ok ? 0 : 1);
    }

    /** One deployment: load, use, check, undeploy. Only the weak reference survives. */
    private static WeakReference<ClassLoader> round(URL[] urls, boolean first, boolean closeMemoryPool) throws Exception {
        try (URLClassLoader loader = new URLClassLoader("rseq4j-deployment", urls, ClassLoader.getPlatformClassLoader())) {
            Class<?> counterClass = Class.forName("dev.rseq4j.collections.PerCpuCounter", true, loader);
            if (counterClass.getClassLoader() != loader) {
                throw new AssertionError("PerCpuCounter came from " + counterClass.getClassLoader());
            }
            if (first) {
                Object status = Class.forName("dev.rseq4j.core.Rseq", true, loader).getMethod("status").invoke(null);
                System.out.println(status.toString().lines().findFirst().orElse("?"));
            }
            Method add = counterClass.getMethod("add", long.class);
            Method increment = counterClass.getMethod("increment");
            Method sum = counterClass.getMethod("sum");
            Method sumThenReset = counterClass.getMethod("sumThenReset");
            Object[] counters = new Object[COUNTERS];
            for (int k = 0; k < COUNTERS; k++) {
                counters[k] = counterClass.getConstructor().newInstance();
            }
            for (int k = 0; k < COUNTERS; k++) {
                for (int i = 0; i < INCREMENTS; i++) {
                    increment.invoke(counters[k]);
                }
                add.invoke(counters[k], 7L * k);
            }
            for (int k = 0; k < COUNTERS; k++) {
                long expected = INCREMENTS + 7L * k;
                check(expected, (long) sum.invoke(counters[k]), "sum");
                check(expected, (long) sumThenReset.invoke(counters[k]), "sumThenReset");
                check(0, (long) sum.invoke(counters[k]), "sum after sumThenReset");
            }
            usePools(loader, closeMemoryPool);
            return new WeakReference<>(loader);
        }
    }

    /**
     * An object pool and a memory pool of the deployment: lease and allocate {@value #LEASES} at once,
     * give them all back, check the accounting; close the memory pool if {@code close}, else drop it open.
     */
    private static void usePools(ClassLoader loader, boolean close) throws Exception {
        Class<?> objectPoolClass = Class.forName("dev.rseq4j.collections.PerCpuObjectPool", true, loader);
        Supplier<Object> factory = () -> new byte[64];
        Object builder = objectPoolClass.getMethod("builder", Supplier.class).invoke(null, factory);
        builder.getClass().getMethod("maxSize", int.class).invoke(builder, LEASES);
        Object pool = builder.getClass().getMethod("build").invoke(builder);
        Method acquire = objectPoolClass.getMethod("acquire");
        List<AutoCloseable> leases = new ArrayList<>();
        for (int i = 0; i < LEASES; i++) {
            leases.add((AutoCloseable) acquire.invoke(pool));
        }
        for (AutoCloseable lease : leases) {
            lease.close();
        }
        check(LEASES, (int) objectPoolClass.getMethod("created").invoke(pool), "object pool created");
        check(LEASES, (int) objectPoolClass.getMethod("idle").invoke(pool), "object pool idle");

        Class<?> memoryPoolClass = Class.forName("dev.rseq4j.collections.PerCpuMemoryPool", true, loader);
        Object memoryBuilder = memoryPoolClass.getMethod("builder", long.class).invoke(null, BLOCK_BYTES);
        memoryBuilder.getClass().getMethod("maxBlocks", long.class).invoke(memoryBuilder, BLOCKS);
        Object memoryPool = memoryBuilder.getClass().getMethod("build").invoke(memoryBuilder);
        Method allocate = memoryPoolClass.getMethod("allocate");
        Method free = memoryPoolClass.getMethod("free", java.lang.foreign.MemorySegment.class);
        List<java.lang.foreign.MemorySegment> blocks = new ArrayList<>();
        for (int i = 0; i < LEASES; i++) {
            java.lang.foreign.MemorySegment b = (java.lang.foreign.MemorySegment) allocate.invoke(memoryPool);
            b.fill((byte) i);
            blocks.add(b);
        }
        for (java.lang.foreign.MemorySegment b : blocks) {
            free.invoke(memoryPool, b);
        }
        if (keepArenas) {
            java.lang.reflect.Field token = memoryPoolClass.getDeclaredField("closesArena");
            token.setAccessible(true);
            KEPT.add(token.get(memoryPool));
        } else if (close) {
            ((AutoCloseable) memoryPool).close();
        }
    }

    /** Count and total size of the mappings with no path (anonymous: reserved or committed), whatever their permissions. */
    private static long[] anonymousMappings() throws IOException {
        return mappings(f -> f.length == 5);
    }

    private static void check(long expected, long actual, String what) {
        if (expected != actual) {
            throw new AssertionError(what + " = " + actual + ", expected " + expected);
        }
    }

    private static int cleared(List<WeakReference<ClassLoader>> loaders) {
        return (int) loaders.stream().filter(r -> r.get() == null).count();
    }

    /** The class path entry (directory or jar) that holds {@code resource}, from the application class path. */
    private static URL root(String resource) throws IOException {
        URL url = ClassLoader.getSystemResource(resource);
        if (url == null) {
            throw new IllegalStateException(resource + " is not on the class path");
        }
        if (url.getProtocol().equals("jar")) {
            return ((JarURLConnection) url.openConnection()).getJarFileURL();
        }
        String s = url.toString();
        return URI.create(s.substring(0, s.length() - resource.length())).toURL();
    }

    /** Count and total size of the mappings with permissions {@code r-xp} and no path: generated code. */
    static long[] anonymousExecutableMappings() throws IOException {
        return mappings(f -> f.length == 5 && f[1].equals("r-xp"));
    }

    /** Count and total size of the mappings of /proc/self/maps whose fields {@code which} accepts. */
    private static long[] mappings(java.util.function.Predicate<String[]> which) throws IOException {
        long count = 0;
        long bytes = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+");
            if (which.test(f)) {
                String[] range = f[0].split("-");
                count++;
                bytes += Long.parseUnsignedLong(range[1], 16) - Long.parseUnsignedLong(range[0], 16);
            }
        }
        return new long[] {count, bytes};
    }
}
