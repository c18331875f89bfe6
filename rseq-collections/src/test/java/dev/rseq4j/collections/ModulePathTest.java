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
 */
class ModulePathTest {
    private static final String MODULE_INFO = """
            module demo.app {
                requires dev.rseq4j.collections;
            }
            """;

    private static final String MAIN = """
            package demo;

            import dev.rseq4j.collections.PerCpuArena;
            import dev.rseq4j.collections.PerCpuCounter;
            import dev.rseq4j.collections.PerCpuMemoryPool;
            import dev.rseq4j.collections.PerCpuObjectPool;
            import dev.rseq4j.core.CpuIndexing;
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
                    try (PerCpuMemoryPool blocks = PerCpuMemoryPool.builder(256).maxBlocks(64).build()) {
                        MemorySegment block = blocks.allocate();
                        block.set(ValueLayout.JAVA_LONG, 0, 42);
                        blocks.free(block);
                        blocks.close();
                        try {
                            block.get(ValueLayout.JAVA_LONG, 0);
                            blockAfterClose = "readable";
                        } catch (IllegalStateException expected) {
                            blockAfterClose = "IllegalStateException";
                        }
                    }
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
                            + " blockAfterClose=" + blockAfterClose);
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

        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("--module-path", out + File.pathSeparator + libraryModulePath(),
                "--enable-native-access=dev.rseq4j.core", "-m", "demo.app/demo.Main"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "demo did not finish: " + cmd);
        System.out.println(output.strip());
        assertEquals(0, p.exitValue(), output);

        String line = output.lines().filter(l -> l.startsWith("DEMO ")).findFirst()
                .orElseThrow(() -> new AssertionError("no DEMO line:\n" + output));
        Map<String, String> f = fields(line);
        assertEquals("demo.app", f.get("module"), line);
        assertEquals("dev.rseq4j.collections", f.get("library"), "the library must run as a named module: " + line);
        assertEquals("CPU", f.get("indexing"), line);
        assertEquals("ok", f.get("sums"), line);
        assertEquals("true", f.get("closed"), line);
        assertEquals("IllegalStateException", f.get("buildAfterClose"), line);
        assertEquals("ok", f.get("afterCloseAdd"), line);
        assertEquals("ok", f.get("objectPool"), line);
        assertEquals("IllegalStateException", f.get("blockAfterClose"), line);
        // The documented flag is enough: the same mode as this JVM (which has native access), and no
        // warning about restricted methods (which would name the module that lacks access).
        assertEquals(Rseq.status().mode().toString(), f.get("mode"), output);
        assertFalse(output.contains("restricted method"), output);
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

    /** Writes and compiles one module; returns the compiler's errors (empty on success). */
    private static List<String> compile(Path src, Path out, String moduleInfo, String mainPath, String main)
            throws IOException, URISyntaxException {
        Files.createDirectories(src.resolve(mainPath).getParent());
        Files.createDirectories(out);
        Files.writeString(src.resolve("module-info.java"), moduleInfo);
        Files.writeString(src.resolve(mainPath), main);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertTrue(javac != null, "no system Java compiler (a JRE?)");
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, StandardCharsets.UTF_8)) {
            Iterable<? extends JavaFileObject> units = files.getJavaFileObjects(
                    src.resolve("module-info.java"), src.resolve(mainPath));
            List<String> options = List.of("--module-path", libraryModulePath(), "-d", out.toString(), "-Xlint:all");
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

    /** rseq-core and rseq-collections as this build has them: classes directories or jars, each a module. */
    private static String libraryModulePath() throws URISyntaxException {
        Path core = Path.of(Rseq.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path collections = Path.of(PerCpuCounter.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        for (Path p : List.of(core, collections)) {
            assertTrue(Files.isRegularFile(p) || Files.isRegularFile(p.resolve("module-info.class")),
                    "not a module (no module-info.class): " + p);
        }
        return core + File.pathSeparator + collections;
    }

    private static Map<String, String> fields(String line) {
        return java.util.Arrays.stream(line.substring("DEMO ".length()).split(" "))
                .map(kv -> kv.split("=", 2))
                .collect(Collectors.toMap(kv -> kv[0], kv -> kv[1]));
    }
}
