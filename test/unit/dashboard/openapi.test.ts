import { describe, expect, it } from "vitest";
import { fieldsOf, readReference, typeText } from "../../../dashboard/src/lib/openapi";

const doc = {
  openapi: "3.1.0",
  components: {
    schemas: {
      Rule: {
        type: "object",
        required: ["rule_name"],
        properties: {
          rule_name: { type: "string", description: "Shown in every notification" },
          severity: { type: "string", enum: ["critical", "warning"] },
          service: { anyOf: [{ type: "string" }, { type: "null" }] },
          channels: { type: "array", items: { type: "string" } },
          params: { $ref: "#/components/schemas/Params" },
        },
      },
      Params: { type: "object", properties: { window_seconds: { type: "integer" } } },
    },
  },
  paths: {
    "/api/admin/monitoring/rules": {
      get: { tags: ["rules"], summary: "List rules", responses: { 200: { description: "The rules" } } },
      post: {
        tags: ["rules"],
        summary: "Create a rule",
        requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/Rule" } } } },
        responses: { 201: { description: "Created" }, 400: { description: "Invalid" } },
      },
    },
    "/api/admin/monitoring/rules/{id}": {
      delete: {
        tags: ["rules"],
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "integer" } }],
        responses: { 204: { description: "Deleted" } },
      },
    },
    "/api/ingest": { post: { tags: ["ingest"], responses: { 202: { description: "Accepted" } } } },
  },
};

describe("the API reference", () => {
  it("groups operations by tag, with parameters, body fields (required first) and responses", () => {
    const tags = readReference(doc);
    expect(tags.map((t) => t.tag)).toEqual(["ingest", "rules"]);
    const rules = tags[1]!.operations;
    expect(rules.map((o) => `${o.method} ${o.path}`)).toEqual([
      "GET /api/admin/monitoring/rules",
      "POST /api/admin/monitoring/rules",
      "DELETE /api/admin/monitoring/rules/{id}",
    ]);
    expect(rules[1]!.body.map((f) => [f.name, f.type, f.required])).toEqual([
      ["rule_name", "string", true],
      ["severity", '"critical" | "warning"', false],
      ["service", "string | null", false],
      ["channels", "array of string", false],
      ["params", "object", false],
    ]);
    expect(rules[1]!.body[0]!.description).toBe("Shown in every notification");
    expect(rules[1]!.responses).toEqual([
      { status: "201", description: "Created" },
      { status: "400", description: "Invalid" },
    ]);
    expect(rules[2]!.parameters).toEqual([{ name: "id (path)", type: "integer", required: true, description: "" }]);
  });

  it("follows references and says any for what it cannot type", () => {
    expect(fieldsOf(doc, { $ref: "#/components/schemas/Params" })).toEqual([
      { name: "window_seconds", type: "integer", required: false, description: "" },
    ]);
    const extended = {
      allOf: [
        { $ref: "#/components/schemas/Rule" },
        { type: "object", required: ["period"], properties: { period: { type: "string" } } },
      ],
    };
    expect(fieldsOf(doc, extended).map((f) => [f.name, f.required])).toEqual([
      ["rule_name", true],
      ["period", true],
      ["severity", false],
      ["service", false],
      ["channels", false],
      ["params", false],
    ]);
    expect(typeText(doc, {})).toBe("any");
    expect(typeText(doc, { $ref: "#/components/schemas/Missing" })).toBe("any");
  });
});
