/**
 * The API reference from `/api/openapi.json` (OpenAPI 3.1), reduced to what a reader needs:
 * operations grouped by tag, each with its parameters, body fields and responses, and a
 * schema's fields in one line each ("name: string, required — description"). Pure.
 */

type Json = Record<string, unknown>;

export interface FieldDoc {
  name: string;
  type: string;
  required: boolean;
  description: string;
}

export interface OperationDoc {
  method: string;
  path: string;
  summary: string;
  parameters: FieldDoc[];
  body: FieldDoc[];
  responses: { status: string; description: string }[];
}

export interface TagDoc {
  tag: string;
  operations: OperationDoc[];
}

const METHODS = ["get", "post", "put", "patch", "delete"] as const;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {});
const text = (v: unknown) => (typeof v === "string" ? v : "");

/** Follows a local `$ref` ("#/components/schemas/Rule") to its schema. */
function deref(doc: Json, schema: unknown, depth = 0): Json {
  const s = obj(schema);
  const ref = text(s.$ref);
  if (!ref.startsWith("#/") || depth > 8) return s;
  let at: unknown = doc;
  for (const part of ref.slice(2).split("/")) at = obj(at)[part];
  return deref(doc, at, depth + 1);
}

/** A schema's type in a few words: "string", "integer | null", "array of string", "one of …". */
export function typeText(doc: Json, schema: unknown, depth = 0): string {
  const s = deref(doc, schema);
  if (depth > 3) return "object";
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  const variants = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(variants)) return [...new Set(variants.map((v) => typeText(doc, v, depth + 1)))].join(" | ");
  const type = s.type;
  if (Array.isArray(type)) return type.join(" | ");
  if (type === "array") return `array of ${typeText(doc, s.items, depth + 1)}`;
  if (typeof type === "string") return type;
  return s.properties ? "object" : "any";
}

/** An object schema's properties and required names, an `allOf` (an extended schema) merged. */
function objectParts(doc: Json, schema: unknown, depth = 0): { properties: Json; required: string[] } {
  const s = deref(doc, schema);
  const parts = Array.isArray(s.allOf) && depth < 4 ? s.allOf.map((p) => objectParts(doc, p, depth + 1)) : [];
  return {
    properties: Object.assign({}, ...parts.map((p) => p.properties), obj(s.properties)) as Json,
    required: [...parts.flatMap((p) => p.required), ...(Array.isArray(s.required) ? (s.required as string[]) : [])],
  };
}

/** The fields of an object schema, required ones first. */
export function fieldsOf(doc: Json, schema: unknown): FieldDoc[] {
  const s = objectParts(doc, schema);
  const required = new Set(s.required);
  return Object.entries(s.properties)
    .map(([name, p]) => ({
      name,
      type: typeText(doc, p),
      required: required.has(name),
      description: text(deref(doc, p).description),
    }))
    .sort((a, b) => Number(b.required) - Number(a.required));
}

/** Every operation of the document, grouped by its first tag, in path order. */
export function readReference(doc: Json): TagDoc[] {
  const byTag = new Map<string, OperationDoc[]>();
  for (const [path, item] of Object.entries(obj(doc.paths))) {
    for (const method of METHODS) {
      const op = obj(obj(item)[method]);
      if (!Object.keys(op).length) continue;
      const tag = Array.isArray(op.tags) && typeof op.tags[0] === "string" ? op.tags[0] : "other";
      const parameters = (Array.isArray(op.parameters) ? op.parameters : []).map((p) => {
        const param = deref(doc, p);
        return {
          name: `${text(param.name)} (${text(param.in)})`,
          type: typeText(doc, param.schema),
          required: param.required === true,
          description: text(param.description),
        };
      });
      const bodySchema = obj(obj(obj(obj(op.requestBody).content)["application/json"]).schema);
      const responses = Object.entries(obj(op.responses)).map(([status, r]) => ({
        status,
        description: text(deref(doc, r).description),
      }));
      const list = byTag.get(tag) ?? [];
      list.push({
        method: method.toUpperCase(),
        path,
        summary: text(op.summary),
        parameters,
        body: fieldsOf(doc, bodySchema),
        responses,
      });
      byTag.set(tag, list);
    }
  }
  return [...byTag.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([tag, operations]) => ({ tag, operations }));
}
