package dev.rseq4j.core.internal.codegen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The GNU assembler and objcopy of one architecture, for the encoder tests. A missing or failing tool
 * fails the test with an install hint: these tests are never skipped (CI installs the tools).
 *
 * @param as          the assembler command
 * @param asFlags     flags before the output/input names
 * @param objcopy     the objcopy command
 * @param installHint what to install, for failure messages
 */
public record GnuBinutils(String as, List<String> asFlags, String objcopy, String installHint) {
    public static final GnuBinutils X86_64 = new GnuBinutils("as", List.of("--64"), "objcopy",
            "install GNU binutils for x86_64 (`apt-get install binutils`)");
    public static final GnuBinutils AARCH64 = new GnuBinutils("aarch64-linux-gnu-as", List.of(),
            "aarch64-linux-gnu-objcopy",
            "install the GNU binutils for AArch64 (`apt-get install binutils-aarch64-linux-gnu`)");

    /** Assembles {@code source} with one assembler call and returns the {@code .text} bytes. */
    public byte[] assembleText(Path dir, String source) throws IOException {
        run(dir, as, "--version");
        run(dir, objcopy, "--version");
        Files.writeString(dir.resolve("forms.s"), source, StandardCharsets.UTF_8);
        List<String> command = new ArrayList<>(List.of(as));
        command.addAll(asFlags);
        command.addAll(List.of("-o", "forms.o", "forms.s"));
        run(dir, command.toArray(String[]::new));
        run(dir, objcopy, "-O", "binary", "-j", ".text", "forms.o", "forms.bin");
        return Files.readAllBytes(dir.resolve("forms.bin"));
    }

    /** Fails listing up to 200 mismatching instructions, if there are any. */
    public void assertNoMismatches(List<String> mismatches, int instructions) {
        if (mismatches.isEmpty()) {
            return;
        }
        StringBuilder msg = new StringBuilder(mismatches.size() + " of " + instructions
                + " instructions differ from " + as + ":\n");
        mismatches.stream().limit(200).forEach(m -> msg.append("  ").append(m).append('\n'));
        if (mismatches.size() > 200) {
            msg.append("  ... and ").append(mismatches.size() - 200).append(" more\n");
        }
        throw new AssertionError(msg.toString());
    }

    /** Runs {@code command} in {@code dir}; returns its output; fails on a missing tool or a non-zero exit. */
    public String run(Path dir, String... command) {
        String hint = installHint + ": the encoder tests compare every instruction form with it and must not be skipped";
        Process process;
        try {
            process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("cannot run `" + command[0] + "` (" + e.getMessage() + "): " + hint, e);
        }
        try {
            process.getOutputStream().close();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int status = process.waitFor();
            if (status != 0) {
                if (output.length() > 8000) {
                    output = output.substring(0, 8000) + "\n...";
                }
                throw new AssertionError("`" + String.join(" ", command) + "` exited with status " + status
                        + " (" + hint + "):\n" + output);
            }
            return output;
        } catch (IOException e) {
            throw new AssertionError("running `" + command[0] + "` failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running `" + command[0] + "`", e);
        }
    }
}
