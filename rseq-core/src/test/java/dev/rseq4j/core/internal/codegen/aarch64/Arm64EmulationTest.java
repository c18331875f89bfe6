package dev.rseq4j.core.internal.codegen.aarch64;

import dev.rseq4j.testing.Forked;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The aarch64 stubs on real arm64 kernels: the Java generator's code (exported by {@link StubExport})
 * runs inside {@code src/test/arm64/harness.c}, a static aarch64 program booted as {@code /init} under
 * {@code qemu-system-aarch64} (full-system emulation: qemu's user mode answers ENOSYS for rseq), on
 * Debian's 6.1 and 6.12 arm64 kernels. The kernel itself aborts the sequences.
 *
 * <p>Needs {@code gcc-aarch64-linux-gnu}, {@code qemu-system-arm} and the kernels that
 * {@code src/test/arm64/fetch-kernels.sh} downloads into {@code ~/.cache/rseq4j/arm64} (or
 * {@code $RSEQ4J_ARM64_KERNELS}); {@code .ci/run} installs all three. Without them the test is skipped
 * with a banner, unless {@code RSEQ4J_ARM64_REQUIRED=1} (set by CI when the installation succeeded),
 * which turns a missing piece into a failure.
 */
class Arm64EmulationTest {
    private static final Path SOURCES = Path.of("src/test/arm64");
    private static final long BOOT_TIMEOUT_SECONDS = 300;
    private static Path initramfs;

    @TempDir
    static Path work;

    static Path kernels() {
        String env = System.getenv("RSEQ4J_ARM64_KERNELS");
        return env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "rseq4j", "arm64");
    }

    private static String missing() {
        List<String> missing = new ArrayList<>();
        for (String tool : new String[] {"aarch64-linux-gnu-gcc", "qemu-system-aarch64"}) {
            if (Forked.onPath(tool).isEmpty()) {
                missing.add(tool);
            }
        }
        for (String k : new String[] {"vmlinuz-6.1", "vmlinuz-6.12"}) {
            if (!Files.isRegularFile(kernels().resolve(k))) {
                missing.add(kernels().resolve(k).toString());
            }
        }
        return String.join(", ", missing);
    }

    @BeforeAll
    static void buildInitramfs() throws Exception {
        String missing = missing();
        if (!missing.isEmpty()) {
            String banner = "ARM64 EMULATION NOT RUN: missing " + missing
                    + " (apt-get install gcc-aarch64-linux-gnu qemu-system-arm; src/test/arm64/fetch-kernels.sh)";
            System.out.println("=".repeat(100) + "\n" + banner + "\n" + "=".repeat(100));
            if ("1".equals(System.getenv("RSEQ4J_ARM64_REQUIRED"))) {
                fail(banner);
            }
            assumeTrue(false, banner);
        }
        Files.writeString(work.resolve("stubs.h"), StubExport.header());
        Path init = work.resolve("init");
        run(List.of("aarch64-linux-gnu-gcc", "-static", "-O2", "-pthread", "-Wall", "-Werror", "-I" + work,
                SOURCES.resolve("harness.c").toString(), "-o", init.toString()), 120);
        initramfs = work.resolve("initramfs.cpio");
        Files.write(initramfs, Cpio.newc(Files.readAllBytes(init)));
    }

    @ParameterizedTest(name = "Linux {0}")
    @ValueSource(strings = {"6.1", "6.12"})
    void stubsAbortAndLoseNothingOnARealArm64Kernel(String kernel) throws Exception {
        long started = System.nanoTime();
        String out = run(List.of("qemu-system-aarch64", "-M", "virt", "-cpu", "max,pauth-impdef=on", "-smp", "2",
                "-m", "512", "-nic", "none", "-nographic", "-no-reboot",
                "-kernel", kernels().resolve("vmlinuz-" + kernel).toString(), "-initrd", initramfs.toString(),
                "-append", "console=ttyAMA0 panic=-1 quiet"), BOOT_TIMEOUT_SECONDS);
        double seconds = (System.nanoTime() - started) / 1e9;
        List<String> lines = out.lines().filter(l -> l.startsWith("CHECK ") || l.startsWith("RESULT ")
                || l.startsWith("HARNESS ") || l.startsWith("MMCID ")).toList();
        lines.forEach(l -> System.out.println("arm64 " + kernel + ": " + l));
        System.out.printf("arm64 %s: emulation wall time %.1f s%n", kernel, seconds);
        Matcher result = Pattern.compile("^RESULT kernel=(\\S+) checks=(\\d+) failures=(\\d+)", Pattern.MULTILINE).matcher(out);
        assertTrue(result.find(), "no RESULT line: the harness did not finish\n" + out);
        assertTrue(result.group(1).startsWith(kernel + "."), "booted " + result.group(1));
        List<String> failed = lines.stream().filter(l -> l.startsWith("CHECK ") && !l.endsWith(" PASS")).toList();
        assertEquals(List.of(), failed, "failed checks on Linux " + kernel);
        assertEquals("0", result.group(3), out);
        long tortures = lines.stream().filter(l -> l.startsWith("CHECK torture/")).count();
        boolean mmCid = !kernel.equals("6.1");   // mm_cid arrived in Linux 6.3
        assertEquals(mmCid ? 35 : 24, tortures, "torture checks run on Linux " + kernel);
        assertEquals(mmCid, lines.stream().anyMatch(l -> l.startsWith("CHECK torture/mmcid")),
                "mm_cid stubs run exactly where the kernel has mm_cid");
    }

    /** Runs a command, returns its output; fails on a non-zero exit or a time-out. */
    private static String run(List<String> command, long timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = Thread.ofPlatform().start(() -> {
            try {
                p.getInputStream().transferTo(out);
            } catch (IOException ignored) {
                // the process ended
            }
        });
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            reader.join();
            fail("timed out after " + timeoutSeconds + " s: " + command + "\n" + out.toString(StandardCharsets.UTF_8));
        }
        reader.join();
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), command + "\n" + text);
        return text;
    }

    /** A minimal initramfs writer (cpio "newc"): /init, /dev/console, /proc, /sys. */
    static final class Cpio {
        private Cpio() {
        }

        static byte[] newc(byte[] init) throws IOException {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int ino = 1;
            entry(out, ino++, "dev", 0040755, 0, 0, new byte[0]);
            entry(out, ino++, "dev/console", 0020600, 5, 1, new byte[0]);
            entry(out, ino++, "proc", 0040755, 0, 0, new byte[0]);
            entry(out, ino++, "sys", 0040755, 0, 0, new byte[0]);
            entry(out, ino++, "init", 0100755, 0, 0, init);
            entry(out, 0, "TRAILER!!!", 0, 0, 0, new byte[0]);
            return out.toByteArray();
        }

        private static void entry(ByteArrayOutputStream out, int ino, String name, int mode, int rdevMajor,
                                  int rdevMinor, byte[] data) throws IOException {
            byte[] n = (name + "\0").getBytes(StandardCharsets.US_ASCII);
            int[] fields = {ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, n.length, 0};
            StringBuilder h = new StringBuilder("070701");
            for (int f : fields) {
                h.append(String.format("%08x", f));
            }
            out.write(h.toString().getBytes(StandardCharsets.US_ASCII));
            out.write(n);
            pad(out);
            out.write(data);
            pad(out);
        }

        private static void pad(ByteArrayOutputStream out) {
            while (out.size() % 4 != 0) {
                out.write(0);
            }
        }
    }
}
