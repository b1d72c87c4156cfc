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
import { readServerCertificate } from "./tls-cert";

const USER_AGENT = "EdgeMonitor/1.0 (+probe)";
/** The TCP check after a failed fetch waits at least this long, even when the timeout is spent. */
const MIN_TCP_CHECK_MS = 250;

/**
 * Sends the request and reads the answer. Never throws: a failure is an outcome with
 * its reason ("timeout after 5000 ms", "connection refused", "DNS lookup failed", …).
 */
export async function fetchTarget(req: RequestSettings, maxBytes: number): Promise<FetchOutcome> {
  const started = Date.now();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  try {
    const headers = new Headers(req.headers);
    if (!headers.has("user-agent")) headers.set("user-agent", USER_AGENT);
    const res = await fetch(req.url, {
      method: req.method,
      headers,
      body: req.body ?? undefined,
      redirect: req.followRedirects ? "follow" : "manual",
      cache: "no-store",
      signal: controller.signal,
    });
    const { text, truncated } = await readText(res, maxBytes);
    return { kind: "response", status: res.status, body: text, truncated, latencyMs: Date.now() - started };
  } catch (err) {
    const latencyMs = Date.now() - started;
    const { name, message } = err instanceof Error ? err : { name: "", message: String(err) };
    let url: URL | null = null;
    try {
      url = new URL(req.url);
    } catch {
      return { kind: "error", reason: `invalid URL: ${req.url}`, timedOut: false, latencyMs };
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
 * Runs an HTTP probe: the request, then what its outcome means. With `readCert`, the
 * server's certificate is read on a connection of its own alongside the request, so it
 * adds nothing to the latency.
 */
export async function probeHttp(config: HttpProbeConfig, readCert = false): Promise<ProbeResult> {
  const ts = Date.now();
  const request = fetchTarget(config, MAX_BODY_BYTES);
  // A tick later: an invocation holds six connections at once, and the requests of all
  // monitors due together should get theirs before any certificate check.
  const cert = readCert
    ? new Promise((resolve) => setTimeout(resolve, 0)).then(() => readServerCertificate(config.url, config.timeoutMs))
    : null;
  const outcome = await request;
  const result: ProbeResult = { ts, outcome, verdict: evaluateHttp(config.expect, outcome) };
  return cert ? { ...result, cert: await cert } : result;
}
