import { describe, expect, it, vi } from "vitest";
import { createApiClient, fieldErrors, HttpError, isUnauthorized } from "../../../dashboard/src/lib/api";

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function client(respond: (url: string, init: RequestInit) => Response | Promise<Response>) {
  const onUnauthorized = vi.fn<(err: HttpError) => void>();
  const calls: { url: string; init: RequestInit }[] = [];
  const api = createApiClient({
    fetch: async (input, init = {}) => {
      calls.push({ url: String(input), init });
      return respond(String(input), init);
    },
    onUnauthorized,
  });
  return { api, calls, onUnauthorized };
}

describe("createApiClient", () => {
  it("sends JSON with the session cookie and parses JSON back", async () => {
    const { api, calls } = client(() => json(200, { ok: true }));
    expect(await api.request("/api/auth/session", { method: "POST", body: { token: "t" } })).toEqual({ ok: true });
    expect(calls[0]!.init).toMatchObject({ method: "POST", credentials: "same-origin", body: '{"token":"t"}' });
    expect(calls[0]!.init.headers).toMatchObject({ "content-type": "application/json", accept: "application/json" });
  });

  it("returns undefined for 204", async () => {
    const { api } = client(() => new Response(null, { status: 204 }));
    expect(await api.request("/api/auth/session", { method: "DELETE" })).toBeUndefined();
  });

  it("reports a 401 as a lost session, unless told the 401 is expected", async () => {
    const { api, onUnauthorized } = client(() =>
      json(401, { error: "unauthorized", message: "That token is unknown, expired or revoked." }),
    );
    const err = await api.get("/api/admin/me").catch((e: unknown) => e);
    expect(isUnauthorized(err)).toBe(true);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);

    const login = await api
      .request("/api/auth/session", { method: "POST", body: { token: "x" }, allowUnauthorized: true })
      .catch((e: unknown) => e);
    expect(login).toBeInstanceOf(HttpError);
    expect((login as HttpError).message).toBe("That token is unknown, expired or revoked.");
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it("carries the server's message and code, or a generic one for non-JSON errors", async () => {
    const { api } = client((url) =>
      url === "/a"
        ? json(403, { error: "forbidden", message: "This needs the admin role; you are viewer." })
        : new Response("<h1>Bad gateway</h1>", { status: 502, statusText: "Bad Gateway" }),
    );
    await expect(api.get("/a")).rejects.toMatchObject({
      status: 403,
      code: "forbidden",
      message: "This needs the admin role; you are viewer.",
    });
    await expect(api.get("/b")).rejects.toMatchObject({
      status: 502,
      code: null,
      message: "The server answered 502 Bad Gateway.",
    });
  });

  it("turns a network failure into a readable error", async () => {
    const { api, onUnauthorized } = client(() => {
      throw new TypeError("Failed to fetch");
    });
    await expect(api.get("/api/admin/me")).rejects.toMatchObject({
      status: 0,
      message: expect.stringContaining("could not be reached"),
    });
    expect(onUnauthorized).not.toHaveBeenCalled();
  });
});

describe("fieldErrors", () => {
  it("gives a 400's reasons by field, joining two on one field, and nothing for other errors", async () => {
    const { api } = client(() =>
      json(400, {
        error: "invalid_request",
        message: "Invalid preferences.",
        details: [
          { field: "phone", reason: "must be an E.164 number such as +886912345678" },
          { field: "quiet_hours_end", reason: "required when quiet_hours_start is set" },
          { field: "quiet_hours_end", reason: "must differ from quiet_hours_start" },
          { reason: "one more thing" },
          "not a detail",
        ],
      }),
    );
    const err = await api.get("/p").catch((e: unknown) => e);
    expect(fieldErrors(err)).toEqual({
      phone: "must be an E.164 number such as +886912345678",
      quiet_hours_end: "required when quiet_hours_start is set; must differ from quiet_hours_start",
      "": "one more thing",
    });
    expect(fieldErrors(new Error("x"))).toEqual({});
  });
});
