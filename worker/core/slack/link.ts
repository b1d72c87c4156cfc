/**
 * Linking a Slack account to an admin with proof: the dashboard issues a short one-time
 * code, and the admin sends `/monitor link <code>` from that Slack account. Slack signs
 * the command and names the member who sent it, so the member id stored is one the admin
 * controls, never one typed in (another admin's id would let the typist receive their
 * DMs, and leave the real owner "not linked").
 */

/** How long a link code may be redeemed. */
export const LINK_CODE_TTL_MS = 10 * 60_000;

/** Unambiguous characters (no 0/O, 1/I/L): read off a screen and typed into Slack. */
const ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/** Characters in a code: 31^10 ≈ 8·10^14 codes, for one admin's code living ten minutes. */
export const LINK_CODE_LENGTH = 10;

/** A code from random bytes (one per character): "ABCDE-FGHJK". */
export function linkCode(random: Uint8Array): string {
  if (random.length < LINK_CODE_LENGTH) throw new Error(`linkCode needs ${LINK_CODE_LENGTH} random bytes`);
  let code = "";
  // A byte modulo 31 makes eight characters slightly likelier (9 in 256 against 8): no real
  // help to a guesser, who also needs a signed command from the workspace.
  for (let i = 0; i < LINK_CODE_LENGTH; i++) code += ALPHABET[(random[i] ?? 0) % ALPHABET.length];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** A typed code in its canonical form (upper case, no dashes or spaces); null when it cannot be one. */
export function normalizeLinkCode(text: string): string | null {
  const code = text.toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== LINK_CODE_LENGTH) return null;
  for (const ch of code) if (!ALPHABET.includes(ch)) return null;
  return code;
}
