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

/**
 * Run in a forked JVM by {@link ClassLoaderLeakTest}: what an application server does on every
 * redeploy. Each round loads the library in a fresh {@link URLClassLoader} (parent: the platform
 * loader, so nothing is shared with the application class path), uses a few {@code PerCpuCounter}s
 * through their public API only (reflection: the counter's internals may change), drops everything
 * and keeps a weak reference to the loader. Then it collects and prints one line
 * {@code rounds=N cleared=N unloadedClasses=N execMappingsAfterFirst=N execMappingsAtEnd=N ...}, and
 * exits 0 when the loaders were collected and no executable code accumulated, 1 otherwise.
 *
 * <p>Arguments: the number of rounds, the number of loaders that must have been collected. One
 * loader, the latest, may stay softly reachable from a JDK cache until memory runs short (cleared at
 * once with {@code -XX:SoftRefLRUPolicyMSPerMB=0}); that is no leak, since it is bounded.
 */
public final class ClassLoaderLeakMain {
    private static final int COUNTERS = 3;
    private static final int INCREMENTS = 1_000;

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        int mustClear = Integer.parseInt(args[1]);
        URL[] urls = {root("dev/rseq4j/core/Rseq.class"), root("dev/rseq4j/collections/PerCpuCounter.class")};
        List<WeakReference<ClassLoader>> loaders = new ArrayList<>();
        long[] execAfterFirst = null;
        long start = System.nanoTime();
        for (int i = 0; i < rounds; i++) {
            loaders.add(round(urls, i == 0));
            if (i == 0) {
                execAfterFirst = anonymousExecutableMappings();
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
        boolean ok = cleared >= mustClear && unloaded > 0 && execAtEnd[0] - execAfterFirst[0] <= 8;
        List<Integer> alive = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            if (loaders.get(i).get() != null) {
                alive.add(i);
            }
        }
        System.out.println("rounds=" + rounds + " cleared=" + cleared + " unloadedClasses=" + unloaded
                + " execMappingsAfterFirst=" + execAfterFirst[0] + " execMappingsAtEnd=" + execAtEnd[0]
                + " execBytesAfterFirst=" + execAfterFirst[1] + " execBytesAtEnd=" + execAtEnd[1]
                + " roundsMillis=" + roundsMillis + " notCollected=" + alive + " ok=" + ok);
        System.exit(ok ? 0 : 1);
    }

    /** One deployment: load, use, check, undeploy. Only the weak reference survives. */
    private static WeakReference<ClassLoader> round(URL[] urls, boolean first) throws Exception {
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
            return new WeakReference<>(loader);
        }
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
        long count = 0;
        long bytes = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 5 && f[1].equals("r-xp")) {
                String[] range = f[0].split("-");
                count++;
                bytes += Long.parseUnsignedLong(range[1], 16) - Long.parseUnsignedLong(range[0], 16);
            }
        }
        return new long[] {count, bytes};
    }
}
