package dev.rseq4j.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

import javax.xml.parsers.DocumentBuilderFactory;
import java.awt.GraphicsEnvironment;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Charts} on a checked-in JMH JSON file ({@code jmh-sample.json}: real JMH 1.37 output of a
 * {@code CounterReport --smoke} run and a ServiceBenchmark smoke run, raw data and percentiles removed),
 * headless.
 */
class ChartsTest {
    @TempDir
    Path dir;

    private static Path sample() throws URISyntaxException {
        return Path.of(ChartsTest.class.getResource("/jmh-sample.json").toURI());
    }

    @Test
    void headless() {
        assertTrue(GraphicsEnvironment.isHeadless(), "the tests must run as CI does, without a display");
    }

    @Test
    void writesOneWellFormedSvgPerTableWithEverySeriesName() throws Exception {
        List<Path> written = Charts.write(sample(), dir);
        assertEquals(List.of(dir.resolve("counter-increment.svg"), dir.resolve("service-counters.svg"),
                dir.resolve("service-full.svg")), written);
        Map<Path, List<String>> series = Map.of(
                dir.resolve("counter-increment.svg"), List.of("PerCpuCounter (ours)", "LongAdder", "AtomicLong"),
                dir.resolve("service-counters.svg"), List.of(ServiceBenchmark.label("rseq", "counters"),
                        ServiceBenchmark.label("jdk", "counters"), ServiceBenchmark.label("atomic", "counters")),
                dir.resolve("service-full.svg"), List.of(ServiceBenchmark.label("rseq", "full"),
                        ServiceBenchmark.label("jdk", "full"), ServiceBenchmark.label("atomic", "full")));
        for (Path svg : written) {
            assertTrue(Files.size(svg) > 1000, svg + " is too small to be a chart");
            Document doc = parse(svg);
            assertEquals("svg", doc.getDocumentElement().getLocalName());
            String desc = doc.getElementsByTagNameNS("*", "desc").item(0).getTextContent();
            for (String name : series.get(svg)) {
                assertTrue(desc.contains(name + ":"), svg + " lacks the series " + name + ":\n" + desc);
            }
            String title = doc.getElementsByTagNameNS("*", "title").item(0).getTextContent();
            assertFalse(title.isBlank());
        }
        // The counter figures of the sample span 23 to 752 ns/op: a log axis, and the unit with the direction.
        String counter = parse(dir.resolve("counter-increment.svg")).getElementsByTagNameNS("*", "desc").item(0).getTextContent();
        assertTrue(counter.startsWith("threads -> ns/op, lower is better (log scale)"), counter);
        String service = parse(dir.resolve("service-full.svg")).getElementsByTagNameNS("*", "desc").item(0).getTextContent();
        assertTrue(service.contains("M tasks/s, higher is better"), service);
    }

    @Test
    void linearAxisWithErrorBarsWhenTheFiguresAreClose() throws Exception {
        List<Charts.Entry> entries = List.of(
                entry("perCpuCounter", 1, 2.0, 0.1), entry("perCpuCounter", 2, 2.5, 0.2),
                entry("longAdder", 1, 3.0, 0.1), entry("longAdder", 2, 9.0, 0.3));
        var chart = Charts.chart(Charts.SPECS.get(0), entries, new LinkedHashSet<>());
        assertNotNull(chart);
        assertFalse(chart.getStyler().isYAxisLogarithmic());
        assertEquals(List.of("PerCpuCounter (ours)", "LongAdder"), List.copyOf(chart.getSeriesMap().keySet()));
        assertNotNull(chart.getSeriesMap().get("LongAdder").getExtraValues(), "error bars");
        List<Path> written = Charts.write(entries, dir);
        assertEquals(List.of(dir.resolve("counter-increment.svg")), written);
        parse(written.get(0));
    }

    @Test
    void aClassWithoutSpecGetsAGenericChart() throws Exception {
        List<Charts.Entry> entries = List.of(
                new Charts.Entry("dev.rseq4j.bench.FutureBenchmarks.ours", Map.of("n", "1"), 1,
                        new Charts.Metric(5, Double.NaN, "ns/op"), Map.of()),
                new Charts.Entry("dev.rseq4j.bench.FutureBenchmarks.ours", Map.of("n", "1"), 2,
                        new Charts.Metric(6, Double.NaN, "ns/op"), Map.of()));
        List<Path> written = Charts.write(entries, dir);
        assertEquals(List.of(dir.resolve("FutureBenchmarks.svg")), written);
        assertTrue(parse(written.get(0)).getElementsByTagNameNS("*", "desc").item(0).getTextContent().contains("ours {n=1}:"));
    }

    @Test
    void jsonReader() {
        Object v = new Charts.Json(" {\"a\" : [1, -2.5e3, \"NaN\", NaN, true, false, null], \"b\\\"\\u00e9\\n\" : {}, \"c\": []} ").parse();
        Map<?, ?> m = (Map<?, ?>) v;
        List<?> a = (List<?>) m.get("a");
        assertEquals(1.0, a.get(0));
        assertEquals(-2500.0, a.get(1));
        assertEquals("NaN", a.get(2));
        assertTrue(((Double) a.get(3)).isNaN());
        assertEquals(Boolean.TRUE, a.get(4));
        assertEquals(Boolean.FALSE, a.get(5));
        assertEquals(null, a.get(6));
        assertEquals(Map.of(), m.get("b\"\u00e9\n"));
        assertEquals(List.of(), m.get("c"));
        assertThrows(IllegalArgumentException.class, () -> new Charts.Json("[1, 2").parse());
        assertThrows(IllegalArgumentException.class, () -> new Charts.Json("{\"a\" 1}").parse());
        assertThrows(IllegalArgumentException.class, () -> new Charts.Json("[1] x").parse());
        assertThrows(IllegalArgumentException.class, () -> new Charts.Json("[nope]").parse());
    }

    @Test
    void readsJmhFields() throws Exception {
        List<Charts.Entry> entries = Charts.read(sample());
        assertEquals(15, entries.size());
        Charts.Entry first = entries.get(0);
        assertEquals("CounterBenchmarks", first.className());
        assertEquals("perCpuCounter", first.method());
        assertEquals(1, first.threads());
        assertEquals("ns/op", first.primary().unit());
        assertTrue(first.primary().score() > 0);
        assertTrue(Double.isNaN(first.primary().error()), "JMH writes \"NaN\" for one iteration");
        Charts.Entry service = entries.get(9);
        assertEquals("batch", service.method());
        assertEquals("rseq", service.param("impl"));
        assertEquals("ops/s", service.primary().unit());
    }

    private static Charts.Entry entry(String method, int threads, double score, double error) {
        return new Charts.Entry("dev.rseq4j.bench.CounterBenchmarks." + method, Map.of(), threads,
                new Charts.Metric(score, error, "ns/op"), Map.of());
    }

    /** Parses {@code svg} as XML without fetching its DTD (no network in CI). */
    private static Document parse(Path svg) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        return f.newDocumentBuilder().parse(svg.toFile());
    }
}
