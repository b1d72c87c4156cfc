import { describe, expect, it } from "vitest";
import {
  computeDerived,
  DERIVED_METRICS,
  DERIVED_WINDOW_MS,
  derivedInputs,
  inputKey,
  latestSum,
  nearestRank,
  type SeriesWindow,
  totalIncrease,
  windowIncrease,
} from "../../../worker/core/derived";

const NOW = Date.UTC(2026, 10, 26, 10, 0, 0);
const FROM = NOW - DERIVED_WINDOW_MS;
const s = (seconds: number) => seconds * 1000;

/** Readings of one series at `NOW - secondsAgo`. */
const series = (
  readings: [secondsAgo: number, value: number][],
  labels: Record<string, string> = {},
): SeriesWindow => ({
  labels,
  points: readings.map(([ago, value]) => ({ ts: NOW - s(ago), value })),
});

const inputs = (entries: [metric: string, service: string, windows: SeriesWindow[]][]) =>
  new Map(entries.map(([metric, service, windows]) => [inputKey(metric, service), windows]));

const valueOf = (samples: ReturnType<typeof computeDerived>, metric: string) =>
  samples.find((x) => x.metric === metric)?.value;

describe("counter windows", () => {
  it("measures from the last reading before the window through the readings inside", () => {
    const { points } = series([
      [400, 50],
      [310, 100],
      [240, 130],
      [60, 160],
    ]);
    expect(windowIncrease(points, FROM, NOW)).toBe(60);
  });

  it("counts a reset as a restart from zero", () => {
    const { points } = series([
      [320, 1000],
      [200, 1100],
      [120, 20], // the process restarted
      [10, 50],
    ]);
    expect(windowIncrease(points, FROM, NOW)).toBe(100 + 20 + 30);
  });

  it("starts from the first reading when the series began inside the window; stale series say nothing", () => {
    expect(
      windowIncrease(
        series([
          [200, 7],
          [100, 9],
        ]).points,
        FROM,
        NOW,
      ),
    ).toBe(2);
    expect(
      windowIncrease(
        series([
          [400, 7],
          [350, 9],
        ]).points,
        FROM,
        NOW,
      ),
    ).toBeNull();
  });

  it("sums the increase of every label set", () => {
    const windows = [
      series(
        [
          [300, 0],
          [0, 10],
        ],
        { status: "500" },
      ),
      series(
        [
          [300, 5],
          [0, 8],
        ],
        { status: "502" },
      ),
      series([[900, 5]], { status: "503" }),
    ];
    expect(totalIncrease(windows, FROM, NOW)).toBe(13);
    expect(totalIncrease([series([[900, 5]])], FROM, NOW)).toBeNull();
  });
});

describe("gauges and quantiles", () => {
  it("sums the latest reading of each series inside the window", () => {
    const windows = [
      series(
        [
          [200, 3],
          [20, 4],
        ],
        { pool: "a" },
      ),
      series([[100, 6]], { pool: "b" }),
      series([[600, 99]]),
    ];
    expect(latestSum(windows, FROM, NOW)).toBe(10);
    expect(latestSum([series([[600, 99]])], FROM, NOW)).toBeNull();
  });

  it("takes the nearest-rank p95", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(nearestRank(values, 0.95)).toBe(95);
    expect(nearestRank([42], 0.95)).toBe(42);
    expect(nearestRank([], 0.95)).toBeNull();
  });
});

describe("derived metrics", () => {
  it("reads each input once, on the derived metric's service", () => {
    expect(derivedInputs()).toEqual(
      expect.arrayContaining([
        { metric: "payments_failed_total", service: "ecpay" },
        { metric: "payments_total", service: "ecpay" },
        { metric: "http_errors_total", service: "api" },
        { metric: "http_requests_total", service: "api" },
        { metric: "db_pool_in_use", service: "database" },
        { metric: "db_pool_size", service: "database" },
        { metric: "api_response_ms", service: "api" },
      ]),
    );
    expect(derivedInputs()).toHaveLength(7);
    expect(DERIVED_METRICS.map((d) => `${d.metric}/${d.service}`)).toEqual([
      "payment_failure_rate/ecpay",
      "error_rate/api",
      "db_pool_utilization/database",
      "api_response_p95_ms/api",
    ]);
  });

  it("computes every metric whose inputs are present, at now, with no labels", () => {
    const latencies = Array.from({ length: 40 }, (_, i): [number, number] => [5 + i * 5, (i + 1) * 10]);
    const out = computeDerived(
      inputs([
        [
          "payments_total",
          "ecpay",
          [
            series([
              [310, 1000],
              [200, 1100],
              [120, 20],
              [10, 100],
            ]),
          ],
        ],
        [
          "payments_failed_total",
          "ecpay",
          [
            series([
              [310, 50],
              [10, 59],
            ]),
          ],
        ],
        [
          "http_requests_total",
          "api",
          [
            series([
              [300, 0],
              [0, 400],
            ]),
          ],
        ],
        [
          "http_errors_total",
          "api",
          [
            series([
              [300, 0],
              [0, 8],
            ]),
          ],
        ],
        ["db_pool_in_use", "database", [series([[30, 15]])]],
        ["db_pool_size", "database", [series([[30, 20]])]],
        ["api_response_ms", "api", [series([...latencies, [400, 99_999]])]],
      ]),
      NOW,
    );
    // payments: 100 + 20 + 80 = 200 in the window (a reset in between), 9 of them failed.
    expect(valueOf(out, "payment_failure_rate")).toBeCloseTo(4.5, 12);
    expect(valueOf(out, "error_rate")).toBe(2);
    expect(valueOf(out, "db_pool_utilization")).toBe(75);
    // 40 values 10…400 in the window (the old outlier is outside it): rank ceil(0.95 × 40) = 38.
    expect(valueOf(out, "api_response_p95_ms")).toBe(380);
    for (const sample of out) expect(sample).toMatchObject({ labels: {}, ts: NOW });
    expect(out.map((x) => x.service).sort()).toEqual(["api", "api", "database", "ecpay"]);
  });

  it("skips a metric whose inputs are missing, stale, or whose denominator did not move", () => {
    const out = computeDerived(
      inputs([
        [
          "payments_total",
          "ecpay",
          [
            series([
              [310, 1000],
              [10, 1000],
            ]),
          ],
        ],
        [
          "payments_failed_total",
          "ecpay",
          [
            series([
              [310, 5],
              [10, 5],
            ]),
          ],
        ],
        [
          "http_requests_total",
          "api",
          [
            series([
              [300, 0],
              [0, 400],
            ]),
          ],
        ],
        ["db_pool_in_use", "database", [series([[30, 15]])]],
        ["db_pool_size", "database", [series([[900, 20]])]],
      ]),
      NOW,
    );
    expect(out).toEqual([]);
    expect(computeDerived(new Map(), NOW)).toEqual([]);
  });

  it("writes 0 % when the denominator moved and nothing failed", () => {
    const out = computeDerived(
      inputs([
        [
          "payments_total",
          "ecpay",
          [
            series([
              [310, 10],
              [10, 30],
            ]),
          ],
        ],
        [
          "payments_failed_total",
          "ecpay",
          [
            series([
              [310, 2],
              [10, 2],
            ]),
          ],
        ],
      ]),
      NOW,
    );
    expect(out).toEqual([{ metric: "payment_failure_rate", service: "ecpay", labels: {}, value: 0, ts: NOW }]);
  });
});
