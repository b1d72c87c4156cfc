/**
 * A time-series chart on uPlot. The instance is built once on mount, fed new
 * data with `setData`, sized to its container (ResizeObserver) and destroyed on
 * unmount; its colours are read from CSS custom properties at draw time, so it
 * follows dark mode. A changed set of series needs a remount (give it a `key`).
 * Screen readers get an accessible name and a visually hidden table of the latest values.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatValue } from "../lib/format";
import { formatTick, hasValues, latestValues } from "../lib/trends";

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
}

const cssVar = (name: string, fallback: string) =>
  (typeof document === "undefined" ? "" : getComputedStyle(document.documentElement).getPropertyValue(name).trim()) ||
  fallback;

const MIN_WIDTH = 200;
const text = () => cssVar("--muted", "#5b6470");
const grid = () => cssVar("--chart-grid", "rgba(128,128,128,0.2)");

function buildOptions(props: TimeChartProps, width: number): uPlot.Options {
  const { series, bars = false, height = 220 } = props;
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
    values: (_u, ticks) => ticks.map((t) => formatTick(t, unitOn(side))),
  });
  const barPaths = uPlot.paths.bars?.({ size: [0.7, 40], align: 0 });
  return {
    width,
    height,
    scales: { x: { time: true }, y: { auto: true }, ...(twoAxes ? { y2: { auto: true } } : {}) },
    series: [
      {},
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
  const { title, series, data, emptyText = "No data in this period.", formatTime } = props;
  const plotRef = useRef<HTMLDivElement>(null);
  const chartRef = useRef<uPlot | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;

  // Built once: later data goes through setData, size through the observer.
  useEffect(() => {
    const el = plotRef.current;
    if (!el) return;
    const width = () => Math.max(el.clientWidth, MIN_WIDTH);
    const chart = new uPlot(buildOptions(propsRef.current, width()), propsRef.current.data, el);
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
    chartRef.current?.setData(data);
  }, [data]);

  const empty = !hasValues(data);
  const latest = latestValues(data);
  const describe = empty
    ? `${title}: ${emptyText}`
    : `${title}, latest: ${series.map((s, i) => `${s.label} ${formatValue(latest[i]?.value ?? null, s.unit)}`).join(", ")}`;

  return (
    <div class={empty ? "time-chart time-chart-empty" : "time-chart"}>
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
