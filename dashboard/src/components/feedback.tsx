/** How pages tell the outcome of what the user did, and why something could not be loaded. */

/** What an action came to: announced politely when it worked, at once when it did not. */
export interface Outcome {
  ok: boolean;
  text: string;
}

export function ActionResult({ result }: { result: Outcome | null }) {
  if (!result) return null;
  return (
    <p class={result.ok ? "action-result" : "action-result error"} role={result.ok ? "status" : "alert"}>
      {result.text}
    </p>
  );
}

/** "Could not load the rules: …", with Retry when the page can try again. */
export function LoadError({ what, error, onRetry }: { what: string; error: string | null; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div class="error-box" role="alert">
      <p>
        Could not load {what}: {error}
      </p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}
