package dev.rseq4j.testing;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs a main class in a fresh JVM with this test's class path, extra JVM flags and environment;
 * native access is enabled unless the flags contain {@code --illegal-native-access=deny}. A command
 * prefix ({@code strace -f -e inject=...}, {@code taskset -c 0}) may wrap the JVM.
 */
public final class Forked {
    /** Exit code and combined output of a forked JVM. */
    public record Result(int exitCode, String output) {
    }

    private Forked() {
    }

    /** The first executable {@code tool} in the directories of {@code PATH}. */
    public static Optional<Path> onPath(String tool) {
        return Stream.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator))
                .map(dir -> Path.of(dir, tool)).filter(Files::isExecutable).findFirst();
    }

    /** The path of {@code strace}, for a fault-injection prefix; skips the calling test where it is not installed. */
    public static String straceOrSkip() {
        Optional<Path> strace = onPath("strace");
        assumeTrue(strace.isPresent(), "strace is not installed (the CI image must install the strace package)");
        return strace.get().toString();
    }

    public static Result run(Class<?> main, Map<String, String> env, List<String> jvmArgs, String... args)
            throws IOException, InterruptedException {
        return runWrapped(List.of(), main, env, jvmArgs, args);
    }

    /** As {@link #run}, with {@code prefix} (a command and its options) in front of the JVM's command line. */
    public static Result runWrapped(List<String> prefix, Class<?> main, Map<String, String> env, List<String> jvmArgs,
                                    String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        if (!jvmArgs.contains("--illegal-native-access=deny")) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("forked JVM did not finish: " + cmd);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
