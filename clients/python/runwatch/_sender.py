"""The background thread that delivers events: batches from the in-memory queue, HTTP keep-alive
POST /api/events, and the on-disk spool while the server cannot be reached or the queue overflows.

Order per run: the spool's events are older than the queue's, except while the queue overflows.
Then the producer writes new events straight to the spool (behind a reserved gap) and the sender
moves the queue into that gap, so that the older queued events still come first. When the queue
is empty the gap closes and the spool is sent from its head as usual."""
import collections
import collections.abc
import http.client
import itertools
import json
import logging
import math
import re
import ssl
import sys
import threading
import time
import urllib.parse

from ._spool import Spool

logger = logging.getLogger("runwatch")

_EVENT_INDEX = re.compile(r"^event (\d+):")
_NONFINITE = {"NaN", "Infinity", "-Infinity"}
_PLAIN_NUMBERS = (int, float)
DEFAULT_MAX_STRING_BYTES = 256 << 10   # longest string sent; longer ones are cut (the server's limit: 1 MiB)
MIN_MAX_STRING_BYTES = 64
CUT_MARK = "… [cut %d bytes]"
MAX_METRIC_DEPTH = 8           # levels of nested metric dicts flattened to "a/b/…"; deeper ones are left out
MAX_METRIC_NAME = 256          # characters in a metric name (the server refuses longer ones)
_CHUNK = 500                   # events serialized per hold of the sender's lock
DROP_WARNING_INTERVAL = 10.0   # seconds between two warnings about dropped events


_UNKNOWN_TYPE = re.compile(r"""unknown (?:event )?type ["']([^"']*)["']""")
_server_warned = set()         # (code, subject) of server warnings already shown by this process
_server_warned_lock = threading.Lock()


def warn(message):
    """A warning the user must see whatever logging is set up to do: straight to stderr."""
    try:
        sys.stderr.write("runwatch: warning: %s\n" % message)
        sys.stderr.flush()
    except Exception:  # a closed or broken stderr must not take the job down
        pass


def _default(obj):
    """Makes numpy/torch scalars, arrays, sets and anything else JSON-serializable."""
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return item()
        except Exception:
            pass
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        try:
            return tolist()
        except Exception:
            pass
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return str(obj)


def _metric_value(value):
    """A number (or one of the non-finite strings) for a metric, or None when it cannot be one."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return value if value in _NONFINITE else None
    item = getattr(value, "item", None)
    if callable(item):
        try:
            value = item()
        except Exception:
            return None
        return _metric_value(value) if not hasattr(value, "item") else None
    return None


_encode = json.JSONEncoder(separators=(",", ":"), default=_default, allow_nan=True, ensure_ascii=False).encode
_encode_string = json.encoder.encode_basestring  # what the encoder above writes for a str, quotes included


def _sent_size(text):
    """Bytes of a string as sent: UTF-8, JSON escapes included (what --max-string-bytes counts)."""
    return len(_encode_string(text).encode("utf-8", "replace")) - 2


def cut_string(text, limit):
    """`text` when it fits in `limit` bytes as sent; otherwise its longest prefix that fits
    together with the marker "… [cut N bytes]", cut between characters (never inside a UTF-8
    sequence or an escape). N counts the UTF-8 bytes left out."""
    if len(text) * 6 <= limit or _sent_size(text) <= limit:  # 6: the longest escape of one character
        return text
    raw = text.encode("utf-8", "replace")
    budget = max(0, limit - len((CUT_MARK % len(raw)).encode("utf-8")))
    kept = raw[:budget].decode("utf-8", "ignore")  # a sequence split at the end goes whole
    if _sent_size(kept) > budget:  # escapes (quotes, backslashes, control characters) take more
        lo, hi = 0, len(kept)      # the longest prefix that fits: lo fits, hi does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _sent_size(kept[:mid]) <= budget:
                lo = mid
            else:
                hi = mid
        kept = kept[:lo]
    return kept + CUT_MARK % (len(raw) - len(kept.encode("utf-8", "replace")))


class Endpoint:
    def __init__(self, url, token):
        if "://" not in url:
            url = "http://" + url
        parts = urllib.parse.urlsplit(url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        if scheme not in ("http", "https"):
            raise ValueError("runwatch: unsupported URL scheme %r" % parts.scheme)
        self.scheme = scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if scheme == "https" else 80)
        self.base = "%s://%s:%d%s" % (scheme, self.host if ":" not in self.host else "[%s]" % self.host,
                                      self.port, parts.path.rstrip("/"))
        self.path = parts.path.rstrip("/") + "/api/events"
        self.headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        if token:
            self.headers["Authorization"] = "Bearer " + token

    def connect(self, timeout):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


class Sender(threading.Thread):
    """Owns delivery for one run. The producer side only appends tuples to `queue` (thread-safe,
    lock-free) and sets `wake` when a batch is full; everything else happens on this thread."""

    def __init__(self, run_id, session, endpoint, spool_root, spool_max_bytes,
                 batch_size=500, interval=0.05, max_queue=100_000,
                 connect_timeout=3.0, request_timeout=30.0, max_string_bytes=DEFAULT_MAX_STRING_BYTES):
        super().__init__(name="runwatch-sender-%s" % run_id, daemon=True)
        self.run_id = run_id
        self.session = session
        self.endpoint = endpoint
        self.batch_size = batch_size
        # A backlog (a burst, or the spool after an outage) goes out in bigger requests: the server
        # takes up to 10,000 events per publish and stores each publish in one transaction.
        self.max_request_events = max(batch_size, 5000)
        self.interval = interval
        self.max_string_bytes = max(MIN_MAX_STRING_BYTES, int(max_string_bytes))
        self.cut = 0                   # strings cut to max_string_bytes
        self.max_queue = max(1, int(max_queue))
        # The producer spills when len(queue) >= gate[0]: max_queue normally, -1 while spilling.
        self.gate = [self.max_queue]
        self.spilling = False          # the queue overflowed; new events go to the spool
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.queue = collections.deque()
        self.counter = itertools.count(1)  # event ids: <session>-<n>
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.spool = Spool(spool_root, run_id, session, spool_max_bytes)
        self._conn = None
        self._inflight = None          # serialized lines popped from memory and being posted
        self._closed = False           # no more delivery (finish gave up or completed)
        self._stopping = False         # finish() asked: deliver what is there, then end
        self._retry_at = 0.0
        self._backoff = 0.0
        self._retry_hint = 0.0  # seconds the server asked us to wait (429 RATE_LIMITED)
        self._warned = set()
        self._pending_warning = None
        self.sent = 0
        self.duplicates = 0
        self.rejected = 0
        self.spilled = 0               # events the producer wrote to the spool (queue full)
        self.dropped_queue = 0         # events lost because the spool could not be written
        self.reported_dropped = 0
        self._last_drop_warning = None
        self.last_error = None
        self.connected = None          # None: not tried yet; True/False after the last attempt
        with self.lock:
            adopted = self.spool.adopt_orphans()
        if adopted:
            logger.info("runwatch: %d undelivered events of an earlier process of run %s will be sent first",
                        adopted, run_id)

    # --- serialization ---------------------------------------------------------------------------
    def _serialize(self, item):
        counter, type_, data, ts, step = item
        ev = {"run": self.run_id, "type": type_, "data": data, "ts": round(ts, 3),
              "eid": "%s-%d" % (self.session, counter)}
        if step is not None:
            ev["step"] = step
        if type_ == "metric":
            ev["data"] = data = self._clean_metric(data)
            if data is None:
                return None
        try:
            line = _encode(ev)
        except (TypeError, ValueError) as e:  # circular references and the like
            self._warn_once("serialize:" + type_, "runwatch: dropped a %s event that is not JSON: %s" % (type_, e))
            self.rejected += 1
            return None
        # No string in a line of N characters can be longer than 4 N bytes as sent.
        if len(line) * 4 > self.max_string_bytes and len(line.encode("utf-8", "replace")) > self.max_string_bytes:
            line = self._cut_strings(line, type_)
        return line

    def _cut_strings(self, line, type_):
        """Cuts every string of the event (keys too) that is longer than max_string_bytes, so that
        the server stores the event instead of refusing the whole publish with TOO_LARGE."""
        limit = self.max_string_bytes
        cuts = []

        def walk(value):
            if isinstance(value, str):
                short = cut_string(value, limit)
                if short is not value:
                    cuts.append(_sent_size(value))
                return short
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, dict):
                return {walk(k): walk(v) for k, v in value.items()}
            return value

        ev = walk(json.loads(line))  # parsed back: numpy arrays, bytes etc. are plain JSON by now
        if not cuts:
            return line
        if not self.cut:  # once per run; run.stats()["cut"] counts them all
            warn("run %s: a string of %d bytes in a %s event was cut to %d bytes, marked with "
                 "\"… [cut N bytes]\" (max_string_bytes, RUNWATCH_MAX_STRING_BYTES)"
                 % (self.run_id, max(cuts), type_, limit))
        self.cut += len(cuts)
        return _encode(ev)

    def _clean_metric(self, data):
        # Fast path: plain ints and floats (bool is a subclass of int, so compare exact types).
        plain = True
        for key, value in data.items():
            t = type(value)
            if (t is not float and t is not int) or (key == "step" and (t is not int or value < 0)):
                plain = False
                break
        if plain:
            return data if len(data) > ("step" in data) else None
        out = {}
        for key, value in data.items():
            if key == "step":
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                elif hasattr(value, "item") and not isinstance(value, (int, float)):
                    value = _metric_value(value)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    out["step"] = value
                elif value is not None:
                    self._warn_once("step", "runwatch: metric step must be a non-negative integer, got %r" % (value,))
                continue
            self._add_metric(out, str(key), value, 1)
        if not any(k != "step" for k in out):
            return None
        return out

    def _add_metric(self, out, name, value, depth):
        """One metric, or a nested dict of them flattened to "a/b" names as the server does, so
        that what the SDK checks and counts is what the server stores."""
        if isinstance(value, collections.abc.Mapping):
            if depth >= MAX_METRIC_DEPTH:
                self._warn_once("depth:" + name, "runwatch: metric %r is nested more than %d levels deep; "
                                                 "not sent" % (name, MAX_METRIC_DEPTH))
                return
            for key, inner in value.items():
                self._add_metric(out, "%s/%s" % (name, key), inner, depth + 1)
            return
        v = _metric_value(value)
        if v is None:
            self._warn_once("metric:" + name, "runwatch: metric %r is not a number (%r); not sent" % (name, type(value).__name__))
            return
        if not 0 < len(name) <= MAX_METRIC_NAME:
            self._warn_once("name:" + name[:300], "runwatch: a metric name must have 1 to %d characters, "
                                                  "not %d: %r; not sent" % (MAX_METRIC_NAME, len(name), name[:300]))
            return
        if name in out:
            self._warn_once("twice:" + name, "runwatch: metric %r is given twice (nested and flat); "
                                             "the last value is sent" % name)
        out[name] = v

    def _warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

    def _drain_memory(self, limit):
        lines = []
        q = self.queue
        while q and len(lines) < limit:
            line = self._serialize(q.popleft())
            if line is not None:
                lines.append(line)
        return lines

    # --- overflow (called on the producer's thread) ----------------------------------------------
    def spill(self, item):
        """The queue is full (or overflowed a moment ago): the event goes to the spool, behind
        the gap that keeps the queue's older events ahead of it. Never waits for the network."""
        first = False
        with self.lock:
            if not self.spilling:
                if len(self.queue) < self.max_queue:  # the sender made room meanwhile
                    self.queue.append(item)
                    return
                if self._closed:
                    self.dropped_queue += 1
                    self._note_drops()
                    return
                self.spilling = first = True
                self.gate[0] = -1
            try:  # nothing here may raise into the caller's loop
                if first:
                    self.spool.open_gap()
                line = self._serialize(item)
                if line is not None:
                    self.spool.append([line])
                    self.spilled += 1
            except Exception as e:  # an unwritable spool directory, a full disk
                self.dropped_queue += 1
                self.last_error = "spool: %s: %s" % (type(e).__name__, e)
            if self.spool.dropped + self.dropped_queue > self.reported_dropped:
                self._note_drops()
        if first:
            self.wake.set()

    def _note_drops(self):
        """Warns about dropped events at once, then at most every DROP_WARNING_INTERVAL seconds
        (the rest are counted and named in the next warning and at finish). Caller holds the lock."""
        dropped = self.dropped_queue + self.spool.dropped
        if dropped <= self.reported_dropped:
            return
        now = time.monotonic()
        if self._last_drop_warning is not None and now - self._last_drop_warning < DROP_WARNING_INTERVAL:
            return
        n = dropped - self.reported_dropped
        self.reported_dropped = dropped
        self._last_drop_warning = now
        if self.spool.dropped:
            why = ("the spool reached its limit of %d bytes (spool_max_bytes, RUNWATCH_SPOOL_MAX_BYTES) "
                   "while the server took events more slowly than they came or was unreachable; the "
                   "oldest spooled events go first" % self.spool.max_bytes)
        else:
            why = "the spool could not be written (%s)" % self.last_error
        msg = "run %s: %d events dropped (%d so far): %s" % (self.run_id, n, dropped, why)
        warn(msg)
        self._pending_warning = msg

    def _move_queue(self, gap):
        """Serializes one chunk of the queue into the spool (into the gap while spilling). Caller
        holds the lock; it is let go between chunks so that a spilling producer never waits long."""
        lines = self._drain_memory(_CHUNK)
        if lines:
            self.spool.append(lines, gap=gap)
            self._note_drops()
        return len(lines)

    # --- the loop --------------------------------------------------------------------------------
    def run(self):
        try:
            while True:
                self.wake.wait(self.interval)
                self.wake.clear()
                with self.lock:
                    self._note_drops()
                done = self._pump()
                with self.lock:
                    if not self._closed:
                        self.spool.flush()  # what the producer spilled reaches the disk within a beat
                if self._closed or (self._stopping and done):
                    break
        except Exception:  # never let a bug here take the training down; keep what we have
            logger.exception("runwatch: sender failed; undelivered events stay in the spool")
            self.abandon()
        finally:
            with self.lock:
                if not self._closed and self.spool.empty() and not self.queue:
                    self._closed = True
                    self.spool.close()
                self.idle.notify_all()
            self._close_conn()

    def _pump(self):
        """Delivers as much as possible. Returns True when nothing is left to deliver."""
        budget = self.max_request_events  # events moved to disk before the next send
        while True:
            with self.lock:
                if self._closed:
                    return True
                if self.spilling:
                    # The queue is older than what the producer spills now: into the gap with it.
                    if not self._move_queue(gap=True) and not self.queue:
                        self.spool.close_gap()
                        self.spilling = False
                        self.gate[0] = self.max_queue
                    continue  # lets go of the lock between chunks
                waiting = time.monotonic() < self._retry_at
                if self._pending_warning and not waiting:
                    self.queue.append((next(self.counter), "log", {"level": "warning", "message": self._pending_warning},
                                       time.time(), None))
                    self._pending_warning = None
                if self.queue and budget > 0 and (waiting or not self.spool.empty()):
                    # The spool holds older events (or the server is away): new ones go behind them.
                    budget -= self._move_queue(gap=False)
                    continue
                if waiting:
                    self.spool.flush()
                    self.idle.notify_all()
                    return False
                budget = self.max_request_events
                if not self.spool.empty():
                    lines, nbytes = self.spool.peek(self.max_request_events, 4 << 20)
                    source = "spool"
                else:
                    lines = self._drain_memory(_CHUNK)
                    nbytes = 0
                    source = "memory"
                    self._inflight = lines
            while source == "memory" and len(lines) < self.max_request_events:
                with self.lock:  # a full request, a chunk at a time
                    if self._closed:
                        return True
                    if not self.queue or self.spilling:
                        break
                    lines += self._drain_memory(min(_CHUNK, self.max_request_events - len(lines)))
            if not lines:
                with self.lock:
                    self._inflight = None
                    self.idle.notify_all()
                    return self.spool.empty() and not self.queue
            ok = self._deliver(lines)
            with self.lock:
                if self._closed:
                    return True
                if source == "memory":
                    self._inflight = None
                if ok:
                    if source == "spool":
                        self.spool.advance(len(lines), nbytes)
                    self._backoff = 0.0
                    self._retry_at = 0.0
                else:
                    if source == "memory":
                        # First in line: before the queue (the gap, if the queue overflowed meanwhile).
                        self.spool.append(lines, gap=self.spilling)
                        self.spool.flush()
                        self._note_drops()
                    self._backoff = min(2.0, max(0.1, self._backoff * 2))
                    if self._stopping:
                        self._backoff = min(self._backoff, 0.25)
                    self._retry_at = time.monotonic() + max(self._backoff, self._retry_hint)
                    self._retry_hint = 0.0
                    self.idle.notify_all()
                    return False

    # --- HTTP ------------------------------------------------------------------------------------
    def _close_conn(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def _post(self, body):
        """(status, parsed body) or None when the server could not be reached."""
        for attempt in range(2):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = self.endpoint.connect(self.connect_timeout)
            conn = self._conn
            try:
                if not reused:
                    conn.connect()
                    conn.sock.settimeout(self.request_timeout)
                conn.request("POST", self.endpoint.path, body, self.endpoint.headers)
                resp = conn.getresponse()
                raw = resp.read()
                if resp.will_close:
                    self._close_conn()
                try:
                    parsed = json.loads(raw or b"null")
                except ValueError:
                    parsed = None
                self.connected = True
                return resp.status, parsed
            except (OSError, http.client.HTTPException) as e:
                self._close_conn()
                self.last_error = "%s: %s" % (type(e).__name__, e)
                if reused and attempt == 0:
                    continue  # a keep-alive connection the server closed meanwhile: one fresh try
                if self.connected is not False:
                    logger.warning("runwatch: cannot reach %s (%s); spooling events until it is back",
                                   self.endpoint.base, self.last_error)
                self.connected = False
                return None
        return None

    def _deliver(self, lines):
        """True when every line was accepted (or permanently refused and dropped), False to retry."""
        if not lines:
            return True
        body = ("[" + ",".join(lines) + "]").encode("utf-8", "replace")
        result = self._post(body)
        if result is None:
            return False
        status, reply = result
        if status == 200:
            self.sent += len(lines)
            if isinstance(reply, dict):
                if isinstance(reply.get("duplicates"), int):
                    self.duplicates += reply["duplicates"]  # events the server already had (same eid)
                if reply.get("warnings"):
                    self._server_warnings(reply["warnings"], lines)
            return True
        error = reply.get("error", {}) if isinstance(reply, dict) else {}
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message", "") if isinstance(error, dict) else ""
        self.last_error = "%s %s: %s" % (status, code, message)
        if status == 413 and len(lines) > 1:
            half = len(lines) // 2
            return self._deliver(lines[:half]) and self._deliver(lines[half:])
        if status == 400 or (status == 413 and len(lines) == 1):
            m = _EVENT_INDEX.match(message or "")
            if len(lines) == 1:
                self.rejected += 1
                logger.warning("runwatch: the server refused an event (%s): %s", self.last_error, lines[0][:300])
                return True
            if m and int(m.group(1)) < len(lines):
                i = int(m.group(1))
                self.rejected += 1
                logger.warning("runwatch: the server refused an event (%s): %s", self.last_error, lines[i][:300])
                return self._deliver(lines[:i] + lines[i + 1:])
            return all(self._deliver([line]) for line in lines)
        if status == 429:
            # Over this producer's rate limit: nothing was stored; send the same events again when
            # the server says there is room (they stay queued or spooled meanwhile).
            wait_ms = error.get("retry_after_ms") if isinstance(error, dict) else None
            if isinstance(wait_ms, (int, float)) and wait_ms > 0:
                self._retry_hint = min(60.0, wait_ms / 1000.0)
            self._warn_once("rate", "runwatch: the server limits this producer's rate (%s); events are kept "
                                    "and sent when it lets them in" % self.last_error)
            return False
        if status in (401, 403):
            self._warn_once("auth", "runwatch: the server refused the token (%s); set RUNWATCH_TOKEN. "
                                    "Events are kept in the spool." % self.last_error)
            return False
        return False  # 503 STORE_FAILED, 5xx, anything unexpected: retry later

    def _server_warnings(self, warnings, lines):
        """Shows each warning of a POST answer on stderr, once per process for each event type
        (UNKNOWN_TYPE) or message (anything else): a misspelt type in a loop warns once, not per event."""
        if not isinstance(warnings, list):
            return
        for w in warnings:
            if not isinstance(w, dict):
                continue
            code = str(w.get("code") or "WARNING")
            message = str(w.get("message") or code)
            subject = message
            if code == "UNKNOWN_TYPE":
                m = _UNKNOWN_TYPE.search(message)
                if m:
                    subject = m.group(1)
                else:
                    i = w.get("index")
                    if isinstance(i, int) and 0 <= i < len(lines):
                        try:
                            subject = str(json.loads(lines[i]).get("type"))
                        except (ValueError, AttributeError):
                            pass
            with _server_warned_lock:
                if (code, subject) in _server_warned:
                    continue
                _server_warned.add((code, subject))
            warn(message)

    # --- control from the producer's thread ------------------------------------------------------
    def settled(self):
        return not self.queue and self._inflight is None and self.spool.empty()

    def flush(self, timeout):
        """Waits until everything queued so far is delivered (or the timeout passes)."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self.lock:
            self._retry_at = 0.0  # try right away
        self.wake.set()
        with self.lock:
            while not self.settled() and not self._closed and self.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.idle.wait(min(remaining, 0.05))
                self.wake.set()
            return self.settled()

    def stop(self, timeout):
        """Delivers what is queued within `timeout` seconds, then ends; what is left goes to the
        spool for a later process. Returns True when everything was delivered."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self.lock:
            self._stopping = True
        delivered = self.flush(max(0.0, deadline - time.monotonic()))
        if not delivered:
            self.abandon()
        self.join(max(0.0, min(0.2, deadline - time.monotonic())))
        dropped = self.dropped_queue + self.spool.dropped
        if dropped:
            warn("run %s: %d events were dropped in all (the spool was full; raise spool_max_bytes or "
                 "RUNWATCH_SPOOL_MAX_BYTES)" % (self.run_id, dropped))
        return delivered

    def abandon(self):
        """Stops delivery at once and writes whatever is only in memory to the spool."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            lines = list(self._inflight or [])
            self._inflight = None
            try:
                lines += self._drain_memory(len(self.queue) + 1)
                self.spool.append(lines, gap=self.spilling)  # older than anything spilled
                self.spool.close_gap()
                self.spilling = False
                self.gate[0] = self.max_queue
            except Exception:
                logger.exception("runwatch: could not write %d events to the spool", len(lines))
            if not self.spool.empty():
                logger.warning("runwatch: %d events of run %s could not be delivered yet; they are in %s "
                               "and will be sent by the next producer of this run or by "
                               "`python -m runwatch sync`", self.spool.pending, self.run_id, self.spool.dir)
            self.spool.close()
            self.idle.notify_all()
        self.wake.set()
