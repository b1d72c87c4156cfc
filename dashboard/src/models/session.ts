/**
 * Who is logged in. The session itself is an HttpOnly cookie the dashboard
 * never sees: it asks `GET /api/admin/me`, logs in by exchanging an admin
 * token for the cookie, and treats any 401 from the API as "log in again".
 */
import { signal } from "@preact/signals";
import { createApiClient, isUnauthorized } from "../lib/api";
import type { Me } from "../lib/types";

export type AuthState =
  | { kind: "checking" }
  | { kind: "anonymous"; notice: string | null }
  | { kind: "authenticated"; me: Me }
  | { kind: "unreachable"; message: string };

export const auth = signal<AuthState>({ kind: "checking" });

/** Set when logging out failed; the session is then still valid. */
export const logoutError = signal<string | null>(null);

export const api = createApiClient({
  onUnauthorized: () => {
    if (auth.peek().kind === "authenticated") {
      auth.value = { kind: "anonymous", notice: "Your session has ended. Log in again to continue." };
    }
  },
});

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Startup: is there a valid session cookie? */
export async function checkSession(): Promise<void> {
  auth.value = { kind: "checking" };
  try {
    auth.value = { kind: "authenticated", me: await api.get<Me>("/api/admin/me") };
  } catch (err) {
    auth.value = isUnauthorized(err)
      ? { kind: "anonymous", notice: null }
      : { kind: "unreachable", message: message(err) };
  }
}

/** Exchanges an admin token for a session cookie. Throws (with the server's message) when refused. */
export async function logIn(token: string): Promise<void> {
  const { admin } = await api.request<{ admin: Me; expires_at: string }>("/api/auth/session", {
    method: "POST",
    body: { token },
    allowUnauthorized: true,
  });
  logoutError.value = null;
  auth.value = { kind: "authenticated", me: admin };
}

/** Revokes the session on the server (which also clears the cookie), then shows the login. */
export async function logOut(): Promise<void> {
  logoutError.value = null;
  try {
    await api.request<void>("/api/auth/session", { method: "DELETE", allowUnauthorized: true });
  } catch (err) {
    logoutError.value = `Logging out failed: ${message(err)}`;
    return;
  }
  auth.value = { kind: "anonymous", notice: "You have logged out." };
}
