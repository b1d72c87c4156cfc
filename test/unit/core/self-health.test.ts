import { describe, expect, it } from "vitest";
import { CRON_SILENT_MS, judgeSelf } from "../../../worker/core/self-health";

const now = 1_800_000_000_000;
const fine = { now, d1Error: null, sentinelError: null, cronAt: now - 30_000 };

describe("judgeSelf", () => {
  it("is healthy when D1 and the sentinel answer and the cron ran lately, or was never seen", () => {
    expect(judgeSelf(fine)).toEqual({ ok: true, problems: [] });
    expect(judgeSelf({ ...fine, cronAt: null })).toEqual({ ok: true, problems: [] });
    expect(judgeSelf({ ...fine, cronAt: now - CRON_SILENT_MS }).ok).toBe(true);
  });

  it("says what is wrong, each on its own", () => {
    expect(judgeSelf({ ...fine, cronAt: now - CRON_SILENT_MS - 1 }).problems).toEqual([
      "Cron Triggers have not run for 2 minutes; probes of 60 s and slower, heartbeat checks and the outbox sweep are stopped",
    ]);
    const all = judgeSelf({ now, d1Error: "connection reset", sentinelError: "no answer", cronAt: now - 10 * 60_000 });
    expect(all.ok).toBe(false);
    expect(all.problems).toHaveLength(3);
    expect(all.problems[0]).toBe("D1 unreachable: connection reset");
  });
});
