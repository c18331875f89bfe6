package dev.rseq4j.collections;

import dev.rseq4j.core.Rseq;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The arena API works for a user's named module: everything needed to give counters their own arena
 * (choose the indexing, create the arena, build counters in it, close it) is in exported packages.
 * Before {@link dev.rseq4j.core.CpuIndexing} moved to the core API, {@code new PerCpuArena(PerCpuArea.Indexing.CPU)}
 * did not compile in a module that {@code requires dev.rseq4j.collections}.
 *
 * <p>The test writes a module {@code demo.app}, compiles it with the system Java compiler against the
 * module path of the two rseq4j modules as the build has them (their classes directories with
 * {@code module-info.class} in the reactor, since surefire runs before packaging; the installed jars
 * when this module is built alone), and runs it in a fresh JVM with the flag the README documents,
 * {@code --enable-native-access=dev.rseq4j.core}. A second module that names an internal type must not
 * compile: that shows the compilation can fail here, and that the internals stay unexported.
 *
 * <p>The demo also imports {@code PerCpuRingBuffer} (as JCTools' {@code MessagePassingQueue}, which
 * the collections module passes on with {@code requires transitive}) and {@code PerCpuRecordRingBuffer};
 * the same source is compiled and run once more as a class-path program, which is how most Maven
 * projects run: together the two cover what a fresh project gets with the dependency on either path.
 */
class ModulePathTest {
    private static final String MODULE_INFO = """
            module demo.app {
                requires dev.rseq4j.collections;
            }
            """;

    private static final String MAIN = """
            package demo;

            import dev.rseq4j.collections.PerCpu;
            import dev.rseq4j.collections.PerCpuArena;
            import dev.rseq4j.collections.PerCpuCounter;
            import dev.rseq4j.collections.PerCpuMemoryPool;
            import dev.rseq4j.collections.PerCpuObjectPool;
            import dev.rseq4j.collections.PerCpuRecordRingBuffer;
            import dev.rseq4j.collections.PerCpuRingBuffer;
            import dev.rseq4j.collections.PerCpuSpinLock;
            import dev.rseq4j.collections.PerCpuFreeList;
            import dev.rseq4j.collections.PerCpuStatistics;
            import dev.rseq4j.core.CpuIndexing;
            import dev.rseq4j.core.RseqStatus;
            import org.jctools.queues.MessagePassingQueue;
            import java.lang.foreign.MemorySegment;
            import java.lang.foreign.ValueLayout;
            import dev.rseq4j.core.Rseq;

            public class Main {
                public static void main(String[] args) throws Exception {
                    int threads = 4;
                    int adds = 100_000;
                    PerCpuArena arena = new PerCpuArena(CpuIndexing.CPU);
                    PerCpuCounter[] counters = new PerCpuCounter[3];
                    for (int i = 0; i < counters.length; i++) {
                        counters[i] = PerCpuCounter.builder().arena(arena).build();
                    }
                    Thread[] ts = new Thread[threads];
                    for (int t = 0; t < threads; t++) {
                        ts[t] = new Thread(() -> {
                            for (int n = 0; n < adds; n++) {
                                for (int i = 0; i < counters.length; i++) {
                                    counters[i].add(i + 1);
                                }
                            }
                        });
                        ts[t].start();
                    }
                    for (Thread t : ts) {
                        t.join();
                    }
                    boolean sums = true;
                    for (int i = 0; i < counters.length; i++) {
                        sums &= counters[i].sum() == (long) threads * adds * (i + 1);
                    }
                    int ranges = arena.ranges();
                    arena.close();
                    String afterClose;
                    try {
                        PerCpuCounter.builder().arena(arena).build();
                        afterClose = "built";
                    } catch (IllegalStateException expected) {
                        afterClose = "IllegalStateException";
                    }
                    counters[0].add(1);   // existing counters keep working after close
                    boolean stillWorks = counters[0].sum() == (long) threads * adds + 1;
                    PerCpuObjectPool<StringBuilder> pool = PerCpuObjectPool.builder(StringBuilder::new)
                            .onRelease(sb -> sb.setLength(0)).build();
                    try (PerCpuObjectPool.Lease<StringBuilder> lease = pool.acquire()) {
                        lease.get().append("x");
                    }
                    boolean pooled;
                    try (PerCpuObjectPool.Lease<StringBuilder> lease = pool.acquire()) {
                        pooled = lease.get().isEmpty() && pool.created() == 1;
                    }
                    String blockAfterClose;
                    PerCpuStatistics blockStats;
                    try (PerCpuMemoryPool blocks = PerCpuMemoryPool.builder(256).maxBlocks(64).build()) {
                        MemorySegment block = blocks.allocate();
                        block.set(ValueLayout.JAVA_LONG, 0, 42);
                        blocks.free(block);
                        blockStats = blocks.stats();
                        blocks.close();
                        try {
                            block.get(ValueLayout.JAVA_LONG, 0);
                            blockAfterClose = "readable";
                        } catch (IllegalStateException expected) {
                            blockAfterClose = "IllegalStateException";
                        }
                    }
                    PerCpuRingBuffer<String> ring = new PerCpuRingBuffer<>(64);
                    MessagePassingQueue<String> queue = ring;   // JCTools comes transitively
                    queue.offer("hello");
                    String polled = queue.poll();
                    PerCpuRecordRingBuffer records = new PerCpuRecordRingBuffer(4096);
                    records.write(7, "rec".getBytes(), 0, 3);
                    StringBuilder read = new StringBuilder();
                    records.read((typeId, payload) -> read.append(typeId).append(':')
                            .append(new String(payload.toArray(ValueLayout.JAVA_BYTE))));
                    PerCpu<long[]> shards = PerCpu.of(r -> new long[1]);
                    for (int i = 0; i < 5; i++) {
                        shards.withCurrent(a -> a[0]++);
                    }
                    PerCpuSpinLock lock = new PerCpuSpinLock();
                    int region = lock.lock();
                    lock.unlock(region);
                    long shardSum = shards.reduce(0L, (sum, a) -> sum + a[0]);
                    // Every structure's stats(), read through the one public type from this module.
                    java.util.List<PerCpuStatistics> stats = java.util.List.of(counters[0].stats(), pool.stats(),
                            blockStats, new PerCpuFreeList(4).stats(), ring.stats(), records.stats(), lock.stats(),
                            shards.stats());
                    boolean rseq = Rseq.status().mode() == RseqStatus.Mode.RSEQ;
                    boolean statsOk = stats.stream().allMatch(st -> st.restartable() == rseq && st.aborts() >= 0
                            && st.slowPaths() >= 0 && st.guardWaits() >= 0);
                    System.out.println("DEMO module=" + Main.class.getModule().getName()
                            + " library=" + PerCpuCounter.class.getModule().getName()
                            + " mode=" + Rseq.status().mode()
                            + " indexing=" + arena.indexing()
                            + " ranges=" + ranges
                            + " sums=" + (sums ? "ok" : "WRONG")
                            + " closed=" + arena.isClosed()
                            + " buildAfterClose=" + afterClose
                            + " afterCloseAdd=" + (stillWorks ? "ok" : "WRONG")
                            + " objectPool=" + (pooled ? "ok" : "WRONG")
                            + " blockAfterClose=" + blockAfterClose
                            + " ring=" + polled
                            + " records=" + read
                            + " shards=" + shardSum + (lock.isLocked(region) ? "/locked" : "/free")
                            + " stats=" + stats.size() + (statsOk ? "/ok" : "/WRONG"));
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void aNamedModuleGivesCountersItsOwnArena() throws Exception {
        Path out = dir.resolve("out");
        List<String> errors = compile(dir.resolve("src"), out, MODULE_INFO, "demo/Main.java", MAIN);
        assertTrue(errors.isEmpty(), "demo.app should compile against the exported API:\n" + String.join("\n", errors));
        Map<String, String> f = run("--module-path", out + File.pathSeparator + libraryPath(),
                "--enable-native-access=dev.rseq4j.core", "-m", "demo.app/demo.Main");
        assertEquals("demo.app", f.get("module"), f.toString());
        assertEquals("dev.rseq4j.collections", f.get("library"), "the library must run as a named module: " + f);
        assertEquals("true", f.get("closed"), f.toString());
        assertEquals("IllegalStateException", f.get("buildAfterClose"), f.toString());
    }

    /** The same program as a plain class-path application (no module-info), as most Maven projects run. */
    @Test
    void aClassPathApplicationUsesTheSameApi() throws Exception {
        Path out = dir.resolve("cp-out");
        List<String> errors = compile(dir.resolve("cp-src"), out, null, "demo/Main.java", MAIN);
        assertTrue(errors.isEmpty(), "the demo should compile on the class path:\n" + String.join("\n", errors));
        Map<String, String> f = run("-cp", out + File.pathSeparator + libraryPath(),
                "--enable-native-access=ALL-UNNAMED", "demo.Main");
        assertEquals("null", f.get("module"), "an unnamed module: " + f);
        assertEquals("null", f.get("library"), "the library on the class path: " + f);
    }

    /**
     * Runs the demo in a fresh JVM with {@code args}, checks what both layouts must print (sums, the
     * pools, both rings, the mode of this JVM, no restricted-method warning) and returns its fields.
     */
    private static Map<String, String> run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "demo did not finish: " + cmd);
        System.out.println(output.strip());
        assertEquals(0, p.exitValue(), output);
        String line = output.lines().filter(l -> l.startsWith("DEMO ")).findFirst()
                .orElseThrow(() -> new AssertionError("no DEMO line:\n" + output));
        Map<String, String> f = fields(line);
        assertEquals("CPU", f.get("indexing"), line);
        assertEquals("ok", f.get("sums"), line);
        assertEquals("ok", f.get("afterCloseAdd"), line);
        assertEquals("ok", f.get("objectPool"), line);
        assertEquals("IllegalStateException", f.get("blockAfterClose"), line);
        assertEquals("hello", f.get("ring"), line);
        assertEquals("7:rec", f.get("records"), line);
        assertEquals("8/ok", f.get("stats"), "stats() of every structure, through PerCpuStatistics: " + line);
        assertEquals("5/free", f.get("shards"), line);
        // The documented flag is enough: the same mode as this JVM (which has native access), and no
        // warning about restricted methods (which would name the module that lacks access).
        assertEquals(Rseq.status().mode().toString(), f.get("mode"), output);
        assertFalse(output.contains("restricted method"), output);
        return f;
    }

    @Test
    void internalsStayUnexported() throws Exception {
        String info = """
                module demo.bad {
                    requires dev.rseq4j.collections;
                }
                """;
        String main = """
                package bad;

                public class Main {
                    public static void main(String[] args) {
                        System.out.println(dev.rseq4j.core.percpu.WordArena.WORDS_PER_CHUNK);
                    }
                }
                """;
        List<String> errors = compile(dir.resolve("bad-src"), dir.resolve("bad-out"), info, "bad/Main.java", main);
        System.out.println("demo.bad: " + String.join(" | ", errors).replace('\n', ' '));
        assertFalse(errors.isEmpty(), "a module naming dev.rseq4j.core.percpu.WordArena must not compile");
        assertTrue(errors.stream().anyMatch(e -> e.contains("dev.rseq4j.core.percpu")),
                "the error should be about the unexported package:\n" + String.join("\n", errors));
    }

    /** Writes and compiles one module ({@code moduleInfo} null: a class-path program); returns the compiler's errors (empty on success). */
    private static List<String> compile(Path src, Path out, String moduleInfo, String mainPath, String main)
            throws IOException, URISyntaxException {
        Files.createDirectories(src.resolve(mainPath).getParent());
        Files.createDirectories(out);
        Files.writeString(src.resolve(mainPath), main);
        List<Path> sources = new ArrayList<>(List.of(src.resolve(mainPath)));
        if (moduleInfo != null) {
            Files.writeString(src.resolve("module-info.java"), moduleInfo);
            sources.add(src.resolve("module-info.java"));
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertTrue(javac != null, "no system Java compiler (a JRE?)");
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, StandardCharsets.UTF_8)) {
            Iterable<? extends JavaFileObject> units = files.getJavaFileObjectsFromPaths(sources);
            List<String> options = List.of(moduleInfo != null ? "--module-path" : "-cp", libraryPath(), "-d",
                    out.toString(), "-Xlint:all");
            boolean ok = javac.getTask(null, files, diagnostics, options, null, units).call();
            List<String> errors = diagnostics.getDiagnostics().stream()
                    .filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
                    .map(d -> d.getMessage(null)).collect(Collectors.toList());
            if (!ok && errors.isEmpty()) {
                errors.add("compilation failed without an error diagnostic");
            }
            return errors;
        }
    }

    /**
     * rseq-core and rseq-collections as this build has them (classes directories or jars, each a
     * module), and the collections' runtime dependency, JCTools: what a user's build puts on its
     * module path or class path.
     */
    private static String libraryPath() throws URISyntaxException {
        Path core = Path.of(Rseq.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path collections = Path.of(PerCpuCounter.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        for (Path p : List.of(core, collections)) {
            assertTrue(Files.isRegularFile(p) || Files.isRegularFile(p.resolve("module-info.class")),
                    "not a module (no module-info.class): " + p);
        }
        Path jctools = Path.of(org.jctools.queues.MessagePassingQueue.class.getProtectionDomain().getCodeSource()
                .getLocation().toURI());
        return core + File.pathSeparator + collections + File.pathSeparator + jctools;
    }

    private static Map<String, String> fields(String line) {
        return java.util.Arrays.stream(line.substring("DEMO ".length()).split(" "))
                .map(kv -> kv.split("=", 2))
                .collect(Collectors.toMap(kv -> kv[0], kv -> kv[1]));
    }
}
