/**
 * The outbound side of HTTP probes and scrapes: one request with a timeout, its body read
 * up to a cap, and fetch failures named (with a TCP check where workerd's errors are vague).
 */
import { connect } from "cloudflare:sockets";
import {
  describeFetchFailure,
  evaluateHttp,
  type FetchOutcome,
  type HttpProbeConfig,
  isIpHost,
  MAX_BODY_BYTES,
  type ProbeResult,
  type RequestSettings,
} from "../core/probe";
import { type Hop, MAX_REDIRECTS, nextHop } from "../core/net/redirect";
import { checkTarget, type TargetPolicy } from "../core/net/target";
import { readServerCertificate } from "./tls-cert";

const USER_AGENT = "EdgeMonitor/1.0 (+probe)";
/** The TCP check after a failed fetch waits at least this long, even when the timeout is spent. */
const MIN_TCP_CHECK_MS = 250;

/**
 * Sends the request and reads the answer. Never throws: a failure is an outcome with
 * its reason ("timeout after 5000 ms", "connection refused", "DNS lookup failed", …).
 * The target must pass `targets` (core/net/target.ts) before anything is sent; redirects
 * are followed here, not by fetch(), so that each hop's target passes it too.
 */
export async function fetchTarget(
  req: RequestSettings,
  maxBytes: number,
  targets: TargetPolicy,
): Promise<FetchOutcome> {
  const started = Date.now();
  const failed = (reason: string): FetchOutcome => ({
    kind: "error",
    reason,
    timedOut: false,
    latencyMs: Date.now() - started,
  });
  const first = checkTarget(req.url, targets);
  if (!first.ok) return failed(`target refused: ${first.reason}`);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  const headers = { ...req.headers };
  if (!Object.keys(headers).some((name) => name.toLowerCase() === "user-agent")) headers["user-agent"] = USER_AGENT;
  let hop: Hop = { url: req.url, method: req.method, headers, body: req.body };
  try {
    for (let redirects = 0; ; redirects++) {
      const res = await fetch(hop.url, {
        method: hop.method,
        headers: hop.headers,
        body: hop.body ?? undefined,
        redirect: "manual",
        cache: "no-store",
        signal: controller.signal,
      });
      const next = req.followRedirects ? nextHop(hop, res.status, res.headers.get("location")) : null;
      if (next) {
        await res.body?.cancel().catch(() => undefined);
        if (!next.ok) return failed(next.reason);
        if (redirects >= MAX_REDIRECTS) return failed(`more than ${MAX_REDIRECTS} redirects`);
        const check = checkTarget(next.hop.url, targets);
        if (!check.ok) return failed(`redirect to ${next.hop.url} refused: ${check.reason}`);
        hop = next.hop;
        continue;
      }
      const { text, truncated } = await readText(res, maxBytes);
      return { kind: "response", status: res.status, body: text, truncated, latencyMs: Date.now() - started };
    }
  } catch (err) {
    const latencyMs = Date.now() - started;
    const { name, message } = err instanceof Error ? err : { name: "", message: String(err) };
    let url: URL | null = null;
    try {
      url = new URL(hop.url);
    } catch {
      return { kind: "error", reason: `invalid URL: ${hop.url}`, timedOut: false, latencyMs };
    }
    const vague = !timedOut && /network connection lost|internal error/i.test(message);
    const reason = describeFetchFailure({
      name,
      message,
      timedOut,
      timeoutMs: req.timeoutMs,
      https: url.protocol === "https:",
      ipHost: isIpHost(url.hostname),
      tcpReachable: vague ? await tcpReachable(url, Math.max(MIN_TCP_CHECK_MS, req.timeoutMs - latencyMs)) : null,
    });
    return { kind: "error", reason, timedOut, latencyMs };
  } finally {
    clearTimeout(timer);
  }
}

/** The body as text, stopping after `maxBytes` (the rest is not downloaded). */
async function readText(res: Response, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  if (!res.body) return { text: "", truncated: false };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { text: text + decoder.decode(), truncated: false };
    const room = maxBytes - bytes;
    if (value.byteLength > room) {
      text += decoder.decode(value.subarray(0, room));
      await reader.cancel().catch(() => undefined);
      return { text, truncated: true };
    }
    bytes += value.byteLength;
    text += decoder.decode(value, { stream: true });
  }
}

/** Whether a plain TCP connection to the URL's host and port opens within `waitMs` (null: no answer in time). */
async function tcpReachable(url: URL, waitMs: number): Promise<boolean | null> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  let socket: Socket;
  try {
    socket = connect({ hostname, port });
  } catch {
    return false;
  }
  socket.closed.catch(() => undefined);
  const deadline = AbortSignal.timeout(waitMs);
  const timeout = new Promise<null>((resolve) => deadline.addEventListener("abort", () => resolve(null)));
  try {
    return await Promise.race([
      socket.opened.then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    socket.close().catch(() => undefined);
  }
}

/**
 * Runs an HTTP probe: the request (each target checked against `targets`), then what its
 * outcome means. With `readCert`, the server's certificate is read on a connection of its
 * own alongside the request, so it adds nothing to the latency.
 */
export async function probeHttp(
  config: HttpProbeConfig,
  targets: TargetPolicy,
  readCert = false,
): Promise<ProbeResult> {
  const ts = Date.now();
  const request = fetchTarget(config, MAX_BODY_BYTES, targets);
  // A refused target gets no certificate check either: that would connect to it.
  readCert &&= checkTarget(config.url, targets).ok;
  // A tick later: an invocation holds six connections at once, and the requests of all
  // monitors due together should get theirs before any certificate check.
  const cert = readCert
    ? new Promise((resolve) => setTimeout(resolve, 0)).then(() => readServerCertificate(config.url, config.timeoutMs))
    : null;
  const outcome = await request;
  const result: ProbeResult = { ts, outcome, verdict: evaluateHttp(config.expect, outcome) };
  return cert ? { ...result, cert: await cert } : result;
}
