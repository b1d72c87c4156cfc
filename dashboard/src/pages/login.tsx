import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { useTitle } from "../components/hooks";
import { logIn } from "../models/session";

/** Paste an admin API token; the server answers with an HttpOnly session cookie. */
export function LoginPage({ notice }: { notice: string | null }) {
  useTitle("Log in");
  const token = useSignal("");
  const error = useSignal<string | null>(null);
  const pending = useSignal(false);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => input.current?.focus(), []);

  async function submit(event: Event) {
    event.preventDefault();
    const value = token.value.trim();
    if (!value) {
      error.value = "Paste an admin API token.";
      input.current?.focus();
      return;
    }
    pending.value = true;
    error.value = null;
    try {
      await logIn(value);
    } catch (err) {
      error.value = err instanceof Error ? err.message : String(err);
      pending.value = false;
      input.current?.select();
    }
  }

  return (
    <main class="login" id="main">
      <form class="login-card" onSubmit={submit} noValidate aria-labelledby="login-title">
        <p class="brand">Edge Monitor</p>
        <h1 id="login-title">Log in</h1>
        {notice && !error.value && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <label for="token">Admin API token</label>
        <input
          ref={input}
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          aria-describedby={error.value ? "token-error token-help" : "token-help"}
          aria-invalid={error.value ? true : undefined}
          value={token.value}
          onInput={(e) => (token.value = e.currentTarget.value)}
        />
        <p id="token-help" class="help">
          <code>npm start</code> prints one as <code>LOGIN_TOKEN</code>. The dashboard keeps a session cookie, never the
          token.
        </p>
        {error.value && (
          <p id="token-error" class="error" role="alert">
            {error.value}
          </p>
        )}
        <button type="submit" class="primary" disabled={pending.value}>
          {pending.value ? "Logging in\u2026" : "Log in"}
        </button>
      </form>
    </main>
  );
}
