/**
 * A time-series chart on uPlot. The instance is built once on mount, fed new
 * data with `setData`, sized to its container (ResizeObserver) and destroyed on
 * unmount; its colours are read from CSS custom properties at draw time, so it
 * follows dark mode. A changed set of series needs a remount (give it a `key`).
 * Screen readers get an accessible name and a visually hidden table of the latest values.
 * Optionally, a normal range is filled behind the lines (its expected value dashed), and
 * anomaly spans are shaded across the plot (both drawn before the series, so lines stay on top).
 */
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { MarkerSpan } from "../lib/anomalies";
import { formatValue } from "../lib/format";
import { type ChartBand, formatTicks, hasValues, latestValues } from "../lib/trends";

export interface TimeChartSeries {
  label: string;
  unit: string;
  /** A CSS custom property holding the colour, e.g. "--chart-1". */
  color: string;
  /** The y axis: "left" (default) or "right" (a second scale, e.g. ms beside %). */
  axis?: "left" | "right";
}

export interface TimeChartProps {
  /** The chart's accessible name. */
  title: string;
  series: readonly TimeChartSeries[];
  /** x in epoch seconds, then one column per series. */
  data: uPlot.AlignedData;
  /** Draw the series as bars (counts per bucket). */
  bars?: boolean;
  height?: number;
  /** Shown instead of the plot when no series has a value. */
  emptyText?: string;
  /** Formats the time of the latest values in the summary (epoch seconds). */
  formatTime?: (seconds: number) => string;
  /** Drawn behind the series when given; adding or removing it needs a remount (`key`). */
  band?: ChartBand | null;
  /** Shaded spans (anomalies); they may change without a remount. */
  markers?: readonly MarkerSpan[];
}

const cssVar = (name: string, fallback: string) =>
  (typeof document === "undefined" ? "" : getComputedStyle(document.documentElement).getPropertyValue(name).trim()) ||
  fallback;

const MIN_WIDTH = 200;
const text = () => cssVar("--muted", "#5b6470");
const grid = () => cssVar("--chart-grid", "rgba(128,128,128,0.2)");
const bandFill = () => cssVar("--chart-band", "rgba(31, 95, 191, 0.12)");
const markerFill = () => cssVar("--chart-anomaly", "rgba(214, 69, 65, 0.16)");
const markerExpectedFill = () => cssVar("--chart-anomaly-expected", "rgba(128, 128, 128, 0.14)");
const markerEdge = () => cssVar("--chart-anomaly-edge", "rgba(214, 69, 65, 0.7)");

/** The columns uPlot draws (the band's come first, so they are drawn behind: low, high, expected): x, the band's three columns when shown, then the series. */
function plotData(data: uPlot.AlignedData, band: ChartBand | null | undefined): uPlot.AlignedData {
  if (!band) return data;
  const [x, ...rest] = data;
  return [
    x,
    band.low as (number | null)[],
    band.high as (number | null)[],
    band.expected as (number | null)[],
    ...rest,
  ];
}

/** Shades each marker span over the plot's height, behind everything else. */
function markerPlugin(spans: () => readonly MarkerSpan[]): uPlot.Plugin {
  return {
    hooks: {
      drawClear: [
        (u) => {
          const list = spans();
          if (!list.length) return;
          const { ctx, bbox } = u;
          ctx.save();
          for (const s of list) {
            const left = u.valToPos(s.from, "x", true);
            const right = u.valToPos(s.to, "x", true);
            if (right < bbox.left || left > bbox.left + bbox.width) continue;
            const x0 = Math.max(left, bbox.left);
            // A short anomaly still shows: at least 3 px wide.
            const width = Math.max(Math.min(right, bbox.left + bbox.width) - x0, 3);
            ctx.fillStyle = s.expected ? markerExpectedFill() : markerFill();
            ctx.fillRect(x0, bbox.top, width, bbox.height);
            ctx.fillStyle = markerEdge();
            if (left >= bbox.left) ctx.fillRect(left, bbox.top, Math.max(1, devicePixelRatio), bbox.height);
          }
          ctx.restore();
        },
      ],
    },
  };
}

function buildOptions(props: TimeChartProps, width: number, spans: () => readonly MarkerSpan[]): uPlot.Options {
  const { series, bars = false, height = 220, band } = props;
  const twoAxes = series.some((s) => s.axis === "right");
  const unitOn = (side: "left" | "right") => series.find((s) => (s.axis ?? "left") === side)?.unit ?? "";
  const axis = (scale: string, side: "left" | "right"): uPlot.Axis => ({
    scale,
    side: side === "left" ? 3 : 1,
    stroke: text,
    grid: { show: side === "left", stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 },
    // Wide enough for the longest tick label ("400 ms", "1.5 s"), about 7 px a character.
    size: (_u, values) => (values?.length ? Math.max(...values.map((v) => String(v).length)) * 7 + 20 : 40),
    values: (_u, ticks) => formatTicks(ticks, unitOn(side)),
  });
  const barPaths = uPlot.paths.bars?.({ size: [0.7, 40], align: 0 });
  const bandScale = band?.axis === "right" && twoAxes ? "y2" : "y";
  const bandSeries: uPlot.Series[] = band
    ? [
        { label: "Normal low", scale: bandScale, stroke: "transparent", width: 0, points: { show: false } },
        { label: "Normal high", scale: bandScale, stroke: "transparent", width: 0, points: { show: false } },
        {
          label: "Expected",
          scale: bandScale,
          stroke: text,
          width: 1.5,
          dash: [6, 4],
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => formatValue(v, band.unit),
        },
      ]
    : [];
  return {
    width,
    height,
    plugins: [markerPlugin(spans)],
    scales: { x: { time: true }, y: { auto: true }, ...(twoAxes ? { y2: { auto: true } } : {}) },
    ...(band ? { bands: [{ series: [2, 1] as [number, number], fill: bandFill }] } : {}),
    series: [
      {},
      ...bandSeries,
      ...series.map((s): uPlot.Series => ({
        label: s.label,
        scale: s.axis === "right" ? "y2" : "y",
        stroke: () => cssVar(s.color, "#1f5fbf"),
        width: bars ? 0 : 2,
        spanGaps: false,
        points: { show: false },
        value: (_u, v) => formatValue(v, s.unit),
        ...(bars && barPaths ? { paths: barPaths, fill: () => cssVar(s.color, "#1f5fbf") } : {}),
      })),
    ],
    axes: [
      { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
      axis("y", "left"),
      ...(twoAxes ? [axis("y2", "right")] : []),
    ],
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
  };
}

export function TimeChart(props: TimeChartProps) {
  const { title, series, data, emptyText = "No data in this period.", formatTime, band, markers = [] } = props;
  const plotRef = useRef<HTMLDivElement>(null);
  const chartRef = useRef<uPlot | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;
  const markersRef = useRef<readonly MarkerSpan[]>(markers);
  markersRef.current = markers;

  // Built once, before the browser paints: a chart remounted (the band toggled, its series changed)
  // never shows a frame without its plot. Later data goes through setData, size through the observer.
  useLayoutEffect(() => {
    const el = plotRef.current;
    if (!el) return;
    const width = () => Math.max(el.clientWidth, MIN_WIDTH);
    const chart = new uPlot(
      buildOptions(propsRef.current, width(), () => markersRef.current),
      plotData(propsRef.current.data, propsRef.current.band),
      el,
    );
    chartRef.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: width(), height: chart.height }));
    resize.observe(el);
    const scheme = window.matchMedia?.("(prefers-color-scheme: dark)");
    const redraw = () => chart.redraw(false);
    scheme?.addEventListener("change", redraw);
    return () => {
      scheme?.removeEventListener("change", redraw);
      resize.disconnect();
      chart.destroy();
      chartRef.current = null;
    };
  }, []);

  useEffect(() => {
    chartRef.current?.setData(plotData(data, band));
  }, [data, band]);

  // New spans need a redraw; not on mount, where uPlot's own first draw (after its axes are laid out) shows them.
  const markerKey = markers.map((m) => `${m.from}-${m.to}-${m.expected}`).join(",");
  const drawnMarkers = useRef(markerKey);
  useEffect(() => {
    if (drawnMarkers.current === markerKey) return;
    drawnMarkers.current = markerKey;
    chartRef.current?.redraw(false);
  }, [markerKey]);

  const empty = !hasValues(data);
  const latest = latestValues(data);
  const describe = empty
    ? `${title}: ${emptyText}`
    : `${title}, latest: ${series.map((s, i) => `${s.label} ${formatValue(latest[i]?.value ?? null, s.unit)}`).join(", ")}`;

  return (
    <div
      class={empty ? "time-chart time-chart-empty" : "time-chart"}
      data-band={band ? "shown" : undefined}
      data-markers={markers.length}
    >
      <div class="time-chart-plot" ref={plotRef} role="img" aria-label={describe} />
      {empty && <p class="time-chart-empty-text muted">{emptyText}</p>}
      {/* A table ignores its own width, so the hiding wrapper clips it. */}
      <div class="visually-hidden">
        <table>
          <caption>{title}: latest values</caption>
          <thead>
            <tr>
              <th scope="col">Series</th>
              <th scope="col">Latest</th>
              <th scope="col">At</th>
            </tr>
          </thead>
          <tbody>
            {series.map((s, i) => {
              const at = latest[i]?.at ?? null;
              return (
                <tr key={s.label}>
                  <th scope="row">{s.label}</th>
                  <td>{formatValue(latest[i]?.value ?? null, s.unit)}</td>
                  <td>{at === null ? "\u2014" : formatTime ? formatTime(at) : new Date(at * 1000).toISOString()}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
