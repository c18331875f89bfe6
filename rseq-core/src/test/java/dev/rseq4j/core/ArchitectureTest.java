package dev.rseq4j.core;

import dev.rseq4j.testing.PackageGraph;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The layers of docs/architecture.md, checked on the compiled classes with {@code jdeps}: every
 * package depends only on the layers below it, so no package cycle can form.
 */
class ArchitectureTest {
    /** Lowest first. */
    static final List<List<String>> LAYERS = List.of(
            List.of("dev.rseq4j.core.internal.platform"),
            List.of("dev.rseq4j.core.internal.codegen"),
            List.of("dev.rseq4j.core.internal.codegen.x86_64", "dev.rseq4j.core.internal.codegen.aarch64"),
            List.of("dev.rseq4j.core.internal.runtime"),
            List.of("dev.rseq4j.core"),
            List.of("dev.rseq4j.core.internal.jfr"),
            List.of("dev.rseq4j.core.percpu"),
            List.of("dev.rseq4j.core.tools"));

    @Test
    void packagesFormNoCycleAndPointDownTheLayers() throws Exception {
        PackageGraph graph = PackageGraph.of(Path.of("target", "classes"), "");
        System.out.println("rseq-core package dependencies: " + graph.edges());
        assertEquals(List.of(), graph.cycles(), "package cycles");
        assertEquals(List.of(), graph.violations(LAYERS), "dependencies against the layers of docs/architecture.md");
    }

    /** The checks can fail: a made-up cycle is found, and the real graph against reversed layers is reported. */
    @Test
    void theChecksCatchCyclesAndUpwardDependencies() throws Exception {
        PackageGraph cyclic = PackageGraph.of(Map.of("dev.rseq4j.a", Set.of("dev.rseq4j.b"),
                "dev.rseq4j.b", Set.of("dev.rseq4j.c"), "dev.rseq4j.c", Set.of("dev.rseq4j.a")));
        assertEquals(List.of(List.of("dev.rseq4j.a", "dev.rseq4j.b", "dev.rseq4j.c", "dev.rseq4j.a")), cyclic.cycles());
        List<List<String>> reversed = new ArrayList<>(LAYERS);
        Collections.reverse(reversed);
        assertFalse(PackageGraph.of(Path.of("target", "classes"), "").violations(reversed).isEmpty());
    }
}
