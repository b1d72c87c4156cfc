/**
 * What a rule would do, shown beside its form and list: the dry run on the latest data
 * (verdict per series and the notification as sent), and the backtest over stored history
 * as a strip per series of where it would have been pending, firing and resolving.
 */
import { type BacktestResult, bandBox } from "../lib/rules";

/** The dry run as the API sends it. */
export interface DryRun {
  would_fire: boolean;
  state: "firing" | "ok" | "no_data";
  value: number | null;
  reason: string;
  notification: {
    title: string;
    body: string;
    channels: string[];
    previews?: { channel: string; content: string; note: string | null }[];
  };
  series: {
    fingerprint: string;
    service: string;
    labels: Record<string, string>;
    state: string;
    value: number | null;
    reason: string;
  }[];
}

const VERDICT = { firing: "Would fire now", ok: "Would not fire now", no_data: "No data to judge" } as const;

const labelText = (labels: Record<string, string>) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return parts.length ? ` {${parts.join(", ")}}` : "";
};

export function DryRunResult({ run }: { run: DryRun }) {
  return (
    <div class="dry-run">
      <p class={`verdict verdict-${run.state}`} role="status">
        <strong>{VERDICT[run.state]}</strong>: {run.reason}
      </p>
      {run.series.length > 0 && (
        <ul class="series-verdicts" aria-label="Verdict per series">
          {run.series.map((s) => (
            <li key={s.fingerprint}>
              <code>
                {s.service}
                {labelText(s.labels)}
              </code>
              : {s.state === "no_data" ? "no data" : s.state} ({s.reason})
            </li>
          ))}
        </ul>
      )}
      {run.notification.previews?.length ? (
        <div class="notification-previews" aria-label="The notification on each channel">
          {run.notification.previews.map((p, i) => (
            <details class="notification-preview" key={p.channel} open={i === 0}>
              <summary>
                As {p.channel} sends it{p.note ? <span class="muted"> ({p.note})</span> : null}
              </summary>
              <pre>{p.content}</pre>
            </details>
          ))}
        </div>
      ) : (
        <figure class="notification-preview">
          <figcaption>The notification, on {run.notification.channels.join(", ")}:</figcaption>
          <pre>
            {run.notification.title}
            {"\n\n"}
            {run.notification.body}
          </pre>
        </figure>
      )}
    </div>
  );
}

const STRIP_WIDTH = 1000;
const BAND_WORDS: Record<string, string> = {
  pending: "pending",
  firing: "firing",
  resolving: "clearing",
  resolved: "resolved (cooldown)",
};

const when = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/** The backtest: its summary and one strip per series (at most 20 drawn). */
export function BacktestView({ result }: { result: BacktestResult }) {
  const from = Date.parse(result.from);
  const to = Date.parse(result.to);
  const s = result.summary;
  const drawn = result.series.filter((x) => x.bands.length > 0).slice(0, 20);
  return (
    <div class="backtest">
      <p role="status">
        Over the last {result.period}: <strong>{s.alerts}</strong> alert{s.alerts === 1 ? "" : "s"},{" "}
        <strong>{s.notifications}</strong> notification{s.notifications === 1 ? "" : "s"}
        {s.rate_limited ? ` (${s.rate_limited} held back by the hourly limit)` : ""}, firing for{" "}
        {Math.round(s.firing_seconds / 60)} min; {s.series_alerting} of {s.series_evaluated} series would have alerted.
      </p>
      {drawn.map((x) => (
        <figure class="backtest-strip" key={x.fingerprint}>
          <figcaption>
            <code>
              {x.service}
              {labelText(x.labels)}
            </code>
          </figcaption>
          <svg
            viewBox={`0 0 ${STRIP_WIDTH} 24`}
            preserveAspectRatio="none"
            role="img"
            aria-label={`${x.service}${labelText(x.labels)}: ${x.bands
              .map((b) => `${BAND_WORDS[b.state] ?? b.state} ${when(b.from)} to ${when(b.to)}`)
              .join("; ")}`}
          >
            <rect x="0" y="0" width={STRIP_WIDTH} height="24" class="band-ok" />
            {x.bands.map((b) => {
              const box = bandBox(b, from, to, STRIP_WIDTH);
              return <rect key={b.from} x={box.x} y="0" width={box.w} height="24" class={`band-${b.state}`} />;
            })}
          </svg>
          <div class="strip-axis muted">
            <span>{when(result.from)}</span>
            <span>{when(result.to)}</span>
          </div>
        </figure>
      ))}
      {drawn.length > 0 && (
        <p class="legend muted">
          <span class="swatch band-pending" /> pending <span class="swatch band-firing" /> firing{" "}
          <span class="swatch band-resolving" /> clearing <span class="swatch band-resolved" /> resolved, in cooldown
        </p>
      )}
    </div>
  );
}
