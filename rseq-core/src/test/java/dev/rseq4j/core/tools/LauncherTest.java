package dev.rseq4j.core.tools;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The launcher's own behaviour that a script calling it relies on: a mistyped command exits 2 with
 * the usage on stderr, and Maven run through it writes no terminal escape codes (logs and CI pipes
 * get plain text). {@code bench}'s option check lives in {@code CounterReport} (it needs the
 * benchmark jar, which this module's tests run before).
 */
class LauncherTest {

    private static Path root() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("rseq4j")) && Files.isRegularFile(d.resolve("rseq-core/pom.xml"))) {
                return d;
            }
        }
        throw new AssertionError("no repository root above " + Path.of("").toAbsolutePath());
    }

    private record Run(int exit, String output) {
    }

    private static Run launch(String... args) throws IOException, InterruptedException {
        Path root = root();
        List<String> cmd = new ArrayList<>(List.of("bash", root.resolve("rseq4j").toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "./rseq4j " + String.join(" ", args) + " did not finish");
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    @Test
    void anUnknownCommandExitsTwoWithTheUsage() throws Exception {
        Run r = launch("bogus");
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().contains("rseq4j: unknown command 'bogus'"), r.output());
        assertTrue(r.output().contains("usage: ./rseq4j <command> [options]"), r.output());
    }

    @Test
    void mavenThroughTheLauncherWritesNoEscapeCodes() throws Exception {
        Run r = launch("mvn", "-q", "-N", "validate");
        assertEquals(0, r.exit(), r.output());
        assertFalse(r.output().contains("\u001b"), "escape codes in: " + r.output().replace("\u001b", "ESC"));
    }
}
