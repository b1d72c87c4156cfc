// npm run bench:flapping: what a flapping series and a sustained breach cost in alerts and
// notification jobs, on the product as `npm start` runs it (fresh state).
// Flapping: a default rule (for_seconds 0, cooldown 15 min, resolve_for_seconds 0) gets a sample
// every second alternating above and below its threshold for 26 s (13 breach episodes); the
// target is one alert and at most two notification jobs (firing, and one resolved later).
// Sustained: a rule with for_seconds 10 gets a breaching sample every second from t0 until it
// fires; the target is its firing job enqueued at most 100 ms after t0 + 10 s.
// Exits non-zero on errors (API errors, alerts or jobs never appearing), not on a missed target.
import "./check-node.mjs";
import { api, createIngestKey, launchProduct, printTable, runBench, sleep } from "./lib/bench.mjs";

const EPISODES = 13;
const HIGH = 100;
const LOW = 0;
const THRESHOLD = 50;
const SETTLE_MS = 2_000;
const FOR_SECONDS = 10;
const FIRE_TIMEOUT_MS = 30_000;
// The queue consumer records a job when it takes its batch (max_batch_timeout 2 s in wrangler.toml).
const JOB_TIMEOUT_MS = 10_000;
const TARGET_ALERTS = 1;
const TARGET_JOBS = 2;
const TARGET_DELAY_MS = 100;

const RUN = Date.now().toString(36);
const SERVICE = "shop";
const FLAP_METRIC = `bench_flap_${RUN}`;
const SUSTAIN_METRIC = `bench_sustain_${RUN}`;
const ALERTS_PATH = "/api/admin/monitoring/alerts";

const rule = (name, metric, forSeconds) => ({
  rule_name: `bench ${name} ${RUN}`,
  metric_name: metric,
  service: SERVICE,
  kind: "threshold",
  comparison_operator: ">",
  threshold_value: THRESHOLD,
  for_seconds: forSeconds,
  severity: "warning",
  notification_channels: ["email"],
});

const alertsOf = async (base, token, ruleId) =>
  (await api(base, token, "GET", `${ALERTS_PATH}/history?rule_id=${ruleId}&limit=100`)).alerts;

/** The alert with its timeline and jobs, once a firing job is recorded (or the timeout passed). */
async function withFiringJob(base, token, alertId) {
  const deadline = Date.now() + JOB_TIMEOUT_MS;
  for (;;) {
    const alert = await api(base, token, "GET", `${ALERTS_PATH}/${alertId}`);
    if (alert.notifications.some((n) => n.event === "firing") || Date.now() >= deadline) return alert;
    await sleep(200);
  }
}

const signed = (n) => `${n >= 0 ? "+" : ""}${Math.round(n)} ms`;
const met = (ok) => (ok ? "MET" : "MISSED");

async function main() {
  const product = await launchProduct("edge-monitor-bench-flapping-");
  const { base, token } = product;
  const failures = [];
  try {
    const key = await createIngestKey(base, token, `bench flapping ${RUN}`);
    const push = (metric, value, ts) =>
      api(base, key, "POST", "/api/ingest", { samples: [{ metric, service: SERVICE, value, ts }] });
    const flapRule = await api(base, token, "POST", "/api/admin/monitoring/rules", rule("flap", FLAP_METRIC, 0));
    const sustainRule = await api(
      base,
      token,
      "POST",
      "/api/admin/monitoring/rules",
      rule("sustain", SUSTAIN_METRIC, FOR_SECONDS),
    );
    console.log(
      `rule ${flapRule.id} on ${FLAP_METRIC}: ${flapRule.comparison_operator} ${flapRule.threshold_value}, ` +
        `for ${flapRule.for_seconds} s, cooldown ${flapRule.cooldown_minutes} min, ` +
        `resolve_for ${flapRule.resolve_for_seconds} s, at most ${flapRule.max_alerts_per_hour} alerts/h`,
    );

    // 1. Flapping: a sample a second on a fixed schedule, ts = send time.
    const samples = EPISODES * 2;
    process.stdout.write(`replaying ${samples} samples, 1 s apart: ${HIGH}, ${LOW}, ${HIGH}, ${LOW} … `);
    const replayStart = Date.now();
    for (let k = 0; k < samples; k++) {
      await sleep(replayStart + k * 1000 - Date.now());
      await push(FLAP_METRIC, k % 2 === 0 ? HIGH : LOW, Date.now());
      process.stdout.write(k % 2 === 0 ? "↑" : "↓");
    }
    await sleep(SETTLE_MS);
    console.log(` done (${((Date.now() - replayStart) / 1000).toFixed(1)} s with ${SETTLE_MS / 1000} s settling)`);

    const flapAlerts = await alertsOf(base, token, flapRule.id);
    const details = [];
    for (const a of flapAlerts.toReversed()) details.push(await withFiringJob(base, token, a.id));
    const jobs = details.flatMap((d) => d.notifications);
    console.log(`\nalerts of rule ${flapRule.id}: ${flapAlerts.length}`);
    for (const d of details) {
      console.log(
        `  alert ${d.id}: ${d.status}${d.flapping ? ", flapping" : ""}, triggered ${d.triggered_at}, ` +
          `reopened ${d.reopen_count}×, ${d.breach_count} breaches counted`,
      );
      const counts = new Map();
      for (const e of d.timeline) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
      console.log(`    timeline: ${d.timeline.map((e) => e.type).join(" → ")}`);
      console.log(`    (${[...counts].map(([type, n]) => `${type}×${n}`).join(", ")})`);
      console.log(`    notification jobs: ${d.notifications.length}`);
      for (const n of d.notifications) {
        console.log(`      ${n.event} via ${n.channel} to ${n.recipient}, enqueued ${n.enqueued_at}, ${n.status}`);
      }
    }
    if (!flapAlerts.length) failures.push(`rule ${flapRule.id} raised no alert in ${EPISODES} breach episodes`);
    else if (!jobs.some((n) => n.event === "firing")) {
      failures.push(`no firing notification job was recorded for rule ${flapRule.id}'s alert`);
    }

    // 2. Sustained breach: the for_seconds clock starts when the first breaching sample is evaluated.
    console.log(
      `\nrule ${sustainRule.id} on ${SUSTAIN_METRIC}: ${sustainRule.comparison_operator} ${sustainRule.threshold_value}, ` +
        `for ${sustainRule.for_seconds} s; a breaching sample every second from t0 until it fires …`,
    );
    const t0 = Date.now();
    const sent = performance.now();
    await push(SUSTAIN_METRIC, HIGH, t0);
    const firstRequestMs = performance.now() - sent;
    let sustained = [];
    for (let k = 1; !sustained.length && Date.now() - t0 < FIRE_TIMEOUT_MS; k++) {
      await sleep(t0 + k * 1000 - Date.now());
      await push(SUSTAIN_METRIC, HIGH, Date.now());
      sustained = await alertsOf(base, token, sustainRule.id);
    }
    let delays = null;
    if (!sustained.length) {
      failures.push(
        `rule ${sustainRule.id} (for_seconds ${FOR_SECONDS}) did not fire within ${FIRE_TIMEOUT_MS / 1000} s`,
      );
    } else {
      const alert = await withFiringJob(base, token, sustained.at(-1).id);
      const due = t0 + FOR_SECONDS * 1000;
      const firing = alert.notifications.find((n) => n.event === "firing");
      console.log(
        `  alert ${alert.id}: observed ${alert.observed_at}, triggered ${alert.triggered_at}; ` +
          `timeline ${alert.timeline.map((e) => e.type).join(" → ")}`,
      );
      if (firing) console.log(`  first firing job: via ${firing.channel}, enqueued ${firing.enqueued_at}`);
      else failures.push(`no firing notification job was recorded for alert ${alert.id}`);
      delays = {
        job: firing ? Date.parse(firing.enqueued_at) - due : null,
        triggered: Date.parse(alert.triggered_at) - due,
      };
    }

    const jobText = jobs.length ? `${jobs.length} (${jobs.map((n) => n.event).join(", ")})` : "0";
    console.log();
    printTable(
      [
        ["measurement", "result", "target", ""],
        [
          `flapping: alerts from ${EPISODES} breach episodes`,
          String(flapAlerts.length),
          `= ${TARGET_ALERTS}`,
          met(flapAlerts.length === TARGET_ALERTS),
        ],
        [
          "flapping: notification jobs",
          jobText,
          `≤ ${TARGET_JOBS} (firing + one resolved later)`,
          met(jobs.length <= TARGET_JOBS),
        ],
        [
          `sustained: firing job enqueued_at − (t0 + ${FOR_SECONDS} s)`,
          delays?.job == null ? "–" : signed(delays.job),
          `≤ ${TARGET_DELAY_MS} ms`,
          delays?.job == null ? "–" : met(delays.job <= TARGET_DELAY_MS),
        ],
        [`sustained: triggered_at − (t0 + ${FOR_SECONDS} s)`, delays ? signed(delays.triggered) : "–", "(context)", ""],
        ["  the first breaching ingest request (client side)", `${firstRequestMs.toFixed(1)} ms`, "(context)", ""],
      ],
      (i) => i !== 1,
    );
    console.log(
      `t0 is when the first breaching sample was sent; the engine starts the for_seconds clock when it evaluates\n` +
        "that sample, so both delays include the ingest request's time (about the client-side time above).\n" +
        'The engine holds the "resolved" notice of a young or recently flipped alert for 60 s (a stable incident\'s\n' +
        "goes at once), and holds a flapping alert open until it is stable, so during the replay only the firing\n" +
        "job is expected.",
    );
  } finally {
    await product.stop();
  }
  return failures;
}

runBench("bench:flapping", main);
