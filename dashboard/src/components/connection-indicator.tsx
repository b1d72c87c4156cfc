import { type Connection, connection } from "../models/live";

const LABELS: Record<Connection, string> = {
  offline: "Offline",
  connecting: "Connecting\u2026",
  connected: "Live",
  reconnecting: "Reconnecting\u2026",
};

const DESCRIPTIONS: Record<Connection, string> = {
  offline: "Live updates are off.",
  connecting: "Connecting to live updates.",
  connected: "Connected: updates arrive as they happen.",
  reconnecting: "Connection lost; reconnecting. Data shown may be out of date.",
};

/** The live socket's state, announced politely to screen readers when it changes. */
export function ConnectionIndicator() {
  const state = connection.value;
  return (
    <p class={`conn conn-${state}`} role="status" data-connection={state} title={DESCRIPTIONS[state]}>
      <span class="conn-dot" aria-hidden="true" />
      <span class="visually-hidden">Live updates: </span>
      {LABELS[state]}
    </p>
  );
}
