/**
 * Analytics Engine data points for samples, within its write limits (20 blobs, 20 doubles,
 * one index of at most 96 bytes, 16 KB of blobs, at most 250 points per invocation).
 * Layout: index1 = series id; blob1 metric, blob2 service, blob3 labels JSON, blob4 message;
 * double1 value (the mean when aggregated), double2 count, double3 sum, double4 min,
 * double5 max, double6 observed at (epoch ms; the bucket start when aggregated),
 * double7 bucket size in seconds (0 for a single sample).
 */
import { type Sample, seriesKey } from "./series";

export const AE_MAX_POINTS = 250;
export const AE_MAX_INDEX_BYTES = 96;
export const AE_MAX_BLOB_BYTES = 16_000;
const MAX_MESSAGE_BYTES = 1_024;

/** Structurally an `AnalyticsEngineDataPoint`. */
export interface DataPoint {
  indexes: [string];
  blobs: string[];
  doubles: number[];
}

/** UTF-8 length of a string. */
export function utf8Length(text: string): number {
  let n = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/** The longest prefix of `text` whose UTF-8 length is at most `bytes` (never splits a character). */
export function truncateUtf8(text: string, bytes: number): string {
  if (text.length * 3 <= bytes) return text;
  let n = 0;
  let end = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n + size > bytes) break;
    n += size;
    end += ch.length;
  }
  return text.slice(0, end);
}

/** 53-bit string hash (cyrb53) as 14 hex digits. */
export function hash53(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}

/** The AE index of a series: its key when it fits in 96 bytes, else a readable prefix and a hash. */
export function seriesIndexKey(key: string): string {
  if (utf8Length(key) <= AE_MAX_INDEX_BYTES) return key;
  const hash = hash53(key);
  return `${truncateUtf8(key, AE_MAX_INDEX_BYTES - hash.length - 1)}#${hash}`;
}

interface Aggregate {
  key: string;
  last: Sample;
  bucket: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

function blobsOf(s: Sample): string[] {
  const message = truncateUtf8(s.message ?? "", MAX_MESSAGE_BYTES);
  const fixed = utf8Length(s.metric) + utf8Length(s.service) + utf8Length(message);
  const labels = truncateUtf8(JSON.stringify(s.labels), Math.max(AE_MAX_BLOB_BYTES - fixed, 0));
  return [s.metric, s.service, labels, message];
}

function point(a: Aggregate, resolution: number): DataPoint {
  const single = resolution === 0;
  return {
    indexes: [seriesIndexKey(a.key)],
    blobs: blobsOf(a.last),
    doubles: [
      single ? a.last.value : a.sum / a.count,
      a.count,
      a.sum,
      a.min,
      a.max,
      single ? a.last.ts : a.bucket,
      resolution,
    ],
  };
}

/** Bucket sizes (seconds) tried in turn until the points fit the limit. */
const LEVELS = [1, 60, 3600, 86_400];

function aggregate(samples: readonly Sample[], keys: readonly string[], seconds: number): Aggregate[] {
  const size = seconds * 1000;
  const groups = new Map<string, Aggregate>();
  samples.forEach((s, i) => {
    const key = keys[i] ?? "";
    const bucket = Math.floor(s.ts / size) * size;
    const id = `${bucket}\u0000${key}`;
    const g = groups.get(id);
    if (!g) {
      groups.set(id, { key, last: s, bucket, count: 1, sum: s.value, min: s.value, max: s.value });
      return;
    }
    g.count += 1;
    g.sum += s.value;
    if (s.value < g.min) g.min = s.value;
    if (s.value > g.max) g.max = s.value;
    if (s.ts >= g.last.ts) g.last = s;
  });
  return [...groups.values()];
}

/**
 * Data points for one invocation's samples: one per sample when they fit in
 * `limit`, else aggregated per (series, second), then minute, hour or day,
 * whichever is the finest that fits, so count, sum, min and max survive.
 * More distinct series than `limit` cannot fit: only the first `limit` get a point.
 */
export function planDataPoints(samples: readonly Sample[], limit = AE_MAX_POINTS): DataPoint[] {
  const keys = samples.map((s) => seriesKey(s.metric, s.service, s.labels));
  if (samples.length <= limit) {
    return samples.map((s, i) =>
      point({ key: keys[i] ?? "", last: s, bucket: s.ts, count: 1, sum: s.value, min: s.value, max: s.value }, 0),
    );
  }
  let groups: Aggregate[] = [];
  let seconds = 0;
  for (const level of LEVELS) {
    seconds = level;
    groups = aggregate(samples, keys, level);
    if (groups.length <= limit) break;
  }
  return groups.slice(0, limit).map((g) => point(g, seconds));
}
