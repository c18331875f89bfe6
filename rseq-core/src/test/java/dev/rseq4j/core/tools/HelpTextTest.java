package dev.rseq4j.core.tools;

import dev.rseq4j.core.internal.codegen.Operation;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The launcher's usage text ({@code ./rseq4j help}) is the one description of the commands and of the
 * diagnostics' options. This keeps its copies from drifting: the README's block between the
 * {@code <!-- rseq4j help: begin -->} and {@code <!-- rseq4j help: end -->} markers must equal it,
 * {@link Diagnostics#USAGE} must list the same options, the op line it shows must be the format
 * {@link SelfTest.Result} prints, and the README's prose must give the same JMH table duration.
 */
class HelpTextTest {
    private static final String BEGIN = "<!-- rseq4j help: begin -->";
    private static final String END = "<!-- rseq4j help: end -->";
    private static final Pattern OPTION = Pattern.compile("--[a-z][a-z-]*");
    private static final Pattern TABLE_DURATION = Pattern.compile("quick JMH table \\(about (\\d+ s)\\)");

    private static Path root;
    private static String help;
    private static String readme;

    @BeforeAll
    static void load() throws IOException, InterruptedException {
        root = repositoryRoot();
        Process p = new ProcessBuilder("bash", root.resolve("rseq4j").toString(), "help")
                .directory(root.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "./rseq4j help did not finish");
        help = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "./rseq4j help failed:\n" + help);
        readme = Files.readString(root.resolve("README.md"));
    }

    /** Maven runs tests in the module directory; an IDE may use the repository root. */
    private static Path repositoryRoot() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("rseq4j")) && Files.isRegularFile(d.resolve("README.md"))
                    && Files.isRegularFile(d.resolve("rseq-core/pom.xml"))) {
                return d;
            }
        }
        throw new AssertionError("no repository root (with rseq4j and README.md) above " + Path.of("").toAbsolutePath());
    }

    @Test
    void readmeBlockIsTheLauncherText() {
        int begin = readme.indexOf(BEGIN);
        int end = readme.indexOf(END);
        assertTrue(begin >= 0 && end > begin, "README.md needs " + BEGIN + " ... " + END);
        List<String> block = new ArrayList<>(readme.substring(begin + BEGIN.length(), end).strip().lines().toList());
        assertTrue(block.size() >= 2 && block.getFirst().startsWith("```") && block.getLast().equals("```"),
                "the markers must enclose one fenced block");
        String inReadme = String.join("\n", block.subList(1, block.size() - 1)) + "\n";
        assertEquals(help, inReadme, "README.md's help block differs from ./rseq4j help: paste the launcher's text");
    }

    @Test
    void diagnosticsListsTheLaunchersOptions() {
        String synopsis = Diagnostics.USAGE.lines().findFirst().orElseThrow();
        String prefix = "usage: rseq4j diagnose ";
        assertTrue(synopsis.startsWith(prefix), synopsis);
        String diagnose = diagnoseSection();
        assertTrue(diagnose.lines().findFirst().orElseThrow().contains(synopsis.substring(prefix.length())),
                "the launcher's diagnose synopsis must contain Diagnostics' '" + synopsis.substring(prefix.length()) + "'");
        assertEquals(options(diagnose), options(Diagnostics.USAGE),
                "./rseq4j help (diagnose) and Diagnostics.USAGE name different options");
    }

    @Test
    void opLineIsTheFormatPrinted() {
        String printed = new SelfTest.Result(Operation.LOAD_ADD_STORE, 781020, 978, 2, 0).toString();
        String shape = printed.replaceAll("\\d+", "N");
        assertTrue(diagnoseSection().lines().anyMatch(l -> l.strip().equals(shape)),
                "./rseq4j help must show the op line as printed: " + shape);
        String example = readme.lines().filter(l -> l.startsWith("op=")).findFirst().orElse(null);
        assertNotNull(example, "README.md's example op line");
        assertEquals(shape, example.replaceAll("\\d+", "N"), "README.md's example op line");
    }

    @Test
    void tableDurationAgrees() {
        Set<String> durations = new TreeSet<>();
        for (String text : List.of(help, readme)) {
            Matcher m = TABLE_DURATION.matcher(text.replaceAll("\\s+", " "));
            while (m.find()) {
                durations.add(m.group(1));
            }
        }
        assertFalse(durations.isEmpty(), "no 'quick JMH table (about N s)' in ./rseq4j help or README.md");
        assertEquals(1, durations.size(), "the quick JMH table's duration differs: " + durations);
    }

    /** The diagnose entry of the launcher's text: from its line to the next command's. */
    private static String diagnoseSection() {
        List<String> lines = help.lines().toList();
        int from = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("  diagnose ")) {
                from = i;
            } else if (from >= 0 && lines.get(i).matches(" {2}[a-z].*")) {
                return String.join("\n", lines.subList(from, i));
            }
        }
        throw new AssertionError("no diagnose entry followed by another command in ./rseq4j help:\n" + help);
    }

    private static Set<String> options(String text) {
        Set<String> names = new TreeSet<>();
        Matcher m = OPTION.matcher(text);
        while (m.find()) {
            names.add(m.group());
        }
        return names;
    }
}
