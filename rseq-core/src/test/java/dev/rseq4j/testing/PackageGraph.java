package dev.rseq4j.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The package dependencies of compiled classes as {@code jdeps -verbose:package} reports them,
 * restricted to this project's packages, with a cycle finder. Used by the architecture tests of
 * every module so that "layers point one way" stays true.
 */
public final class PackageGraph {
    private static final Pattern EDGE = Pattern.compile("^\\s+(dev\\.rseq4j[\\w.]*)\\s+->\\s+(dev\\.rseq4j[\\w.]*)\\s");

    /** Package to the packages it depends on (other than itself). */
    private final Map<String, Set<String>> edges;

    private PackageGraph(Map<String, Set<String>> edges) {
        this.edges = edges;
    }

    /**
     * Runs the JDK's {@code jdeps} on {@code classes} (a module's {@code target/classes}), with
     * {@code modulePath} (may be empty) for the modules it requires.
     */
    public static PackageGraph of(Path classes, String modulePath) throws IOException, InterruptedException {
        if (!Files.isDirectory(classes)) {
            throw new IllegalStateException("no compiled classes at " + classes.toAbsolutePath());
        }
        Path jdeps = Path.of(System.getProperty("java.home"), "bin", "jdeps");
        List<String> command = new ArrayList<>(List.of(jdeps.toString(), "-verbose:package", "--ignore-missing-deps"));
        if (!modulePath.isEmpty()) {
            command.addAll(List.of("--module-path", modulePath));
        }
        command.add(classes.toString());
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("jdeps failed: " + command + "\n" + out);
        }
        Map<String, Set<String>> edges = new TreeMap<>();
        for (String line : out.split("\n")) {
            Matcher m = EDGE.matcher(line);
            if (m.find() && !m.group(1).equals(m.group(2))) {
                edges.computeIfAbsent(m.group(1), k -> new TreeSet<>()).add(m.group(2));
            }
        }
        if (edges.isEmpty() && !out.contains("dev.rseq4j")) {
            throw new IllegalStateException("jdeps reported nothing of this project:\n" + out);
        }
        return new PackageGraph(edges);
    }

    /** A graph from given edges (tests of the checker itself). */
    public static PackageGraph of(Map<String, Set<String>> edges) {
        return new PackageGraph(new TreeMap<>(edges));
    }

    public Map<String, Set<String>> edges() {
        return edges;
    }

    /** Every dependency cycle, each as the packages on it; empty when the graph is acyclic. */
    public List<List<String>> cycles() {
        List<List<String>> cycles = new ArrayList<>();
        Set<String> done = new TreeSet<>();
        for (String start : edges.keySet()) {
            walk(start, new ArrayList<>(), done, cycles);
        }
        return cycles;
    }

    private void walk(String node, List<String> path, Set<String> done, List<List<String>> cycles) {
        int at = path.indexOf(node);
        if (at >= 0) {
            List<String> cycle = new ArrayList<>(path.subList(at, path.size()));
            cycle.add(node);
            cycles.add(cycle);
            return;
        }
        if (done.contains(node)) {
            return;
        }
        path.add(node);
        for (String next : edges.getOrDefault(node, Set.of())) {
            walk(next, path, done, cycles);
        }
        path.remove(path.size() - 1);
        done.add(node);
    }

    /**
     * Dependencies that point up or sideways in {@code layers} (lowest first; packages in one layer
     * must not depend on each other), or that leave the listed packages; each as "a -> b".
     */
    public List<String> violations(List<List<String>> layers) {
        Map<String, Integer> level = new TreeMap<>();
        for (int i = 0; i < layers.size(); i++) {
            for (String pkg : layers.get(i)) {
                level.put(pkg, i);
            }
        }
        List<String> bad = new ArrayList<>();
        edges.forEach((from, tos) -> tos.forEach(to -> {
            Integer a = level.get(from);
            Integer b = level.get(to);
            if (a == null || b == null || b >= a) {
                bad.add(from + " -> " + to + (a == null || b == null ? " (package not in any layer)" : ""));
            }
        }));
        return bad;
    }
}
