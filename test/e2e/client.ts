/** The API as the browser tests call it beside the page: JSON over fetch with a bearer token. */

export interface Answer<T> {
  status: number;
  body: T;
}

/**
 * `call` answers whatever the server said; `must` throws on anything but 2xx and sends
 * `ownerToken` unless told otherwise.
 */
export function apiClient(ownerToken: string) {
  async function call<T>(method: string, url: string, token: string, body?: unknown): Promise<Answer<T>> {
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }
  async function must<T>(method: string, url: string, body?: unknown, token = ownerToken): Promise<T> {
    const res = await call<T>(method, url, token, body);
    if (res.status >= 300) throw new Error(`${method} ${url} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }
  /** An admin of `role` (its email and, unless given, its name carry `tag`) and an API token of theirs. */
  async function createUser(
    baseUrl: string,
    role: "admin" | "viewer",
    tag = "",
    name = `E2E ${tag ? `${tag} ` : ""}${role}`,
  ) {
    const user = await must<{ id: number }>("POST", `${baseUrl}/api/admin/users`, {
      email: `e2e-${tag ? `${tag}-` : ""}${role}@example.com`,
      name,
      role,
    });
    const { token } = await must<{ token: string }>("POST", `${baseUrl}/api/admin/users/${user.id}/tokens`, {
      name: "e2e",
    });
    return { id: user.id, token };
  }
  return { call, must, createUser };
}

/**
 * Whether a demo service's status badge agrees with the demo shop now. The shop has incidents on a
 * schedule of its own: while one has the service failing, the badge must say so ("down" or
 * "warning"); otherwise it must say "healthy".
 */
export async function agreesWithDemo(baseUrl: string, service: string, shown: string | null): Promise<boolean> {
  const state = (await (await fetch(`${baseUrl}/demo/state`)).json()) as {
    services: Record<string, { status: string }>;
  };
  return state.services[service]?.status === "ok" ? shown === "healthy" : shown === "down" || shown === "warning";
}
