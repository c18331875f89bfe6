package dev.rseq4j.bench;

import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;

/**
 * One SVG chart per benchmark table, drawn with XChart from JMH's JSON result file: x = threads
 * (producers for the rings, carrier threads for the service), y = the table's figure, one series per
 * implementation, ours the thick red line. A log y-axis when the figures span more than
 * {@value #LOG_SPAN}x. Headless: no display needed.
 *
 * <pre>
 *   java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.Charts rseq-bench/target/jmh-counter.json rseq-bench/target/charts
 * </pre>
 * redraws the charts of a JSON file without rerunning JMH ({@link CounterReport} calls the same code
 * after each report). The charts a file gets are those of {@link #SPECS} whose benchmarks it holds;
 * a benchmark class without a spec gets one chart of all its methods and parameters against threads
 * (add a spec to name and group them as a table does).
 */
public final class Charts {
    static {
        // CI has no display: AWT (fonts, Graphics2D) must not look for one.
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    /** Figures spanning more than this factor get a logarithmic y-axis. */
    static final double LOG_SPAN = 10;

    private Charts() {
    }

    /** A score with its 99.9% half-width (NaN when JMH had too few iterations) and unit. */
    record Metric(double score, double error, String unit) {
        Metric scaled(double factor, String newUnit) {
            return new Metric(score * factor, error * factor, newUnit);
        }
    }

    /** The fields of one JMH JSON result that the charts use. */
    record Entry(String benchmark, Map<String, String> params, int threads, Metric primary,
            Map<String, Metric> secondary) {
        /** The benchmark's class, simple name ("CounterBenchmarks"). */
        String className() {
            String c = benchmark.substring(0, benchmark.lastIndexOf('.'));
            return c.substring(c.lastIndexOf('.') + 1);
        }

        /** The benchmark method (or group) name. */
        String method() {
            return benchmark.substring(benchmark.lastIndexOf('.') + 1);
        }

        String param(String name) {
            return params.get(name);
        }
    }

    /** A series: its legend label, whether it is ours, and the results it is drawn from. */
    record Series(String label, boolean ours, Predicate<Entry> matches) {
    }

    /**
     * A chart: file name (without .svg), title, x-axis title, whether higher is better, the x value and
     * the figure of a result, and the series (ours first).
     */
    record Spec(String name, String title, String xTitle, boolean higherIsBetter, ToIntFunction<Entry> x,
            Function<Entry, Metric> y, List<Series> series) {
    }

    private static Series method(String cls, String method, String label, boolean ours) {
        return new Series(label, ours, e -> e.className().equals(cls) && e.method().equals(method));
    }

    private static Series param(String cls, String method, String param, String value, String label, boolean ours) {
        return new Series(label, ours, e -> e.className().equals(cls) && e.method().equals(method)
                && value.equals(e.param(param)));
    }

    private static final ToIntFunction<Entry> THREADS = Entry::threads;
    /** Ring groups: N producers and one consumer; JMH reports N + 1 threads. */
    private static final ToIntFunction<Entry> PRODUCERS = e -> e.threads() - 1;
    private static final Function<Entry, Metric> PRIMARY = Entry::primary;
    /** Successful offers per second, millions (the rings' figure: {@link RingBenchmarks.Offers}). */
    private static final Function<Entry, Metric> OFFERS = e -> {
        Metric m = e.secondary().get("offersMade");
        return m == null ? null : m.scaled(1e-6, "M offers/s");
    };
    /** Tasks per second, millions (the service's figure). */
    private static final Function<Entry, Metric> TASKS = e -> e.primary().scaled(1e-6, "M tasks/s");

    /** The charts of the report's tables. A new benchmark adds its charts here. */
    static final List<Spec> SPECS = specs();

    private static List<Spec> specs() {
        List<Spec> s = new ArrayList<>();
        String c = "CounterBenchmarks";
        s.add(new Spec("counter-increment", "increment() of one shared counter, time per operation per thread",
                "threads", false, THREADS, PRIMARY, List.of(
                        method(c, "perCpuCounter", "PerCpuCounter (ours)", true),
                        method(c, "longAdder", "LongAdder", false),
                        method(c, "atomicLong", "AtomicLong", false),
                        method(c, "jctoolsStriped", "JCTools striped counter", false),
                        method(c, "emptyDowncall", "empty FFM downcall (reference)", false))));
        String p = "PoolBenchmarks";
        s.add(new Spec("pools-object", "acquire + close of a 64-byte object, one shared pool, time per operation per thread",
                "threads", false, THREADS, PRIMARY, List.of(
                        method(p, "objPerCpuPool", "PerCpuObjectPool (ours)", true),
                        method(p, "objThreadLocal", "ThreadLocal stack", false),
                        method(p, "objMpmcQueue", "MpmcArrayQueue pool", false),
                        method(p, "objConcurrentLinkedQueue", "ConcurrentLinkedQueue pool", false),
                        method(p, "objNew", "new", false))));
        s.add(new Spec("pools-memory", "allocate + free of a 256-byte block, one shared pool, time per operation per thread",
                "threads", false, THREADS, PRIMARY, List.of(
                        method(p, "memPerCpuPool", "PerCpuMemoryPool (ours)", true),
                        method(p, "memMpmcQueue", "MpmcArrayQueue of slices", false),
                        method(p, "memConcurrentLinkedQueue", "ConcurrentLinkedQueue of slices", false),
                        method(p, "memArenaConfined", "Arena.ofConfined()", false),
                        method(p, "memArenaShared", "Arena.ofShared()", false),
                        method(p, "memMalloc", "malloc + free", false))));
        String r = "RingBenchmarks";
        s.add(new Spec("rings-objects", "offer of an object, one consumer draining, successful offers/s of all producers",
                "producers (+ 1 consumer)", true, PRODUCERS, OFFERS, List.of(
                        param(r, "queue", "queue", "PerCpuRingBuffer", "PerCpuRingBuffer (ours)", true),
                        param(r, "queue", "queue", "MpscArrayQueue", "JCTools MpscArrayQueue", false),
                        param(r, "queue", "queue", "MpscUnboundedXaddArrayQueue", "JCTools MpscUnboundedXaddArrayQueue", false),
                        param(r, "queue", "queue", "ArrayBlockingQueue", "ArrayBlockingQueue", false),
                        param(r, "queue", "queue", "ConcurrentLinkedQueue", "ConcurrentLinkedQueue", false))));
        for (String size : new String[] {"16", "64", "256"}) {
            String rr = "RecordRingBenchmarks";
            s.add(new Spec("rings-records-" + size, "write of a " + size
                    + "-byte record, one consumer reading, successful writes/s of all producers",
                    "producers (+ 1 consumer)", true, PRODUCERS, OFFERS, List.of(
                            param(rr, "ours", "size", size, "PerCpuRecordRingBuffer (ours)", true),
                            param(rr, "agrona", "size", size, "Agrona ManyToOneRingBuffer", false))));
        }
        String l = "LockBenchmarks";
        s.add(new Spec("locks-update", "update of a small object (count, sum, max), time per operation per thread",
                "threads", false, THREADS, PRIMARY, List.of(
                        method(l, "updatePerCpu", "PerCpu.withCurrent (ours)", true),
                        method(l, "updateStriped", "ReentrantLocks striped by thread", false),
                        method(l, "updateSynchronized", "synchronized", false),
                        method(l, "updateReentrantLock", "one ReentrantLock", false),
                        method(l, "updateSpinLockDirect", "PerCpuSpinLock, no lambda (reference)", false),
                        method(l, "countLongAdder", "LongAdder, count only (reference)", false),
                        method(l, "countAtomicLong", "AtomicLong, count only (reference)", false))));
        s.add(new Spec("locks-lock-unlock", "lock + unlock, empty section, time per operation per thread",
                "threads", false, THREADS, PRIMARY, List.of(
                        method(l, "lockUnlockPerCpuSpinLock", "PerCpuSpinLock (ours)", true),
                        method(l, "lockUnlockReentrantLock", "ReentrantLock", false))));
        String v = "ServiceBenchmark";
        ToIntFunction<Entry> carriers = e -> Integer.parseInt(e.param("carriers"));
        for (String work : new String[] {"counters", "full"}) {
            List<Series> series = new ArrayList<>();
            for (String impl : ServiceBenchmark.IMPLS) {
                series.add(new Series(ServiceBenchmark.label(impl, work), impl.equals("rseq"),
                        e -> e.className().equals(v) && impl.equals(e.param("impl")) && work.equals(e.param("work"))));
            }
            s.add(new Spec("service-" + work, String.format("whole program: %,d virtual threads per batch, per task: work + 3 counters%s",
                    ServiceBenchmark.TASKS_PER_BATCH, work.equals("full") ? " + pooled buffer + ring event" : ""),
                    "carrier threads (virtual-thread scheduler parallelism)", true, carriers, TASKS, series));
        }
        return List.copyOf(s);
    }

    /**
     * Writes the charts of the results in {@code json} into {@code dir} (created if missing): one per
     * spec with at least one result, one per benchmark class without a spec; returns their paths.
     */
    public static List<Path> write(Path json, Path dir) throws IOException {
        return write(read(json), dir);
    }

    static List<Path> write(List<Entry> entries, Path dir) throws IOException {
        Files.createDirectories(dir);
        List<Path> written = new ArrayList<>();
        Set<Entry> charted = new LinkedHashSet<>();
        for (Spec spec : SPECS) {
            XYChart chart = chart(spec, entries, charted);
            if (chart != null) {
                written.add(save(chart, dir.resolve(spec.name() + ".svg")));
            }
        }
        // Classes without a spec: every method and parameter set against threads.
        Set<String> specified = new LinkedHashSet<>();
        charted.forEach(e -> specified.add(e.className()));
        Map<String, List<Entry>> rest = new LinkedHashMap<>();
        for (Entry e : entries) {
            if (!specified.contains(e.className())) {
                rest.computeIfAbsent(e.className(), k -> new ArrayList<>()).add(e);
            }
        }
        for (Map.Entry<String, List<Entry>> cls : rest.entrySet()) {
            List<Series> series = new ArrayList<>();
            Set<String> labels = new LinkedHashSet<>();
            for (Entry e : cls.getValue()) {
                labels.add(genericLabel(e));
            }
            for (String label : labels) {
                series.add(new Series(label, false, e -> e.className().equals(cls.getKey()) && genericLabel(e).equals(label)));
            }
            String unit = cls.getValue().get(0).primary().unit();
            Spec spec = new Spec(cls.getKey(), cls.getKey(), "threads", !unit.endsWith("/op"), THREADS, PRIMARY, series);
            XYChart chart = chart(spec, cls.getValue(), new LinkedHashSet<>());
            if (chart != null) {
                written.add(save(chart, dir.resolve(cls.getKey() + ".svg")));
            }
        }
        return written;
    }

    private static String genericLabel(Entry e) {
        return e.params().isEmpty() ? e.method() : e.method() + " " + e.params();
    }

    private static final Color OURS = new Color(0xD6, 0x27, 0x28);
    private static final Color[] PEERS = {new Color(0x1F77B4), new Color(0x2CA02C), new Color(0x9467BD),
        new Color(0x8C564B), new Color(0xFF7F0E), new Color(0x17BECF), new Color(0x7F7F7F), new Color(0xBCBD22)};
    private static final Marker[] PEER_MARKERS = {SeriesMarkers.SQUARE, SeriesMarkers.DIAMOND, SeriesMarkers.TRIANGLE_UP,
        SeriesMarkers.TRIANGLE_DOWN, SeriesMarkers.CROSS, SeriesMarkers.PLUS, SeriesMarkers.OVAL, SeriesMarkers.RECTANGLE};

    /** The chart of {@code spec}, or null if no result matches; adds the results drawn to {@code charted}. */
    static XYChart chart(Spec spec, List<Entry> entries, Set<Entry> charted) {
        Map<Series, TreeMap<Integer, Metric>> points = new LinkedHashMap<>();
        String unit = null;
        for (Series s : spec.series()) {
            TreeMap<Integer, Metric> byX = new TreeMap<>();
            for (Entry e : entries) {
                if (s.matches().test(e)) {
                    Metric m = spec.y().apply(e);
                    if (m != null && Double.isFinite(m.score())) {
                        byX.put(spec.x().applyAsInt(e), m);   // a later run of the same point replaces an earlier one
                        charted.add(e);
                        unit = m.unit();
                    }
                }
            }
            if (!byX.isEmpty()) {
                points.put(s, byX);
            }
        }
        if (points.isEmpty()) {
            return null;
        }
        double min = Double.POSITIVE_INFINITY;
        double max = 0;
        boolean errors = true;
        for (TreeMap<Integer, Metric> byX : points.values()) {
            for (Metric m : byX.values()) {
                min = Math.min(min, m.score());
                max = Math.max(max, m.score());
                errors &= Double.isFinite(m.error());
            }
        }
        boolean log = min > 0 && max / min > LOG_SPAN;
        XYChart chart = new XYChartBuilder().width(1000).height(560).title(spec.title())
                .xAxisTitle(spec.xTitle())
                .yAxisTitle(unit + (spec.higherIsBetter() ? ", higher is better" : ", lower is better")
                        + (log ? " (log scale)" : ""))
                .build();
        Styler st = chart.getStyler();
        st.setLegendPosition(Styler.LegendPosition.OutsideS);
        st.setChartTitleFont(st.getChartTitleFont().deriveFont(14f));
        chart.getStyler().setYAxisLogarithmic(log);
        // Ticks between the decades help over a few decades and crowd the labels over more.
        chart.getStyler().setYAxisLogarithmicDecadeOnly(max / min > 1000);
        chart.getStyler().setXAxisDecimalPattern("0");
        chart.getStyler().setYAxisDecimalPattern(max < 10 ? "0.##" : "#,##0.#");
        chart.getStyler().setPlotGridVerticalLinesVisible(false);
        chart.getStyler().setErrorBarsColorSeriesColor(true);
        int peer = 0;
        for (Map.Entry<Series, TreeMap<Integer, Metric>> p : points.entrySet()) {
            Series s = p.getKey();
            TreeMap<Integer, Metric> byX = p.getValue();
            double[] x = byX.keySet().stream().mapToDouble(Integer::doubleValue).toArray();
            double[] y = byX.values().stream().mapToDouble(Metric::score).toArray();
            // Error bars on a linear axis only: on a log axis a bar can reach zero or below.
            double[] err = errors && !log ? byX.values().stream().mapToDouble(Metric::error).toArray() : null;
            XYSeries xy = chart.addSeries(s.label(), x, y, err);
            if (s.ours()) {
                xy.setLineColor(OURS);
                xy.setMarkerColor(OURS);
                xy.setLineStyle(new BasicStroke(4f));
                xy.setMarker(SeriesMarkers.CIRCLE);
            } else {
                Color c = PEERS[peer % PEERS.length];
                xy.setLineColor(c);
                xy.setMarkerColor(c);
                xy.setLineStyle(new BasicStroke(1.5f));
                xy.setMarker(PEER_MARKERS[peer % PEER_MARKERS.length]);
                peer++;
            }
        }
        return chart;
    }

    /**
     * Writes {@code chart} as SVG, with a {@code <title>} and a {@code <desc>} listing every series and its
     * points: XChart draws all text as outlines, so without them the file holds no readable text for
     * screen readers, search or tests. Coordinates are rounded to 2 decimals (a third of the size).
     */
    private static Path save(XYChart chart, Path file) throws IOException {
        ByteArrayOutputStream svg = new ByteArrayOutputStream();
        VectorGraphicsEncoder.saveVectorGraphic(chart, svg, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        String text = svg.toString(StandardCharsets.UTF_8).replaceAll("(\\d\\.\\d\\d)\\d+", "$1");
        StringBuilder desc = new StringBuilder();
        desc.append(chart.getXAxisTitle()).append(" -> ").append(chart.getYAxisTitle()).append('\n');
        for (XYSeries s : chart.getSeriesMap().values()) {
            desc.append(s.getName()).append(':');
            double[] x = s.getXData();
            double[] y = s.getYData();
            for (int i = 0; i < x.length; i++) {
                desc.append(String.format(Locale.ROOT, " %.0f=%.4g", x[i], y[i]));
            }
            desc.append('\n');
        }
        int start = text.indexOf("<svg");
        int end = start < 0 ? -1 : text.indexOf('>', start);
        if (end < 0) {
            throw new IOException("XChart wrote no <svg> element");
        }
        text = text.substring(0, end + 1) + "\n  <title>" + xml(chart.getTitle()) + "</title>\n  <desc>"
                + xml(desc.toString()) + "</desc>" + text.substring(end + 1);
        Files.writeString(file, text);
        return file;
    }

    private static String xml(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    /** The results of a JMH JSON result file ({@code -rf json}). */
    static List<Entry> read(Path json) throws IOException {
        return entries(new Json(Files.readString(json)).parse());
    }

    @SuppressWarnings("unchecked")
    static List<Entry> entries(Object parsed) {
        List<Entry> out = new ArrayList<>();
        for (Object o : (List<Object>) parsed) {
            Map<String, Object> r = (Map<String, Object>) o;
            Map<String, String> params = new LinkedHashMap<>();
            Object ps = r.get("params");
            if (ps != null) {
                ((Map<String, Object>) ps).forEach((k, v) -> params.put(k, String.valueOf(v)));
            }
            Map<String, Metric> secondary = new LinkedHashMap<>();
            Object sec = r.get("secondaryMetrics");
            if (sec != null) {
                ((Map<String, Object>) sec).forEach((k, v) -> secondary.put(k, metric(v)));
            }
            out.add(new Entry((String) r.get("benchmark"), params, (int) number(r.get("threads")),
                    metric(r.get("primaryMetric")), secondary));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Metric metric(Object o) {
        Map<String, Object> m = (Map<String, Object>) o;
        return new Metric(number(m.get("score")), number(m.get("scoreError")), (String) m.get("scoreUnit"));
    }

    /** A JSON number, or JMH's "NaN" / "Infinity" (written as strings). */
    private static double number(Object o) {
        if (o instanceof Double d) {
            return d;
        }
        if (o instanceof String s) {
            return Double.parseDouble(s);
        }
        return Double.NaN;
    }

    /**
     * A small JSON reader, enough for JMH's result files (objects, arrays, strings, numbers, true, false,
     * null; also bare NaN and Infinity): no JSON library is on the benchmarks' class path, and this
     * fixed format does not justify one. Objects become LinkedHashMaps, arrays ArrayLists, numbers Doubles.
     */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) {
            this.s = s;
        }

        Object parse() {
            Object v = value();
            space();
            if (i != s.length()) {
                throw error("trailing characters");
            }
            return v;
        }

        private Object value() {
            space();
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{' -> {
                    i++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    if (peek('}')) {
                        return m;
                    }
                    do {
                        space();
                        String k = string();
                        expect(':');
                        m.put(k, value());
                    } while (peek(','));
                    expect('}');
                    return m;
                }
                case '[' -> {
                    i++;
                    List<Object> a = new ArrayList<>();
                    if (peek(']')) {
                        return a;
                    }
                    do {
                        a.add(value());
                    } while (peek(','));
                    expect(']');
                    return a;
                }
                case '"' -> {
                    return string();
                }
                default -> {
                    int start = i;
                    while (i < s.length() && "{}[],: \t\r\n\"".indexOf(s.charAt(i)) < 0) {
                        i++;
                    }
                    String word = s.substring(start, i);
                    return switch (word) {
                        case "true" -> Boolean.TRUE;
                        case "false" -> Boolean.FALSE;
                        case "null" -> null;
                        case "" -> throw error("value expected");
                        default -> {
                            try {
                                yield Double.parseDouble(word);   // also NaN, Infinity, -Infinity
                            } catch (NumberFormatException e) {
                                throw error("bad value '" + word + "'");
                            }
                        }
                    };
                }
            }
        }

        private String string() {
            if (i >= s.length() || s.charAt(i) != '"') {
                throw error("string expected");
            }
            i++;
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> b.append(e);   // \" \\ \/
                }
            }
        }

        private void space() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        /** Skips white space, then consumes {@code c} if it is next. */
        private boolean peek(char c) {
            space();
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        private void expect(char c) {
            if (!peek(c)) {
                throw error("'" + c + "' expected");
            }
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("JSON: " + what + " at offset " + i);
        }
    }

    /** {@code Charts <jmh-result.json> [output directory, default rseq-bench/target/charts]}. */
    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: java -cp rseq-bench/target/benchmarks.jar dev.rseq4j.bench.Charts"
                    + " <jmh-result.json> [output directory, default rseq-bench/target/charts]");
            System.exit(2);
        }
        Path dir = Path.of(args.length > 1 ? args[1] : "rseq-bench/target/charts");
        for (Path p : write(Path.of(args[0]), dir)) {
            System.out.println(p);
        }
    }
}
