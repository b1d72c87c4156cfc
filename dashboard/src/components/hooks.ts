import { useEffect, useState } from "preact/hooks";

/** The current time, refreshed every `intervalMs` (for "5 min ago" texts). */
export function useNow(intervalMs = 5_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}

/** Sets the document title while the page is shown. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} \u00b7 Edge Monitor`;
  }, [title]);
}
