/**
 * The `/monitor` slash command's text: `ack <alert_id>`, `resolve <alert_id> [note…]`,
 * `silence <rule_id> <duration>`, `status`, `link <code>` and `help`. Anything else is an error
 * that says what was expected.
 */

import * as escape from "../notify/escape";
import { normalizeLinkCode } from "./link";

/** Longest silence a chat command may create; longer windows belong in the dashboard. */
export const MAX_SILENCE_MS = 7 * 24 * 60 * 60 * 1000;

export type SlackCommand =
  | { kind: "ack"; alertId: number }
  | { kind: "resolve"; alertId: number; note: string | null }
  | { kind: "silence"; ruleId: number; durationMs: number; duration: string }
  | { kind: "status" }
  /**
   * Links the sending Slack account to the admin who created the code (normalized); null
   * for a malformed code, answered with the usage even to an unlinked sender.
   */
  | { kind: "link"; code: string | null }
  | { kind: "help" }
  | { kind: "error"; message: string };

export const HELP_TEXT = [
  "`/monitor ack <alert_id>`: acknowledge an alert",
  "`/monitor resolve <alert_id> [note]`: resolve an alert, with an optional note",
  "`/monitor silence <rule_id> <duration>`: silence a rule's alerts, e.g. 30m, 1h, 2h30m, 1d (at most 7d)",
  "`/monitor status`: firing and acknowledged alerts",
  "`/monitor link <code>`: link this Slack account to your admin (the code comes from your dashboard preferences)",
  "`/monitor help`: this list",
].join("\n");

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;

/**
 * A duration like `30m`, `1h`, `2h30m` or `1d` (units in the order d, h, m, each at most
 * once) in milliseconds; null when malformed or zero.
 */
export function parseDuration(text: string): number | null {
  const m = /^(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,6})m)?$/i.exec(text.trim());
  if (!m || (!m[1] && !m[2] && !m[3])) return null;
  const ms = Number(m[1] ?? 0) * UNIT_MS.d + Number(m[2] ?? 0) * UNIT_MS.h + Number(m[3] ?? 0) * UNIT_MS.m;
  return ms > 0 ? ms : null;
}

function positiveId(text: string | undefined): number | null {
  if (!text || !/^\d{1,15}$/.test(text)) return null;
  const id = Number(text);
  return id > 0 ? id : null;
}

const error = (message: string): SlackCommand => ({ kind: "error", message });

export const LINK_USAGE = "Usage: `/monitor link <code>` with the code from your dashboard preferences.";

export function parseCommand(text: string): SlackCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const [verb, ...rest] = words;
  switch (verb?.toLowerCase()) {
    case undefined:
    case "help":
      return { kind: "help" };
    case "status":
      return rest.length ? error("`status` takes no arguments.") : { kind: "status" };
    case "ack": {
      const alertId = positiveId(rest[0]);
      if (alertId === null || rest.length !== 1) return error("Usage: `/monitor ack <alert_id>` (a number).");
      return { kind: "ack", alertId };
    }
    case "resolve": {
      const alertId = positiveId(rest[0]);
      if (alertId === null) return error("Usage: `/monitor resolve <alert_id> [note]` (the id is a number).");
      const note = rest.slice(1).join(" ");
      return { kind: "resolve", alertId, note: note || null };
    }
    case "link":
      return { kind: "link", code: normalizeLinkCode(rest.join("")) };
    case "silence": {
      const ruleId = positiveId(rest[0]);
      if (ruleId === null || rest.length !== 2) {
        return error("Usage: `/monitor silence <rule_id> <duration>`, e.g. `/monitor silence 12 2h30m`.");
      }
      const duration = rest[1] ?? "";
      const durationMs = parseDuration(duration);
      if (durationMs === null)
        return error(`"${escape.slack(duration)}" is not a duration: use e.g. 30m, 1h, 2h30m or 1d.`);
      if (durationMs > MAX_SILENCE_MS) return error("A silence from Slack lasts at most 7 days (7d).");
      return { kind: "silence", ruleId, durationMs, duration: duration.toLowerCase() };
    }
    default:
      return error(`Unknown command "${escape.slack(verb ?? "")}". Try:\n${HELP_TEXT}`);
  }
}
