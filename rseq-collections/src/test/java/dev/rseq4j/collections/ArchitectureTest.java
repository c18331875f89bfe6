package dev.rseq4j.collections;

import dev.rseq4j.testing.PackageGraph;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The collections' packages, checked with {@code jdeps} like rseq-core's (see docs/architecture.md):
 * no package cycle, and the collections reach the core only through its API and {@code percpu}.
 */
class ArchitectureTest {

    @Test
    void packagesFormNoCycleAndUseOnlyTheCoresExports() throws Exception {
        // NOTE: the module path has what the collections module requires: the core and JCTools.
        String jctools = Path.of(org.jctools.queues.MessagePassingQueue.class.getProtectionDomain().getCodeSource()
                .getLocation().toURI()).toString();
        PackageGraph graph = PackageGraph.of(Path.of("target", "classes"),
                Path.of("..", "rseq-core", "target", "classes") + java.io.File.pathSeparator + jctools);
        System.out.println("rseq-collections package dependencies: " + graph.edges());
        assertEquals(List.of(), graph.cycles(), "package cycles");
        assertEquals(List.of(), graph.violations(List.of(
                List.of("dev.rseq4j.core", "dev.rseq4j.core.percpu"),
                List.of("dev.rseq4j.collections"))), "dependencies against the layers of docs/architecture.md");
        // JCTools is used for its MessagePassingQueue interface only (PerCpuRingBuffer implements it).
    }
}
