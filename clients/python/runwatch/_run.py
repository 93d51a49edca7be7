"""Run and Step: the producer-facing API. Every call builds a small tuple, appends it to the
sender's queue and returns; serialization and I/O happen on the sender thread."""
import atexit
import datetime
import logging
import os
import re
import sys
import threading
import time
import traceback
import uuid
import weakref

from ._sender import DEFAULT_MAX_STRING_BYTES, Endpoint, Sender
from ._spool import default_root

logger = logging.getLogger("runwatch")

DEFAULT_URL = "http://127.0.0.1:7600"
KINDS = ("training", "evaluation", "workflow", "plan", "chat", "other")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]+")


def make_run_id(name):
    """A readable, unique run id from a display name: "<slug>-<YYYYmmdd-HHMMSS>-<4 hex>"."""
    slug = _UNSAFE.sub("-", name).strip("-.:")[:96] or "run"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return "%s-%s-%s" % (slug, stamp, uuid.uuid4().hex[:4])


class Step:
    """One row of the run's steps table. Use as a context manager (completed on exit, failed on an
    exception) or call complete()/fail() yourself."""

    def __init__(self, run, step_id, name=None, message=None):
        self.run = run
        self.id = str(step_id)
        self.name = name
        self.result = None
        self._ended = False
        data = {}
        if name is not None:
            data["name"] = str(name)
        if message is not None:
            data["message"] = str(message)
        run._emit("step_started", data, self.id)

    def progress(self, fraction, message=None):
        """Reports progress from 0 to 1 (clamped), with an optional message."""
        data = {"progress": min(1.0, max(0.0, float(fraction)))}
        if message is not None:
            data["message"] = str(message)
        self.run._emit("step_progress", data, self.id)

    def message(self, text):
        self.run._emit("step_progress", {"message": str(text)}, self.id)

    def complete(self, result=None, message=None):
        if self._ended:
            return
        self._ended = True
        data = {"progress": 1.0}
        result = self.result if result is None else result
        if result is not None:
            data["result"] = result
        if message is not None:
            data["message"] = str(message)
        self.run._emit("step_completed", data, self.id)

    def fail(self, message=None, result=None):
        if self._ended:
            return
        self._ended = True
        data = {}
        if message is not None:
            data["message"] = str(message)
        if result is not None:
            data["result"] = result
        self.run._emit("step_failed", data, self.id)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.complete()
        else:
            self.fail("%s: %s" % (exc_type.__name__, exc))
        return False


class Run:
    """A run being produced. Create it with runwatch.init()."""

    def __init__(self, name, kind="training", config=None, run_id=None, total_steps=None,
                 url=None, token=None, total_epochs=None, tags=None, spool_dir=None,
                 spool_max_bytes=None, batch_size=500, flush_interval=0.05, max_queue=100_000,
                 finish_on_exit=True, max_string_bytes=None):
        if kind not in KINDS:
            raise ValueError("kind must be one of %s" % ", ".join(KINDS))
        self.name = str(name)
        self.id = run_id if run_id is not None else make_run_id(self.name)
        if not _RUN_ID_RE.match(self.id):
            raise ValueError("run_id must be 1 to 128 characters of A-Z a-z 0-9 . _ : -")
        self.kind = kind
        self.session = uuid.uuid4().hex
        url = url or os.environ.get("RUNWATCH_URL") or DEFAULT_URL
        token = token if token is not None else os.environ.get("RUNWATCH_TOKEN") or None
        self.endpoint = Endpoint(url, token)
        self.url = self.endpoint.base
        if spool_max_bytes is None:
            spool_max_bytes = int(os.environ.get("RUNWATCH_SPOOL_MAX_BYTES", 256 << 20))
        if max_string_bytes is None:
            max_string_bytes = int(os.environ.get("RUNWATCH_MAX_STRING_BYTES") or DEFAULT_MAX_STRING_BYTES)
        self._sender = Sender(self.id, self.session, self.endpoint, spool_dir or default_root(),
                              spool_max_bytes, batch_size=batch_size, interval=flush_interval,
                              max_queue=max_queue, max_string_bytes=max_string_bytes)
        # The hot path touches only these.
        self._queue = self._sender.queue
        self._wake = self._sender.wake
        self._counter = self._sender.counter
        self._gate = self._sender.gate  # [queue length at which events spill to disk]
        self._batch = batch_size
        self._finished = False
        self._finish_lock = threading.Lock()
        self._warned_closed = False

        data = {"name": self.name, "kind": kind}
        if config is not None:
            data["config"] = dict(config)
        if total_steps is not None:
            data["total_steps"] = total_steps
        if total_epochs is not None:
            data["total_epochs"] = total_epochs
        if tags is not None:
            data["tags"] = [str(t) for t in tags]
        self._emit("run_started", data)
        self._sender.start()
        if finish_on_exit:
            _exit_hook.register(self)

    # --- the hot path ------------------------------------------------------------------------------
    def _emit(self, type_, data, step=None):
        if self._finished:
            if not self._warned_closed:
                self._warned_closed = True
                logger.warning("runwatch: run %s is finished; later events are ignored", self.id)
            return
        q = self._queue
        if len(q) >= self._gate[0]:  # the queue is full: to the disk spool, in order
            self._sender.spill((next(self._counter), type_, data, time.time(), step))
            return
        q.append((next(self._counter), type_, data, time.time(), step))
        if len(q) >= self._batch:
            self._wake.set()

    def log(self, metrics=None, step=None, **kw):
        """Appends one point per metric: run.log({"loss": 0.3}, step=10). Non-finite floats are sent."""
        data = dict(metrics) if metrics else {}
        if kw:
            data.update(kw)
        if step is not None:
            data["step"] = step
        self._emit("metric", data)

    def progress(self, completed, total=None, epoch=None, total_epochs=None, eta_s=None, step=None, **extra):
        data = {"completed": completed}
        if total is not None:
            data["total"] = total
        if epoch is not None:
            data["epoch"] = epoch
        if total_epochs is not None:
            data["total_epochs"] = total_epochs
        if eta_s is not None:
            data["eta_s"] = eta_s
        if step is not None:
            data["step"] = step
        if extra:
            data.update(extra)
        self._emit("progress", data)

    def step(self, step_id, name=None, message=None):
        """Starts a step (step_started); use `with run.step("id", name="...") as s:`."""
        return Step(self, step_id, name, message)

    def token(self, text, stream=None):
        data = {"text": str(text)}
        if stream is not None:
            data["stream"] = str(stream)
        self._emit("token", data)

    def _log(self, level, message):
        self._emit("log", {"level": level, "message": str(message)})

    def debug(self, message):
        self._log("debug", message)

    def info(self, message):
        self._log("info", message)

    def warning(self, message):
        self._log("warning", message)

    def error(self, message):
        """An error-level log line (counted as an error by the server)."""
        self._log("error", message)

    def result(self, data=None, **fields):
        """One evaluated item: run.result(ok=True, latency_s=0.3)."""
        data = dict(data) if data else {}
        data.update(fields)
        self._emit("result", data)

    def status(self, status, message=None):
        data = {"status": status}
        if message is not None:
            data["message"] = str(message)
        self._emit("run_status", data)

    def event(self, type_, data=None, step=None):
        """Any event type: run.event("quality_check", {"quality_score": 0.93})."""
        self._emit(str(type_), dict(data) if data else {}, None if step is None else str(step))

    # --- delivery ----------------------------------------------------------------------------------
    def flush(self, timeout=10.0):
        """Waits until everything logged so far is delivered; True when it was."""
        return self._sender.flush(timeout)

    def finish(self, timeout=10.0, summary=None):
        """Marks the run completed and delivers what is queued, returning within `timeout` seconds.
        True when everything reached the server; otherwise the rest stays in the spool."""
        data = {} if summary is None else {"summary": summary}
        return self._end("run_completed", data, timeout)

    def fail(self, message=None, timeout=10.0):
        """Marks the run failed (run_failed) and delivers what is queued, like finish()."""
        data = {} if message is None else {"message": str(message)}
        return self._end("run_failed", data, timeout)

    def _end(self, type_, data, timeout):
        with self._finish_lock:
            if self._finished:
                return self._sender.settled()
            self._emit(type_, data)
            self._finished = True
        _exit_hook.unregister(self)
        return self._sender.stop(timeout)

    @property
    def finished(self):
        return self._finished

    def stats(self):
        s = self._sender
        return {"queued": len(s.queue), "spooled": s.spool.pending, "spilled": s.spilled, "sent": s.sent,
                "duplicates": s.duplicates, "rejected": s.rejected, "cut": s.cut,
                "dropped": s.dropped_queue + s.spool.dropped, "connected": s.connected,
                "last_error": s.last_error}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.finish()
        elif issubclass(exc_type, KeyboardInterrupt):
            self._end("run_status", {"status": "cancelled", "message": "KeyboardInterrupt"}, 10.0)
        else:
            self.fail("".join(traceback.format_exception(exc_type, exc, tb)).rstrip())
        return False

    def __repr__(self):
        return "<runwatch.Run %s at %s>" % (self.id, self.url)


class _ExitHook:
    """Finishes runs the script did not finish: completed on a normal exit, failed (with the
    traceback) after an uncaught exception."""

    def __init__(self):
        self._runs = weakref.WeakSet()
        self._installed = False
        self._exc = None
        self._lock = threading.Lock()

    def register(self, run):
        with self._lock:
            self._runs.add(run)
            if not self._installed:
                self._installed = True
                atexit.register(self._at_exit)
                previous = sys.excepthook

                def hook(exc_type, exc, tb):
                    self._exc = (exc_type, exc, tb)
                    previous(exc_type, exc, tb)
                sys.excepthook = hook

    def unregister(self, run):
        with self._lock:
            self._runs.discard(run)

    def _at_exit(self):
        timeout = float(os.environ.get("RUNWATCH_EXIT_TIMEOUT", "5"))
        deadline = time.monotonic() + timeout
        for run in list(self._runs):
            remaining = max(0.0, deadline - time.monotonic())
            try:
                if self._exc is not None:
                    et, e, tb = self._exc
                    if issubclass(et, KeyboardInterrupt):
                        run._end("run_status", {"status": "cancelled", "message": "KeyboardInterrupt"}, remaining)
                    else:
                        run.fail("".join(traceback.format_exception(et, e, tb)).rstrip(), timeout=remaining)
                else:
                    run.finish(timeout=remaining)
            except Exception:
                pass


_exit_hook = _ExitHook()


def init(name, kind="training", config=None, run_id=None, total_steps=None, url=None, token=None, **options):
    """Starts a run and returns it. url/token default to RUNWATCH_URL / RUNWATCH_TOKEN, then
    http://127.0.0.1:7600. Never blocks: a missing server only delays delivery.

    Options: total_epochs, tags, spool_dir, spool_max_bytes, batch_size, flush_interval,
    max_queue, finish_on_exit, max_string_bytes (RUNWATCH_MAX_STRING_BYTES; default 256 KiB:
    longer strings are cut, with a "… [cut N bytes]" marker)."""
    return Run(name, kind=kind, config=config, run_id=run_id, total_steps=total_steps,
               url=url, token=token, **options)
