"""The Edge Monitor client: buffers samples in memory and sends them from one
background thread, so recording a metric never blocks and never raises.

Samples go to ``POST {url}/api/ingest`` in batches (at most 1000 samples and
1 MiB each). Heartbeat monitors are kept with ``PUT {url}/api/integration/
heartbeats/{name}`` and pinged at the URL the server hands out.
"""

from __future__ import annotations

import atexit
import collections
import datetime
import email.utils
import json
import logging
import math
import os
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Tuple, Union

__all__ = ["Client", "get_client", "Response", "Transport", "clean_label_value"]

logger = logging.getLogger("edge_monitor")

#: Limits of the ingest API.
MAX_SAMPLES_PER_REQUEST = 1000
MAX_BODY_BYTES = 1024 * 1024
MAX_LABELS = 20
MAX_METRIC_LENGTH = 200
MAX_SERVICE_LENGTH = 100
MAX_LABEL_NAME_LENGTH = 100
MAX_LABEL_VALUE_LENGTH = 500
MAX_HEARTBEAT_NAME_LENGTH = 100
#: Pings and other background jobs kept while the server cannot be reached.
MAX_PENDING_PINGS = 10_000
#: How far ahead of the clock 1 ms steps may push a busy series' stamps.
MAX_AHEAD_MS = 60_000
#: How much of a failure reason a ping carries (the server keeps 200 characters).
MAX_REASON_CHARS = 1000

_METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_SERVICE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_PING_KINDS = ("start", "success", "fail")

#: A response as a transport returns it: status, headers, body.
Response = Tuple[int, Mapping[str, str], bytes]
#: ``transport(method, url, body, headers, timeout) -> Response``; raises OSError
#: (or any exception) when no response arrived.
Transport = Callable[[str, str, Optional[bytes], Dict[str, str], float], Response]


class _Retry(Exception):
    """Internal: a request should be tried again after ``delay`` seconds (None: backoff)."""

    def __init__(self, delay: Optional[float]):
        super().__init__(delay)
        self.delay = delay


def _default_instance() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _js_length(text: str) -> int:
    """Length as the server counts it (UTF-16 code units)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def clean_label_value(value: Any, limit: int = MAX_LABEL_VALUE_LENGTH) -> str:
    """A label value the server accepts: a printable string of at most ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    if len(text) > limit or _js_length(text) > limit:
        text = text[:limit]
        while _js_length(text) > limit:
            text = text[:-1]
    return text


def _retry_after_seconds(headers: Mapping[str, str]) -> Optional[float]:
    raw = None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value
            break
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def _urllib_transport(opener: urllib.request.OpenerDirector) -> Transport:
    def send(method: str, url: str, body: Optional[bytes], headers: Dict[str, str], timeout: float) -> Response:
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as err:
            try:
                data = err.read()
            except Exception:
                data = b""
            finally:
                err.close()
            return err.code, dict(err.headers.items()) if err.headers else {}, data

    return send


class _RateLimitedLog:
    """Logs each kind of problem at most once per ``interval`` seconds."""

    def __init__(self, interval: float = 60.0):
        self.interval = interval
        self._last: Dict[str, float] = {}

    def __call__(self, kind: str, level: int, msg: str, *args: Any) -> None:
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            return
        self._last[kind] = now
        logger.log(level, msg, *args)


# Every live client, so that a fork can reset them in the child.
_CLIENTS: "weakref.WeakSet[Client]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _shared_lock
    _shared_lock = threading.Lock()
    for client in list(_CLIENTS):
        try:
            client._reset_after_fork()
        except Exception:  # pragma: no cover - never break a fork
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Client:
    """Sends samples and heartbeat pings to Edge Monitor from a background thread.

    Recording (``gauge``, ``increment``, ``observe``, ``ping``) is a short append under a
    lock: it never waits for the network and never raises. Every sample carries an
    ``instance`` label (``hostname:pid`` unless ``instance`` says otherwise; ``False``
    leaves it out) so that the counters of different processes are separate series.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        service_default: Optional[str] = None,
        flush_interval: float = 2.0,
        max_batch: int = MAX_SAMPLES_PER_REQUEST,
        max_buffer: int = 50_000,
        timeout: float = 10.0,
        instance: Union[str, bool, None] = None,
        opener: Optional[urllib.request.OpenerDirector] = None,
        transport: Optional[Transport] = None,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        heartbeat_timeout: float = 5.0,
        exit_timeout: float = 5.0,
        flush_at_exit: bool = True,
    ):
        if not url or not key:
            raise ValueError("Edge Monitor needs a url and a key")
        self.url = str(url).rstrip("/")
        self.key = str(key)
        self.service_default = service_default
        self.flush_interval = max(0.01, float(flush_interval))
        self.max_batch = max(1, min(int(max_batch), MAX_SAMPLES_PER_REQUEST))
        self.max_buffer = max(1, int(max_buffer))
        self.timeout = float(timeout)
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.exit_timeout = float(exit_timeout)
        self._instance_setting = instance
        if transport is None:
            transport = _urllib_transport(opener or urllib.request.build_opener())
        self._transport = transport

        #: Samples accepted by the server.
        self.sent = 0
        #: Samples (and pings) given up on; ``dropped_by_reason`` says why.
        self.dropped = 0
        self.dropped_by_reason: Dict[str, int] = collections.defaultdict(int)
        #: Requests tried again after a failure.
        self.retries = 0
        #: Heartbeat pings the server answered.
        self.pings_sent = 0

        self._log = _RateLimitedLog()
        self._heartbeats: Dict[str, Tuple[str, str]] = {}
        self._closed = False
        self._init_process_state()
        _CLIENTS.add(self)
        if flush_at_exit:
            atexit.register(_flush_at_exit, weakref.ref(self))

    # ----------------------------------------------------------------- state

    def _init_process_state(self) -> None:
        """Everything that belongs to one process: reset in a forked child."""
        self._pid = os.getpid()
        setting = self._instance_setting
        if setting is None or setting is True:
            self.instance: Optional[str] = _default_instance()
        elif setting is False or setting == "":
            self.instance = None
        else:
            self.instance = clean_label_value(setting)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._hb_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._buf: Deque[dict] = collections.deque()
        self._jobs: Deque[tuple] = collections.deque()
        self._inflight = 0
        self._counters: Dict[tuple, float] = {}
        self._last_ts: Dict[tuple, int] = {}
        self._flush_requested = False
        self._next_send_at = 0.0
        self._ingest_retry_at = 0.0
        self._ingest_attempts = 0
        self._jobs_retry_at = 0.0
        self._jobs_attempts = 0
        self._thread: Optional[threading.Thread] = None
        self._last_prune = time.monotonic()

    def _reset_after_fork(self) -> None:
        # The parent's thread does not exist here, its locks may be held by it, and its
        # buffered samples are the parent's to send.
        self._init_process_state()

    def _check_pid(self) -> None:
        if self._pid != os.getpid():
            self._reset_after_fork()

    def _drop(self, reason: str, n: int = 1) -> None:
        with self._stats_lock:
            self.dropped += n
            self.dropped_by_reason[reason] += n

    # ------------------------------------------------------------- recording

    def gauge(
        self,
        metric: str,
        value: float,
        *,
        service: Optional[str] = None,
        labels: Optional[Mapping[str, Any]] = None,
        ts: Union[int, float, datetime.datetime, None] = None,
    ) -> None:
        """Records ``value`` for the series now (or at ``ts``, epoch milliseconds)."""
        self._record(metric, value, service, labels, ts, None)

    #: Records one per-event value (a duration, a size): the same as ``gauge``.
    observe = gauge

    def increment(
        self,
        metric: str,
        by: float = 1,
        *,
        service: Optional[str] = None,
        labels: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Adds ``by`` to the series' cumulative total and records the total.

        ``by=0`` records the unchanged total, which keeps a ratio of two counters
        supplied with data. A series' first sample in this process is preceded by a 0,
        so that the server counts its first increase too.
        """
        self._record(metric, by, service, labels, None, by)

    def _record(
        self,
        metric: str,
        value: Any,
        service: Optional[str],
        labels: Optional[Mapping[str, Any]],
        ts: Any,
        counter_by: Any,
    ) -> None:
        try:
            self._check_pid()
            if self._closed:
                self._drop("closed")
                return
            service = service or self.service_default
            problem = self._problem(metric, service, value)
            clean = None if problem else self._labels(labels)
            if clean is None and not problem:
                problem = "labels"
            if problem:
                self._drop("invalid")
                self._log(
                    "invalid:" + problem,
                    logging.WARNING,
                    "Edge Monitor: sample of %r on %r not recorded: invalid %s",
                    metric,
                    service,
                    problem,
                )
                return
            stamp = self._stamp(ts)
            key = (metric, service, tuple(sorted(clean.items())))
            with self._cond:
                if counter_by is not None:
                    previous = self._counters.get(key)
                    total = (previous or 0) + float(counter_by)
                    if total.is_integer():
                        total = int(total)
                    self._counters[key] = total
                    if previous is None and total != 0:
                        stamp = self._append_locked(key, metric, service, clean, 0, stamp) + 1
                    value = total
                elif isinstance(value, bool):
                    value = int(value)
                self._append_locked(key, metric, service, clean, value, stamp)
                wake = len(self._buf) >= self.max_batch
                if wake:
                    self._cond.notify_all()
            self._ensure_thread()
        except Exception:
            logger.exception("Edge Monitor: could not record a sample of %r", metric)

    def _append_locked(self, key: tuple, metric: str, service: str, labels: dict, value: Any, stamp: int) -> int:
        last = self._last_ts.get(key)
        if last is not None and stamp <= last:
            stamp = last + 1
            if stamp - time.time() * 1000 > MAX_AHEAD_MS:
                # Over 1000 samples a second in one series: their stamps would run ahead of
                # the clock until the server refused whole batches; these are left out.
                self._drop("too_fast")
                self._log("too_fast", logging.WARNING, "Edge Monitor: %s: over 1000 samples/s in one series", metric)
                return stamp
        self._last_ts[key] = stamp
        if not self._buf:
            # A sample waits at most flush_interval (less when a batch fills first).
            self._next_send_at = time.monotonic() + self.flush_interval
        elif len(self._buf) >= self.max_buffer:
            self._buf.popleft()
            self._drop("buffer_full")
            self._log("buffer_full", logging.WARNING, "Edge Monitor: buffer full, dropping the oldest samples")
        self._buf.append({"metric": metric, "service": service, "value": value, "ts": stamp, "labels": labels})
        return stamp

    @staticmethod
    def _stamp(ts: Any) -> int:
        if ts is None:
            return int(time.time() * 1000)
        if isinstance(ts, datetime.datetime):
            if ts.tzinfo is None:
                ts = ts.astimezone()
            return int(ts.timestamp() * 1000)
        return int(ts)

    @staticmethod
    def _problem(metric: Any, service: Any, value: Any) -> Optional[str]:
        if not isinstance(metric, str) or len(metric) > MAX_METRIC_LENGTH or not _METRIC_RE.match(metric):
            return "metric name"
        if not isinstance(service, str) or len(service) > MAX_SERVICE_LENGTH or not _SERVICE_RE.match(service):
            return "service"
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return "value"
        return None

    def _labels(self, labels: Optional[Mapping[str, Any]]) -> Optional[Dict[str, str]]:
        clean: Dict[str, str] = {}
        if self.instance is not None:
            clean["instance"] = self.instance
        if labels:
            for name, value in labels.items():
                if (
                    not isinstance(name, str)
                    or len(name) > MAX_LABEL_NAME_LENGTH
                    or not _LABEL_RE.match(name)
                    or name.startswith("__")
                ):
                    return None
                clean[name] = clean_label_value("" if value is None else value)
        if len(clean) > MAX_LABELS:
            return None
        return clean

    # ------------------------------------------------------------ heartbeats

    def ensure_heartbeat(
        self,
        name: str,
        *,
        service: Optional[str] = None,
        period_seconds: Optional[int] = None,
        cron: Optional[str] = None,
        timezone: Optional[str] = None,
        grace_seconds: Optional[int] = None,
    ) -> Optional[str]:
        """Creates (or updates) the heartbeat monitor ``name`` this key owns; returns its ping URL.

        Synchronous, with a short timeout. Returns None (and logs) when the server
        cannot be reached or refuses; the next call tries again. Answers are cached per
        process, so calling it again with the same schedule costs nothing.
        """
        try:
            self._check_pid()
            name = str(name).strip()[:MAX_HEARTBEAT_NAME_LENGTH].strip()
            service = service or self.service_default
            if not name or not isinstance(service, str) or not _SERVICE_RE.match(service):
                logger.warning("Edge Monitor: heartbeat %r needs a name and a valid service", name)
                return None
            body: Dict[str, Any] = {"service": service}
            if period_seconds is not None:
                body["period_seconds"] = int(period_seconds)
            elif cron:
                body["cron"] = str(cron).strip()
                body["timezone"] = timezone or "UTC"
            else:
                logger.warning("Edge Monitor: heartbeat %r needs period_seconds or cron", name)
                return None
            if grace_seconds is not None:
                body["grace_seconds"] = int(grace_seconds)
            encoded = json.dumps(body, sort_keys=True)
            with self._hb_lock:
                cached = self._heartbeats.get(name)
            if cached and cached[0] == encoded:
                return cached[1]
            url = f"{self.url}/api/integration/heartbeats/{urllib.parse.quote(name, safe='')}"
            headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
            try:
                status, _, data = self._transport("PUT", url, encoded.encode(), headers, self.heartbeat_timeout)
            except Exception as err:
                self._log(
                    "heartbeat:" + name,
                    logging.WARNING,
                    "Edge Monitor: could not register heartbeat %r: %s",
                    name,
                    err,
                )
                return None
            if status in (200, 201):
                try:
                    ping_url = str(json.loads(data.decode("utf-8"))["heartbeat_url"])
                except Exception:
                    logger.warning("Edge Monitor: heartbeat %r: the answer has no heartbeat_url", name)
                    return None
                with self._hb_lock:
                    self._heartbeats[name] = (encoded, ping_url)
                return ping_url
            level = logging.ERROR if status in (400, 401, 403, 409) else logging.WARNING
            self._log(
                f"heartbeat:{name}:{status}",
                level,
                "Edge Monitor: heartbeat %r not registered: HTTP %s %s",
                name,
                status,
                _short(data),
            )
            return None
        except Exception:
            logger.exception("Edge Monitor: could not register heartbeat %r", name)
            return None

    def forget_heartbeat(self, name: str) -> None:
        """Drops the cached ping URL of ``name``: the next ``ensure_heartbeat`` asks the server."""
        with self._hb_lock:
            self._heartbeats.pop(str(name).strip()[:MAX_HEARTBEAT_NAME_LENGTH].strip(), None)

    def ping(
        self,
        heartbeat_url: Union[str, Callable[[], Optional[str]]],
        kind: str = "success",
        reason: Optional[str] = None,
    ) -> None:
        """Queues a heartbeat ping: ``start``, ``success`` or ``fail`` (with ``reason``).

        Pings are sent in order by the background thread. ``heartbeat_url`` may be a
        callable returning the URL (or None to skip the ping), called in that thread.
        """
        try:
            self._check_pid()
            if kind not in _PING_KINDS:
                logger.warning("Edge Monitor: unknown ping kind %r", kind)
                return
            if reason is not None:
                reason = " ".join(str(reason).split())[:MAX_REASON_CHARS]
            self._enqueue_job(("ping", heartbeat_url, kind, reason))
        except Exception:
            logger.exception("Edge Monitor: could not queue a ping")

    def submit(self, fn: Callable[[], Any]) -> None:
        """Runs ``fn()`` in the background thread, in order with the pings (errors are logged)."""
        try:
            self._check_pid()
            self._enqueue_job(("call", fn))
        except Exception:
            logger.exception("Edge Monitor: could not queue a job")

    def _enqueue_job(self, job: tuple) -> None:
        if self._closed:
            self._drop("closed")
            return
        with self._cond:
            if len(self._jobs) >= MAX_PENDING_PINGS:
                self._jobs.popleft()
                self._drop("ping_buffer_full")
            self._jobs.append(job)
            self._cond.notify_all()
        self._ensure_thread()

    # ------------------------------------------------------------- sending

    def start(self) -> None:
        """Starts the background thread now (it otherwise starts with the first sample)."""
        try:
            self._check_pid()
            self._ensure_thread()
        except Exception:
            logger.exception("Edge Monitor: could not start the background thread")

    def flush(self, timeout: float = 5.0) -> bool:
        """Sends what is buffered now and waits (at most ``timeout`` seconds) until it is.

        True when everything was sent (or given up on as refused), False on timeout.
        """
        try:
            self._check_pid()
            deadline = time.monotonic() + max(0.0, timeout)
            with self._cond:
                if not self._pending_locked():
                    return True
                self._flush_requested = True
                self._cond.notify_all()
            if not self._ensure_thread():
                # No thread can run (interpreter shutting down): send from here.
                while self._pending() and time.monotonic() < deadline:
                    delay = self._next_delay(time.monotonic())
                    if delay > 0:
                        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                        continue
                    self._work_once()
                return not self._pending()
            with self._cond:
                while self._pending_locked():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
        except Exception:
            logger.exception("Edge Monitor: flush failed")
            return False

    def close(self, timeout: float = 5.0) -> None:
        """Flushes (bounded by ``timeout``) and stops the background thread."""
        if self._closed:
            return
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    def _pending_locked(self) -> int:
        return len(self._buf) + len(self._jobs) + self._inflight

    def _pending(self) -> int:
        with self._cond:
            return self._pending_locked()

    def _ensure_thread(self) -> bool:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return True
        if self._closed:
            return False
        with self._cond:
            thread = self._thread
            if thread is not None and thread.is_alive():
                return True
            thread = threading.Thread(target=self._run, name="edge-monitor-sender", daemon=True)
            try:
                thread.start()
            except RuntimeError:
                return False
            self._thread = thread
            return True

    def _next_delay(self, now: float) -> float:
        with self._cond:
            return self._next_delay_locked(now)

    def _next_delay_locked(self, now: float) -> float:
        """Seconds until there is work to do (0: now; inf: nothing queued)."""
        delay = math.inf
        if self._jobs:
            if now >= self._jobs_retry_at:
                return 0.0
            delay = self._jobs_retry_at - now
        if self._buf:
            if now < self._ingest_retry_at:
                delay = min(delay, self._ingest_retry_at - now)
            elif len(self._buf) >= self.max_batch or self._flush_requested or self._closed:
                return 0.0
            elif now >= self._next_send_at:
                return 0.0
            else:
                delay = min(delay, self._next_send_at - now)
        return delay

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            try:
                with self._cond:
                    while True:
                        if self._thread is not me and self._thread is not None:
                            return
                        if self._closed:
                            return
                        delay = self._next_delay_locked(time.monotonic())
                        if delay <= 0:
                            break
                        self._cond.wait(min(delay, 30.0))
                self._work_once()
            except Exception:  # pragma: no cover - defensive
                logger.exception("Edge Monitor: background thread error")
                time.sleep(1.0)

    def _work_once(self) -> None:
        now = time.monotonic()
        if now - self._last_prune > 60.0:
            self._prune()
        job = None
        with self._cond:
            if self._jobs and now >= self._jobs_retry_at:
                job = self._jobs[0]
        if job is not None:
            self._run_job(job)
        batch: List[dict] = []
        with self._cond:
            if self._buf and now >= self._ingest_retry_at and (
                len(self._buf) >= self.max_batch or self._flush_requested or self._closed or now >= self._next_send_at
            ):
                n = min(self.max_batch, len(self._buf))
                batch = [self._buf.popleft() for _ in range(n)]
                self._inflight += n
        if batch:
            try:
                self._send_samples(batch)
            finally:
                with self._cond:
                    self._inflight -= len(batch)
                    if not self._buf:
                        self._flush_requested = False
                    self._cond.notify_all()

    def _prune(self) -> None:
        self._last_prune = time.monotonic()
        horizon = int(time.time() * 1000) - 60_000
        with self._cond:
            stale = [k for k, ts in self._last_ts.items() if ts < horizon]
            for k in stale:
                del self._last_ts[k]

    def _backoff(self, attempts: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * (2 ** min(attempts, 30)))
        return delay / 2 + random.uniform(0, delay / 2)

    # Samples.

    def _send_samples(self, batch: List[dict]) -> None:
        """Sends one batch (split to fit the size limits); requeues what should be retried."""
        parts = _split_by_size(batch)
        while parts:
            part = parts.pop(0)
            try:
                outcome = self._post_samples(part)
            except _Retry as retry:
                self.retries += 1
                leftover = [sample for sample, _ in part] + [sample for p in parts for sample, _ in p]
                with self._cond:
                    if retry.delay is None:
                        delay = self._backoff(self._ingest_attempts)
                        self._ingest_attempts += 1
                    else:
                        delay = retry.delay
                    self._ingest_retry_at = time.monotonic() + delay
                    # Back at the front, in order; the oldest go first when that overflows.
                    self._buf.extendleft(reversed(leftover))
                    excess = len(self._buf) - self.max_buffer
                    for _ in range(max(0, excess)):
                        self._buf.popleft()
                    if excess > 0:
                        self._drop("buffer_full", excess)
                return
            if outcome == "split":
                mid = len(part) // 2
                parts[0:0] = [part[:mid], part[mid:]]
            else:
                with self._cond:
                    self._ingest_attempts = 0

    def _post_samples(self, part: List[Tuple[dict, bytes]]) -> str:
        body = b'{"samples":[' + b",".join(encoded for _, encoded in part) + b"]}"
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        try:
            status, resp_headers, data = self._transport("POST", f"{self.url}/api/ingest", body, headers, self.timeout)
        except Exception as err:
            self._log("ingest:error", logging.WARNING, "Edge Monitor: sending samples failed (%s); will retry", err)
            raise _Retry(None) from None
        n = len(part)
        if 200 <= status < 300:
            self.sent += n
            return "ok"
        if status == 413:
            if n > 1:
                return "split"
            self._drop("too_large", n)
            self._log("ingest:413", logging.WARNING, "Edge Monitor: a sample was too large and was dropped")
            return "dropped"
        if status in (429, 503):
            after = _retry_after_seconds(resp_headers)
            self._log(
                f"ingest:{status}",
                logging.INFO,
                "Edge Monitor: server answered %s; retrying in %s s",
                status,
                "(backoff)" if after is None else after,
            )
            if after is None:
                raise _Retry(None)
            raise _Retry(after + random.uniform(0, min(1.0, after * 0.1)))
        if status >= 500:
            self._log(f"ingest:{status}", logging.WARNING, "Edge Monitor: server answered %s; will retry", status)
            raise _Retry(None)
        if status == 400:
            self._drop("invalid", n)
            self._log(
                "ingest:400",
                logging.WARNING,
                "Edge Monitor: %d samples refused as invalid and dropped: %s",
                n,
                _short(data),
            )
        elif status in (401, 403):
            self._drop("unauthorized", n)
            self._log(
                f"ingest:{status}",
                logging.ERROR,
                "Edge Monitor: the key was refused (HTTP %s); %d samples dropped: %s",
                status,
                n,
                _short(data),
            )
        else:
            self._drop("refused", n)
            self._log(
                f"ingest:{status}",
                logging.WARNING,
                "Edge Monitor: HTTP %s; %d samples dropped: %s",
                status,
                n,
                _short(data),
            )
        return "dropped"

    # Pings and jobs.

    def _run_job(self, job: tuple) -> None:
        retry: Optional[_Retry] = None
        try:
            if job[0] == "call":
                job[1]()
            else:
                self._send_ping(job[1], job[2], job[3])
        except _Retry as err:
            retry = err
        except Exception:
            logger.exception("Edge Monitor: background job failed")
        with self._cond:
            if retry is not None:
                self.retries += 1
                if retry.delay is None:
                    delay = self._backoff(self._jobs_attempts)
                    self._jobs_attempts += 1
                else:
                    delay = retry.delay
                self._jobs_retry_at = time.monotonic() + delay
            else:
                self._jobs_attempts = 0
                if self._jobs and self._jobs[0] is job:
                    self._jobs.popleft()
            self._cond.notify_all()

    def _send_ping(self, target: Any, kind: str, reason: Optional[str]) -> None:
        url = target() if callable(target) else target
        if not url:
            self._drop("ping_unresolved")
            logger.debug("Edge Monitor: no heartbeat URL; %s ping skipped", kind)
            return
        url = str(url).rstrip("/")
        if kind == "start":
            url += "/start"
        elif kind == "fail":
            url += "/fail"
        headers = {}
        body = b""
        if kind == "fail":
            headers["Content-Type"] = "text/plain; charset=utf-8"
            body = (reason or "failed").encode("utf-8")
        try:
            status, resp_headers, data = self._transport("POST", url, body, headers, self.heartbeat_timeout)
        except Exception as err:
            self._log("ping:error", logging.WARNING, "Edge Monitor: heartbeat ping failed (%s); will retry", err)
            raise _Retry(None) from None
        if 200 <= status < 300:
            self.pings_sent += 1
            return
        if status in (429, 503):
            after = _retry_after_seconds(resp_headers)
            raise _Retry(after)
        if status >= 500:
            raise _Retry(None)
        self._drop("ping_refused")
        if status == 404 and callable(target) and hasattr(target, "invalidate"):
            target.invalidate()
        self._log(
            f"ping:{status}",
            logging.WARNING,
            "Edge Monitor: heartbeat ping refused: HTTP %s %s",
            status,
            _short(data),
        )


def _short(data: bytes, limit: int = 300) -> str:
    try:
        text = data.decode("utf-8", "replace")
    except Exception:
        return ""
    return text[:limit]


def _split_by_size(batch: List[dict]) -> List[List[Tuple[dict, bytes]]]:
    """Encodes samples, grouped into request bodies of at most 1 MiB each."""
    parts: List[List[Tuple[dict, bytes]]] = []
    current: List[Tuple[dict, bytes]] = []
    size = len(b'{"samples":[]}')
    for sample in batch:
        encoded = json.dumps(sample, separators=(",", ":")).encode("utf-8")
        if current and size + len(encoded) + 1 > MAX_BODY_BYTES:
            parts.append(current)
            current = []
            size = len(b'{"samples":[]}')
        current.append((sample, encoded))
        size += len(encoded) + 1
    if current:
        parts.append(current)
    return parts


def _flush_at_exit(ref: "weakref.ReferenceType[Client]") -> None:
    client = ref()
    if client is None or client._closed:
        return
    try:
        if client._pid != os.getpid():
            return
        client.flush(client.exit_timeout)
    except Exception:  # pragma: no cover
        pass


_shared: Dict[Tuple[str, str], Client] = {}
_shared_lock = threading.Lock()


def get_client(url: Optional[str] = None, key: Optional[str] = None, **options: Any) -> Optional[Client]:
    """The process's shared client for ``url`` and ``key`` (default: the environment
    variables ``EDGE_MONITOR_URL`` and ``EDGE_MONITOR_KEY``), created on first use.

    Returns None (and logs a warning) when neither names a server: reporting is then
    off and the application runs as without it. ``options`` apply on creation only.
    """
    url = url or os.environ.get("EDGE_MONITOR_URL")
    key = key or os.environ.get("EDGE_MONITOR_KEY")
    if not url or not key:
        logger.warning("Edge Monitor: no url/key (EDGE_MONITOR_URL, EDGE_MONITOR_KEY); reporting is off")
        return None
    ident = (str(url).rstrip("/"), str(key))
    with _shared_lock:
        client = _shared.get(ident)
        if client is None or client._closed:
            client = Client(url, key, **options)
            _shared[ident] = client
        return client
