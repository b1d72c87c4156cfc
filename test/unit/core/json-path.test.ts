import { describe, expect, it } from "vitest";
import { parseJsonPath, selectJsonPath } from "../../../worker/core/json-path";

const doc = {
  status: "ok",
  checks: { db: { ok: true, latency_ms: 4 } },
  items: [{ name: "a" }, { name: "b", tags: ["x", "y"] }],
  "weird key": { "dotted.name": 7 },
  nothing: null,
};

function at(path: string) {
  const parsed = parseJsonPath(path);
  if (!parsed.ok) throw new Error(parsed.error);
  return selectJsonPath(doc, parsed.segments);
}

describe("parseJsonPath", () => {
  it.each<[string, (string | number)[]]>([
    ["$", []],
    ["$.status", ["status"]],
    ["$.a.b[0].c", ["a", "b", 0, "c"]],
    ["$['weird key']['dotted.name']", ["weird key", "dotted.name"]],
    ['$["it\\"s"]', ['it"s']],
    ["$.items[-1]", ["items", -1]],
    ["$.latency_ms", ["latency_ms"]],
    ["$.x-y", ["x-y"]],
  ])("parses %s", (path, segments) => {
    expect(parseJsonPath(path)).toEqual({ ok: true, segments });
  });

  it.each<[string, string]>([
    ["status", 'must start with "$"'],
    ["$.", "expected a member name at position 2"],
    ["$..a", "expected a member name at position 2"],
    ["$[abc]", 'unexpected "[" at position 1'],
    ["$.a[0", 'unexpected "[" at position 3'],
    ["$.a b", 'unexpected " " at position 3'],
    ["$['open]", 'unexpected "[" at position 1'],
  ])("refuses %s", (path, error) => {
    expect(parseJsonPath(path)).toEqual({ ok: false, error });
  });
});

describe("selectJsonPath", () => {
  it("follows members and indexes", () => {
    expect(at("$.status")).toEqual({ found: true, value: "ok" });
    expect(at("$.checks.db.ok")).toEqual({ found: true, value: true });
    expect(at("$.items[1].tags[0]")).toEqual({ found: true, value: "x" });
    expect(at("$.items[-1].name")).toEqual({ found: true, value: "b" });
    expect(at("$['weird key']['dotted.name']")).toEqual({ found: true, value: 7 });
    expect(at("$.nothing")).toEqual({ found: true, value: null });
    expect(at("$")).toEqual({ found: true, value: doc });
  });

  it("reports what is not there", () => {
    expect(at("$.missing")).toEqual({ found: false });
    expect(at("$.items[2]")).toEqual({ found: false });
    expect(at("$.items[-3]")).toEqual({ found: false });
    expect(at("$.status[0]")).toEqual({ found: false });
    expect(at("$.items.name")).toEqual({ found: false });
    expect(at("$.nothing.deeper")).toEqual({ found: false });
    expect(at("$.checks.toString")).toEqual({ found: false });
  });
});
