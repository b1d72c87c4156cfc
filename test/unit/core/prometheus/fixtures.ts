/** Hand-written expositions in the shape real exporters emit (test/fixtures/prometheus). */
import { readFileSync } from "node:fs";

export const FIXTURES = [
  "celery-exporter.prom",
  "flower.prom",
  "postgres-exporter.prom",
  "redis-exporter.prom",
  "node-exporter.prom",
  "python-client.prom",
  "go-client.prom",
  "federate.prom",
  "openmetrics.txt",
] as const;

export function fixture(name: (typeof FIXTURES)[number]): string {
  return readFileSync(new URL(`../../../fixtures/prometheus/${name}`, import.meta.url), "utf8");
}

/** Lines that are neither blank nor comments: each should yield exactly one sample. */
export function sampleLines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));
}
