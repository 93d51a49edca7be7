"""Runwatch wire protocol v1, tested the way a third-party client library would test it.

Written only from the two documents a client author has: the contract
(shared/design/protocol.md) and the server's own protocol document (docs/protocol.md), which
records the decisions where the contract is silent. Every test asserts what those documents say;
nothing here was derived from the server's source.

Run:  RUNWATCH_BINARY=path/to/runwatch /usr/bin/python3 tests/python/test_contract_client.py -v
"""
import asyncio
import base64
import datetime
import http.client
import json
import math
import os
import re
import signal
import socket
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runwatch_process import RunwatchProcess  # noqa: E402

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LIFECYCLE = {"run_started", "run_status", "progress", "run_completed", "run_failed"}
SUMMARY_FIELDS = [
    "id", "name", "kind", "status", "status_message", "progress", "completed", "total",
    "current_step", "current_epoch", "total_epochs", "eta_s", "metrics", "started_at", "ended_at",
    "updated_at", "event_count", "error_count", "result_count", "success_rate", "last_error",
    "last_seq", "config", "tags", "step_counts"]
ADMIN, VIEWER = "admin-secret", "viewer-secret"


def uid(prefix="r"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def parse_ts(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def iso_ms(dt):
    dt = dt.astimezone(datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def close_code(exc):
    if getattr(exc, "rcvd", None) is not None:
        return exc.rcvd.code
    return getattr(exc, "code", None)


def is_envelope(obj):
    return isinstance(obj.get("seq"), int) and "run" in obj and "data" in obj and isinstance(obj.get("type"), str)


# --------------------------------------------------------------------------------------------
# A tiny client library: a WebSocket connection that sorts frames into envelopes and messages.
# --------------------------------------------------------------------------------------------
class Conn:
    def __init__(self, ws):
        self.ws = ws
        self.queue = []     # ("ev", envelope) or ("msg", control message), in arrival order
        self.frames = []    # every decoded frame as received
        self.welcome = None

    @classmethod
    async def open(cls, url, headers=None, welcome=True):
        ws = await websockets.connect(url, extra_headers=headers or {}, max_size=None, ping_interval=None,
                                      open_timeout=10, close_timeout=2)
        c = cls(ws)
        if welcome:
            c.welcome = await c.answer("welcome")
        return c

    async def close(self):
        await self.ws.close()

    async def _read(self, timeout):
        raw = await asyncio.wait_for(self.ws.recv(), max(timeout, 0.001))
        if isinstance(raw, bytes):
            raise AssertionError("server sent a binary frame")
        obj = json.loads(raw)
        self.frames.append(obj)
        if obj.get("type") == "batch" and isinstance(obj.get("events"), list):
            for env in obj["events"]:
                self.queue.append(("ev", env))
        elif is_envelope(obj):
            self.queue.append(("ev", obj))
        else:
            self.queue.append(("msg", obj))

    async def send(self, obj, **kw):
        await self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj, **kw))

    async def answer(self, type_, timeout=5, id=None):
        """The first control message of `type_` (or an `error`, so failures do not hang)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (kind, obj) in enumerate(self.queue):
                if kind == "msg" and obj.get("type") in (type_, "error") and (id is None or obj.get("id") == id):
                    del self.queue[i]
                    return obj
            await self._read(deadline - time.monotonic())

    async def events(self, n, timeout=5):
        """Removes and returns the first n envelopes (control messages stay queued)."""
        deadline = time.monotonic() + timeout
        while sum(1 for k, _ in self.queue if k == "ev") < n:
            await self._read(deadline - time.monotonic())
        out, rest = [], []
        for kind, obj in self.queue:
            if kind == "ev" and len(out) < n:
                out.append(obj)
            else:
                rest.append((kind, obj))
        self.queue = rest
        return out

    async def items_with(self, n, timeout=5):
        """Reads until n envelopes are queued; removes and returns every queued item."""
        deadline = time.monotonic() + timeout
        while sum(1 for k, _ in self.queue if k == "ev") < n:
            await self._read(deadline - time.monotonic())
        items, self.queue = self.queue, []
        return items

    async def through(self, type_, timeout=5):
        """Removes and returns every item up to and including the first message of `type_`."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (kind, obj) in enumerate(self.queue):
                if kind == "msg" and obj.get("type") in (type_, "error"):
                    items, self.queue = self.queue[:i + 1], self.queue[i + 1:]
                    return items
            await self._read(deadline - time.monotonic())

    async def drain(self, quiet=0.3):
        """Everything that arrives until the socket has been quiet for `quiet` seconds."""
        try:
            while True:
                await self._read(quiet)
        except asyncio.TimeoutError:
            pass
        items, self.queue = self.queue, []
        return items

    async def until_closed(self, timeout=5):
        """Reads until the server closes; returns (close code, items received)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                await self._read(deadline - time.monotonic())
        except ConnectionClosed as exc:
            items, self.queue = self.queue, []
            return close_code(exc), items

    async def publish(self, events, id=None, single=False):
        """Publishes and returns the ack's seq list (asserting an ack came)."""
        id = id if id is not None else uid("p")
        op = {"op": "publish", "id": id}
        if single:
            op["event"] = events
        else:
            op["events"] = events
        await self.send(op)
        ack = await self.answer("ack", id=id)
        if ack.get("type") != "ack":
            raise AssertionError(f"publish was not acked: {ack}")
        return ack["seq"]

    async def alive(self):
        """The connection is still open and answering ops."""
        pid = uid("ping")
        await self.send({"op": "ping", "id": pid})
        pong = await self.answer("pong", id=pid)
        return pong.get("type") == "pong"


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


# --------------------------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------------------------
def http_raw(port, method, path, body=None, token=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    if body is not None:
        hdrs.setdefault("Content-Type", "application/json")
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    out = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    conn.close()
    return out


def http_json(port, method, path, body=None, token=None, headers=None):
    status, hdrs, data = http_raw(port, method, path, body, token, headers)
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data
    return status, parsed


class ServerCase(unittest.TestCase):
    server_args = ()
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = RunwatchProcess(*cls.server_args)
        cls.port = cls.server.port
        cls.ws = cls.server.ws_url

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def get(self, path, token=None, headers=None):
        return http_json(self.port, "GET", path, token=token, headers=headers)

    def post(self, body, token=None):
        return http_json(self.port, "POST", "/api/events", body, token=token)

    def post_ok(self, events, token=None):
        status, body = self.post(events, token)
        self.assertEqual(status, 200, body)
        return body["seq"]

    def assertHttpError(self, status_and_body, status, code):
        got_status, body = status_and_body
        self.assertEqual(got_status, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(set(body), {"error"}, body)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertIsInstance(body["error"]["message"], str)
        self.assertTrue(body["error"]["message"])

    def summary(self, run_id):
        status, body = self.get(f"/api/runs/{run_id}")
        self.assertEqual(status, 200, body)
        return body

    def last_seq(self):
        return self.get("/healthz")[1]["last_seq"]


# ============================================================================================
# Open (loopback, no token) server: the bulk of the contract
# ============================================================================================
class WelcomeAndPublish(ServerCase):
    def test_welcome_fields(self):
        async def go():
            seqs = self.post_ok([{"run": uid(), "type": "log", "data": {"message": "x"}}])
            c = await Conn.open(self.ws + "/ws")
            w = c.welcome
            self.assertEqual(w["type"], "welcome")
            self.assertIsInstance(w["client_id"], str)
            self.assertTrue(w["client_id"])
            self.assertEqual(w["protocol"], 1)
            self.assertIsInstance(w["last_seq"], int)
            self.assertEqual(w["last_seq"], seqs[-1])
            # server doc: server, version, role ("admin" on an open loopback server)
            self.assertEqual(w.get("server"), "runwatch")
            self.assertIsInstance(w.get("version"), str)
            self.assertEqual(w.get("role"), "admin")
            d = await Conn.open(self.ws + "/ws")
            self.assertNotEqual(d.welcome["client_id"], w["client_id"])
            # the welcome is the first message on every path
            for path in ("/ws/runs", f"/ws/runs/{uid()}"):
                e = await Conn.open(self.ws + path, welcome=False)
                first = json.loads(await asyncio.wait_for(e.ws.recv(), 5))
                self.assertEqual(first["type"], "welcome")
                self.assertEqual(first["protocol"], 1)
                await e.close()
            await c.close()
            await d.close()
        run(go())

    def test_publish_single_event_with_id_is_acked(self):
        async def go():
            c = await Conn.open(self.ws + "/ws")
            r = uid()
            await c.send({"op": "publish", "id": "one", "event": {"run": r, "type": "log", "data": {"level": "info", "message": "m"}}})
            ack = await c.answer("ack")
            self.assertEqual(ack["type"], "ack")
            self.assertEqual(ack["id"], "one")
            self.assertIsInstance(ack["seq"], list)
            self.assertEqual(len(ack["seq"]), 1)
            self.assertIsInstance(ack["seq"][0], int)
            # numeric ids are echoed as numbers
            await c.send({"op": "publish", "id": 77, "event": {"run": r, "type": "log", "data": {"message": "n"}}})
            ack2 = await c.answer("ack")
            self.assertEqual(ack2["id"], 77)
            self.assertGreater(ack2["seq"][0], ack["seq"][0])
            await c.close()
        run(go())

    def test_publish_events_list_is_acked_with_one_seq_per_event_in_order(self):
        async def go():
            c = await Conn.open(self.ws + "/ws")
            r = uid()
            evs = [{"run": r, "type": "metric", "data": {"step": i, "loss": 1.0 / (i + 1)}} for i in range(5)]
            seqs = await c.publish(evs)
            self.assertEqual(len(seqs), 5)
            self.assertEqual(seqs, sorted(set(seqs)))
            status, stored = self.get(f"/api/runs/{r}/events")
            self.assertEqual([e["seq"] for e in stored], seqs)
            self.assertEqual([e["data"]["step"] for e in stored], list(range(5)))
            await c.close()
        run(go())

    def test_publish_without_id_gets_no_ack_but_is_accepted(self):
        async def go():
            c = await Conn.open(self.ws + "/ws")
            r = uid()
            await c.send({"op": "publish", "event": {"run": r, "type": "log", "data": {"message": "a"}}})
            await c.send({"op": "publish", "events": [{"run": r, "type": "log", "data": {"message": "b"}}]})
            await c.send({"op": "ping", "id": "after"})
            items = await c.through("pong")
            self.assertEqual([o["type"] for _, o in items], ["pong"], items)
            self.assertEqual(items[-1][1]["id"], "after")
            for _ in range(20):
                status, evs = self.get(f"/api/runs/{r}/events")
                if status == 200 and len(evs) == 2:
                    break
                await asyncio.sleep(0.05)
            self.assertEqual([e["data"]["message"] for e in evs], ["a", "b"])
            await c.close()
        run(go())

    def test_seq_strictly_increasing_across_runs_and_connections(self):
        async def go():
            a, b = await Conn.open(self.ws + "/ws"), await Conn.open(self.ws + "/ws")
            r1, r2 = uid(), uid()
            s = []
            s += await a.publish([{"run": r1, "type": "log", "data": {"message": "1"}},
                                  {"run": r2, "type": "log", "data": {"message": "2"}},
                                  {"run": r1, "type": "log", "data": {"message": "3"}}])
            s += await b.publish({"run": r2, "type": "log", "data": {"message": "4"}}, single=True)
            s += self.post_ok({"run": r1, "type": "log", "data": {"message": "5"}})
            s += await a.publish({"run": r2, "type": "log", "data": {"message": "6"}}, single=True)
            self.assertEqual(s, sorted(set(s)), s)
            self.assertTrue(all(isinstance(x, int) for x in s))
            await a.close()
            await b.close()
        run(go())

    def test_run_id_rules(self):
        async def go():
            c = await Conn.open(self.ws + "/ws")
            ok = ["a", "A.b_c:d-9", "x" * 128, uid() + ":eval.1-b_2"]
            for run_id in ok:
                seqs = await c.publish({"run": run_id, "type": "log", "data": {"message": "ok"}}, single=True)
                self.assertEqual(len(seqs), 1, run_id)
            # ids with every allowed punctuation character work in REST and WebSocket paths
            self.assertEqual(self.get("/api/runs/A.b_c:d-9")[0], 200)
            self.assertEqual(self.get("/api/runs/" + "x" * 128 + "/events")[0], 200)
            v = await Conn.open(f"{self.ws}/ws/runs/A.b_c:d-9")
            self.assertEqual([e["run"] for e in await v.events(1)], ["A.b_c:d-9"])
            await v.close()
            bad = ["", "x" * 129, "has space", "slash/x", "q?x", "ümlaut", 5, None]
            for n, run_id in enumerate(bad):
                await c.send({"op": "publish", "id": n, "event": {"run": run_id, "type": "log", "data": {"message": "m"}}})
                err = await c.answer("ack", id=n)
                self.assertEqual((err["type"], err.get("code")), ("error", "INVALID_EVENT"), run_id)
            self.assertTrue(await c.alive())
            await c.close()
        run(go())


class Envelopes(ServerCase):
    def test_envelope_fields_and_step_only_on_step_events(self):
        async def go():
            r = uid()
            v = await Conn.open(f"{self.ws}/ws/runs/{r}")
            p = await Conn.open(self.ws + "/ws")
            sent = [
                {"run": r, "type": "run_started", "data": {"name": "N", "kind": "training"}},
                {"run": r, "type": "metric", "data": {"step": 1, "loss": 0.5}},
                {"run": r, "type": "step_started", "step": "s1", "data": {"name": "Load"}},
                {"run": r, "type": "step_progress", "step": "s1", "data": {"progress": 0.5}},
                {"run": r, "type": "step_completed", "step": "s1", "data": {"result": {"n": 1}}},
                {"run": r, "type": "step_failed", "step": "s2", "data": {"message": "boom"}},
                {"run": r, "type": "log", "data": {"level": "info", "message": "hi"}},
            ]
            seqs = await p.publish(sent)
            got = await v.events(len(sent))
            self.assertEqual([e["seq"] for e in got], seqs)
            for env, ev in zip(got, sent):
                self.assertLessEqual({"seq", "run", "type", "ts", "data"}, set(env))
                self.assertEqual(env["run"], r)
                self.assertEqual(env["type"], ev["type"])
                self.assertEqual(env["data"], ev["data"])
                self.assertRegex(env["ts"], TS_RE)
                if ev["type"].startswith("step_"):
                    self.assertEqual(env["step"], ev["step"])
                else:
                    self.assertNotIn("step", env, env)
                delta = abs((parse_ts(env["ts"]) - datetime.datetime.now(datetime.timezone.utc)).total_seconds())
                self.assertLess(delta, 30)
            # the same envelopes come back from REST
            status, stored = self.get(f"/api/runs/{r}/events")
            self.assertEqual(stored, got)
            await v.close()
            await p.close()
        run(go())

    def test_frames_are_envelopes_or_batches_in_acceptance_order(self):
        async def go():
            r = uid()
            v = await Conn.open(f"{self.ws}/ws/runs/{r}")
            p = await Conn.open(self.ws + "/ws")
            seqs = []
            for i in range(10):
                seqs += await p.publish([{"run": r, "type": "metric", "data": {"step": i * 3 + j, "x": j}} for j in range(3)])
            got = await v.events(30)
            self.assertEqual([e["seq"] for e in got], seqs)
            for f in v.frames[1:]:
                if f.get("type") == "batch":
                    self.assertIsInstance(f["events"], list)
                    self.assertTrue(f["events"], "an empty batch frame")
                    self.assertTrue(all(is_envelope(e) for e in f["events"]))
                else:
                    self.assertTrue(is_envelope(f), f)
            await v.close()
            await p.close()
        run(go())

    def test_producer_timestamps_are_normalised_to_utc_milliseconds(self):
        async def go():
            r = uid()
            p = await Conn.open(self.ws + "/ws")
            base = datetime.datetime(2026, 11, 23, 12, 0, 0, 500000, tzinfo=datetime.timezone.utc)
            sent = [
                ("2026-11-23T14:00:00.5+02:00", "2026-11-23T12:00:00.500Z"),
                ("2026-11-23T12:00:00Z", "2026-11-23T12:00:00.000Z"),
                ("2026-11-23T12:00:00.123Z", "2026-11-23T12:00:00.123Z"),
                (base.timestamp(), iso_ms(base)),                       # seconds since the epoch
                (int(base.timestamp() * 1000), iso_ms(base)),           # milliseconds (> 10^11)
            ]
            seqs = await p.publish([{"run": r, "type": "log", "ts": ts, "data": {"message": str(i)}}
                                    for i, (ts, _) in enumerate(sent)])
            status, stored = self.get(f"/api/runs/{r}/events")
            self.assertEqual([e["seq"] for e in stored], seqs)
            self.assertEqual([e["ts"] for e in stored], [want for _, want in sent])
            await p.close()
        run(go())

    def test_custom_event_types_are_stored_and_forwarded_unchanged(self):
        async def go():
            r = uid()
            v = await Conn.open(f"{self.ws}/ws/runs/{r}")
            p = await Conn.open(self.ws + "/ws")
            data = {"score": 0.93, "nested": {"list": [1, "two", None, True, {"k": "v"}]}, "text": "ünï \u2603 \"q\"",
                    "big": 12345678901234, "neg": -3.5e-7, "empty": {}, "flag": False}
            sent = [{"run": r, "type": "quality_check", "data": data},
                    {"run": r, "type": "agent_spawned", "data": {"agent": "a1"}},
                    {"run": r, "type": "result", "data": data},
                    {"run": r, "type": "run_completed", "data": {"summary": data}}]
            await p.publish(sent)
            got = await v.events(len(sent))
            for env, ev in zip(got, sent):
                self.assertEqual(env["type"], ev["type"])
                self.assertEqual(env["data"], ev["data"])
            await v.close()
            await p.close()
        run(go())


class ReplayAndSubscriptions(ServerCase):
    def _log(self, r, n, start=0):
        return [{"run": r, "type": "log", "data": {"message": str(start + i)}} for i in range(n)]

    def test_replay_then_live_on_run_path(self):
        async def go():
            r = uid()
            p = await Conn.open(self.ws + "/ws")
            hist = await p.publish(self._log(r, 5))
            v = await Conn.open(f"{self.ws}/ws/runs/{r}")
            got = await v.events(5)
            self.assertEqual([e["seq"] for e in got], hist)
            live = await p.publish(self._log(r, 2, 5))
            got = await v.events(2)
            self.assertEqual([e["seq"] for e in got], live)
            # path subscriptions get no `subscribed` message (server doc)
            self.assertEqual([o for k, o in await v.drain(0.2)], [])
            await v.close()
            await p.close()
        run(go())

    def test_no_gap_no_duplicate_at_the_seam_while_events_keep_arriving(self):
        async def go():
            r = uid()
            p = await Conn.open(self.ws + "/ws")
            acked = []
            async def produce():
                for i in range(40):
                    acked.extend(await p.publish(self._log(r, 25, i * 25)))
            task = asyncio.create_task(produce())
            while len(acked) < 200:
                await asyncio.sleep(0.005)
            v = await Conn.open(f"{self.ws}/ws/runs/{r}")
            w = await Conn.open(self.ws + "/ws")
            await w.send({"op": "subscribe", "run": r, "id": "s"})
            await task
            got = await v.events(1000, timeout=15)
            self.assertEqual([e["seq"] for e in got], acked)
            items = await w.items_with(1000, timeout=15)
            seqs = [o["seq"] for k, o in items if k == "ev"]
            self.assertEqual(seqs, acked)
            sub = [o for k, o in items if k == "msg" and o["type"] == "subscribed"]
            self.assertEqual(len(sub), 1, items[:3])
            cut = items.index(("msg", sub[0]))
            before = [o["seq"] for k, o in items[:cut] if k == "ev"]
            after = [o["seq"] for k, o in items[cut:] if k == "ev"]
            self.assertTrue(all(s <= sub[0]["last_seq"] for s in before))
            self.assertTrue(all(s > sub[0]["last_seq"] for s in after))
            for c in (p, v, w):
                await c.close()
        run(go())

    def test_since_and_replay_on_run_path(self):
        async def go():
            r = uid()
            p = await Conn.open(self.ws + "/ws")
            hist = await p.publish(self._log(r, 4))
            v = await Conn.open(f"{self.ws}/ws/runs/{r}?since={hist[1]}")
            got = await v.events(2)
            self.assertEqual([e["seq"] for e in got], hist[2:])
            live_only = await Conn.open(f"{self.ws}/ws/runs/{r}?replay=0")
            self.assertEqual(await live_only.drain(0.3), [])
            live = await p.publish(self._log(r, 1, 4))
            self.assertEqual([e["seq"] for e in await live_only.events(1)], live)
            self.assertEqual([e["seq"] for e in await v.events(1)], live)
            everything = await Conn.open(f"{self.ws}/ws/runs/{r}?since=0")
            self.assertEqual([e["seq"] for e in await everything.events(5)], hist + live)
            for c in (p, v, live_only, everything):
                await c.close()
        run(go())

    def test_subscribe_op_replay_subscribed_live(self):
        async def go():
            r = uid()
            p = await Conn.open(self.ws + "/ws")
            hist = await p.publish(self._log(r, 3))
            c = await Conn.open(self.ws + "/ws")
            await c.send({"op": "subscribe", "run": r, "id": "sub1"})
            items = await c.through("subscribed")
            self.assertEqual([o["seq"] for k, o in items if k == "ev"], hist)
            sub = items[-1][1]
            self.assertEqual(sub["type"], "subscribed")
            self.assertEqual(sub["run"], r)
            self.assertIsInstance(sub["last_seq"], int)
            self.assertGreaterEqual(sub["last_seq"], hist[-1])
            with self.subTest("server doc: answers repeat the op's id"):
                self.assertEqual(sub.get("id"), "sub1")
            live = await p.publish(self._log(r, 1, 3))
            self.assertEqual([e["seq"] for e in await c.events(1)], live)
            for x in (p, c):
                await x.close()
        run(go())

    def test_subscribe_op_since_and_replay_false(self):
        async def go():
            r = uid()
            p = await Conn.open(self.ws + "/ws")
            hist = await p.publish(self._log(r, 3))
            c = await Conn.open(self.ws + "/ws")
            await c.send({"op": "subscribe", "run": r, "since": hist[0]})
            items = await c.through("subscribed")
            self.assertEqual([o["seq"] for k, o in items if k == "ev"], hist[1:])
            d = await Conn.open(self.ws + "/ws")
            await d.send({"op": "subscribe", "run": r, "replay": False})
            items = await d.through("subscribed")
            self.assertEqual([k for k, _ in items], ["msg"], items)
            e = await Conn.open(self.ws + "/ws")
            await e.send({"op": "subscribe", "run": r, "replay": 0})
            items = await e.through("subscribed")
            self.assertEqual([k for k, _ in items], ["msg"], items)
            live = await p.publish(self._log(r, 1, 3))
            for x in (c, d, e):
                self.assertEqual([ev["seq"] for ev in await x.events(1)], live)
            for x in (p, c, d, e):
                await x.close()
        run(go())

    def test_since_and_replay_query_parameters_on_general_socket(self):
        async def go():
            r = uid()
            p = await Conn.open(self.ws + "/ws")
            hist = await p.publish(self._log(r, 3))
            c = await Conn.open(f"{self.ws}/ws?since={hist[1]}")
            await c.send({"op": "subscribe", "run": r})
            items = await c.through("subscribed")
            self.assertEqual([o["seq"] for k, o in items if k == "ev"], hist[2:])
            d = await Conn.open(f"{self.ws}/ws?replay=0")
            await d.send({"op": "subscribe", "run": r})
            items = await d.through("subscribed")
            self.assertEqual([o["seq"] for k, o in items if k == "ev"], [], "replay=0 on /ws must mean live only")
            for x in (p, c, d):
                await x.close()
        run(go())

    def test_subscribe_star_gets_every_run(self):
        async def go():
            r1, r2 = uid(), uid()
            start = self.last_seq()
            p = await Conn.open(self.ws + "/ws")
            hist = await p.publish(self._log(r1, 1) + self._log(r2, 1))
            c = await Conn.open(self.ws + "/ws")
            await c.send({"op": "subscribe", "run": "*", "since": start, "id": 5})
            items = await c.through("subscribed")
            self.assertEqual([o["seq"] for k, o in items if k == "ev"], hist)
            self.assertEqual(items[-1][1]["run"], "*")
            r3 = uid()
            live = await p.publish(self._log(r3, 1) + self._log(r1, 1))
            got = await c.events(2)
            self.assertEqual([(e["run"], e["seq"]) for e in got], [(r3, live[0]), (r1, live[1])])
            d = await Conn.open(self.ws + "/ws")
            await d.send({"op": "subscribe", "run": "*", "replay": False})
            self.assertEqual([k for k, _ in await d.through("subscribed")], ["msg"])
            live2 = await p.publish(self._log(r2, 1))
            self.assertEqual([e["seq"] for e in await d.events(1)], live2)
            for x in (p, c, d):
                await x.close()
        run(go())

    def test_subscribe_unknown_run_then_events_arrive(self):
        async def go():
            r = uid()
            c = await Conn.open(self.ws + "/ws")
            await c.send({"op": "subscribe", "run": r, "id": 1})
            sub = await c.answer("subscribed")
            self.assertEqual((sub["type"], sub["run"]), ("subscribed", r))
            seqs = self.post_ok([{"run": r, "type": "log", "data": {"message": "later"}}])
            self.assertEqual([e["seq"] for e in await c.events(1)], seqs)
            await c.close()
        run(go())

    def test_subscribing_twice_does_not_duplicate(self):
        async def go():
            r = uid()
            c = await Conn.open(self.ws + "/ws")
            for i in range(2):
                await c.send({"op": "subscribe", "run": r, "id": i})
                self.assertEqual((await c.answer("subscribed"))["type"], "subscribed")
            seqs = self.post_ok([{"run": r, "type": "log", "data": {"message": "x"}}])
            items = await c.drain(0.4)
            self.assertEqual([o["seq"] for k, o in items if k == "ev"], seqs)
            await c.close()
        run(go())

    def test_unsubscribe(self):
        async def go():
            r, other = uid(), uid()
            c = await Conn.open(self.ws + "/ws")
            for x in (r, other):
                await c.send({"op": "subscribe", "run": x})
                await c.answer("subscribed")
            await c.send({"op": "unsubscribe", "run": r, "id": "u"})
            un = await c.answer("unsubscribed")
            self.assertEqual(un["type"], "unsubscribed")
            self.assertEqual(un["run"], r)
            with self.subTest("server doc: answers repeat the op's id"):
                self.assertEqual(un.get("id"), "u")
            seqs = self.post_ok([{"run": r, "type": "log", "data": {"message": "x"}},
                                 {"run": other, "type": "log", "data": {"message": "y"}}])
            got = await c.events(1)
            self.assertEqual([(e["run"], e["seq"]) for e in got], [(other, seqs[1])])
            self.assertEqual(await c.drain(0.3), [])
            # the server no longer counts it as a subscriber
            status, subs = self.get(f"/api/runs/{r}/subscribers")
            self.assertEqual((status, subs), (200, {"run": r, "subscribers": 0}))
            await c.close()
        run(go())

    def test_lifecycle_socket_only_carries_lifecycle_events(self):
        async def go():
            r = uid()
            start = self.last_seq()
            life = await Conn.open(f"{self.ws}/ws/runs?since={start}")
            p = await Conn.open(self.ws + "/ws")
            sent = [
                {"run": r, "type": "run_started", "data": {"name": "L", "kind": "workflow"}},
                {"run": r, "type": "run_status", "data": {"status": "paused"}},
                {"run": r, "type": "progress", "data": {"completed": 1, "total": 4}},
                {"run": r, "type": "metric", "data": {"step": 1, "loss": 1.0}},
                {"run": r, "type": "step_started", "step": "s", "data": {}},
                {"run": r, "type": "step_progress", "step": "s", "data": {"progress": 0.2}},
                {"run": r, "type": "step_completed", "step": "s", "data": {}},
                {"run": r, "type": "step_failed", "step": "t", "data": {}},
                {"run": r, "type": "log", "data": {"level": "error", "message": "m"}},
                {"run": r, "type": "token", "data": {"text": "tok"}},
                {"run": r, "type": "result", "data": {"ok": True}},
                {"run": r, "type": "error", "data": {"message": "e"}},
                {"run": r, "type": "quality_check", "data": {}},
                {"run": r, "type": "run_completed", "data": {}},
                {"run": r, "type": "run_failed", "data": {"message": "late"}},
            ]
            seqs = await p.publish(sent)
            want = [(s, e["type"]) for s, e in zip(seqs, sent) if e["type"] in LIFECYCLE]
            got = await life.events(len(want))
            self.assertEqual([(e["seq"], e["type"]) for e in got], want)
            extra = [o for k, o in await life.drain(0.3)]
            self.assertEqual(extra, [])
            # history first: a later connection replays the same lifecycle events
            late = await Conn.open(f"{self.ws}/ws/runs?since={start}")
            got = await late.events(len(want))
            self.assertEqual([(e["seq"], e["type"]) for e in got], want)
            self.assertEqual(await late.drain(0.3), [])
            # replay=0: live only
            live = await Conn.open(f"{self.ws}/ws/runs?replay=0")
            self.assertEqual(await live.drain(0.3), [])
            s2 = await p.publish([{"run": r, "type": "log", "data": {"message": "no"}},
                                  {"run": r, "type": "run_status", "data": {"status": "running"}}])
            self.assertEqual([e["seq"] for e in await live.events(1)], s2[1:])
            for x in (life, p, late, live):
                await x.close()
        run(go())


class ErrorsOnTheSocket(ServerCase):
    server_args = ()

    def test_invalid_json_keeps_connection_open(self):
        async def go():
            r = uid()
            c = await Conn.open(self.ws + "/ws")
            good = await c.publish({"run": r, "type": "log", "data": {"message": "kept"}}, single=True)
            for frame in ["not json", "{\"op\": \"publish\",", "", "[1, 2]", "42", "\"str\"", b"\x00\x01binary",
                          "[" * 100 + "]" * 100]:
                await c.send(frame)
                err = await c.answer("error")
                self.assertEqual(err["type"], "error", frame)
                self.assertEqual(err["code"], "INVALID_JSON", frame)
                self.assertIsInstance(err["message"], str)
                self.assertTrue(err["message"])
                self.assertTrue(await c.alive())
            status, evs = self.get(f"/api/runs/{r}/events")
            self.assertEqual([e["seq"] for e in evs], good)
            await c.close()
        run(go())

    def test_invalid_event_variants_echo_id_and_accept_nothing(self):
        async def go():
            r = uid()
            c = await Conn.open(self.ws + "/ws")
            good = {"run": r, "type": "log", "data": {"message": "m"}}
            bad = [
                {"type": "log", "data": {"message": "m"}},                     # no run
                {"run": r, "data": {"message": "m"}},                          # no type
                {"run": r, "type": "", "data": {}},                            # empty type
                {"run": r, "type": 7, "data": {}},                             # type not a string
                {"run": r, "type": "log"},                                     # no data, so no message
                {"run": r, "type": "quality_check", "data": [1, 2]},           # data not an object
                {"run": r, "type": "quality_check", "data": "text"},
                {"run": r, "type": "step_started", "data": {"name": "x"}},     # step event without step
                {"run": r, "type": "step_started", "step": "", "data": {}},      # server doc: 1 to 128
                {"run": r, "type": "step_started", "step": "s" * 129, "data": {}},  # printable characters
                {"run": r, "type": "step_started", "step": "a\nb", "data": {}},
                {"run": r, "type": "step_started", "step": 5.5, "data": {}},      # a number must be whole
                {"run": r, "type": "metric", "data": {"step": 1, "loss": "abc"}},
                {"run": r, "type": "metric", "data": {"step": 1, "loss": [1]}},
                {"run": r, "type": "metric", "data": {"step": 1, "train": {"loss": "abc"}}},
                {"run": r, "type": "metric", "data": {"step": 1}},             # no metric value
                {"run": r, "type": "metric", "data": {"step": -1, "loss": 1}},
                {"run": r, "type": "metric", "data": {"step": 1.5, "loss": 1}},
                {"run": r, "type": "run_status", "data": {"status": "exploded"}},
                {"run": r, "type": "run_status", "data": {}},
                {"run": r, "type": "run_started", "data": {"kind": "cooking"}},
                {"run": r, "type": "run_started", "data": {"config": [1]}},
                {"run": r, "type": "run_started", "data": {"tags": "a,b"}},
                {"run": r, "type": "progress", "data": {"total": 5}},
                {"run": r, "type": "progress", "data": {"completed": -1}},
                {"run": r, "type": "step_progress", "step": "s", "data": {"progress": 1.5}},
                {"run": r, "type": "log", "data": {"level": "loud", "message": "m"}},
                {"run": r, "type": "log", "data": {"level": "info"}},
                {"run": r, "type": "token", "data": {"stream": "s"}},
                {"run": r, "type": "error", "data": {"code": "E"}},
            ]
            for n, ev in enumerate(bad):
                rn = f"{r}-{n}"
                ev = dict(ev, run=rn) if "run" in ev else ev
                await c.send({"op": "publish", "id": f"b{n}", "events": [dict(good, run=rn), ev]})
                err = await c.answer("ack", id=f"b{n}")
                with self.subTest("INVALID_EVENT", event=ev):
                    self.assertEqual(err["type"], "error", err)
                    self.assertEqual(err["code"], "INVALID_EVENT", err)
                    self.assertEqual(err["id"], f"b{n}")
                    self.assertTrue(err["message"])
                    # all-or-nothing: the valid event in front of the invalid one was not stored
                    self.assertHttpError(self.get(f"/api/runs/{rn}"), 404, "UNKNOWN_RUN")
            # Bad arguments of an op (not of an event) are INVALID_REQUEST.
            await c.send({"op": "publish", "id": "none"})
            err = await c.answer("ack", id="none")
            self.assertEqual((err["type"], err.get("code")), ("error", "INVALID_REQUEST"))
            await c.send({"op": "subscribe", "id": "nosub"})
            err = await c.answer("subscribed", id="nosub")
            self.assertEqual((err["type"], err.get("code")), ("error", "INVALID_REQUEST"))
            self.assertTrue(await c.alive())
            await c.close()
        run(go())

    def test_unknown_op_and_missing_op(self):
        async def go():
            c = await Conn.open(self.ws + "/ws")
            await c.send({"op": "frobnicate", "id": "f1"})
            err = await c.answer("x", id="f1")
            self.assertEqual((err["type"], err["code"], err["id"]), ("error", "UNKNOWN_OP", "f1"))
            await c.send({"id": 12, "run": "x"})
            err = await c.answer("x", id=12)
            self.assertEqual((err["type"], err["code"]), ("error", "UNKNOWN_OP"))
            self.assertTrue(await c.alive())
            await c.close()
        run(go())

    def test_ping_op_and_protocol_ping(self):
        async def go():
            c = await Conn.open(self.ws + "/ws")
            await c.send({"op": "ping", "id": 3})
            pong = await c.answer("pong")
            self.assertEqual(pong, {"type": "pong", "id": 3} | {k: v for k, v in pong.items() if k not in ("type", "id")})
            await c.send({"op": "ping", "id": "s"})
            self.assertEqual((await c.answer("pong"))["id"], "s")
            await c.send({"op": "ping"})
            pong = await c.answer("pong")
            self.assertEqual(pong["type"], "pong")
            self.assertIsNone(pong.get("id"))
            waiter = await c.ws.ping(b"hello")
            await asyncio.wait_for(waiter, 5)
            await c.close()
        run(go())

    def test_too_many_events_in_one_publish(self):
        async def go():
            r = uid()
            c = await Conn.open(self.ws + "/ws")
            await c.send({"op": "publish", "id": "big", "events": [{"run": r, "type": "quality_check", "data": {}}] * 10001})
            err = await c.answer("ack", id="big", timeout=10)
            self.assertEqual((err["type"], err.get("code"), err.get("id")), ("error", "TOO_LARGE", "big"))
            self.assertTrue(await c.alive())
            self.assertHttpError(self.get(f"/api/runs/{r}"), 404, "UNKNOWN_RUN")
            # exactly the limit is fine
            seqs = await c.publish([{"run": r, "type": "quality_check", "data": {}}] * 10000, id="max")
            self.assertEqual(len(seqs), 10000)
            status, body = self.post([{"run": r, "type": "quality_check", "data": {}}] * 10001)
            self.assertHttpError((status, body), 413, "TOO_LARGE")
            await c.close()
        run(go())

    def test_too_many_subscriptions(self):
        async def go():
            c = await Conn.open(self.ws + "/ws")
            for i in range(256):
                await c.send({"op": "subscribe", "run": f"sub-{i}", "replay": False})
            for i in range(256):
                self.assertEqual((await c.answer("subscribed"))["type"], "subscribed")
            await c.send({"op": "subscribe", "run": "sub-256", "id": "over"})
            err = await c.answer("subscribed", id="over")
            self.assertEqual((err["type"], err.get("code")), ("error", "TOO_LARGE"))
            self.assertTrue(await c.alive())
            await c.close()
        run(go())

    def test_bad_since_on_websocket_url(self):
        async def go():
            c = await Conn.open(f"{self.ws}/ws/runs/{uid()}?since=abc", welcome=False)
            code, items = await c.until_closed()
            msgs = [o for k, o in items if k == "msg"]
            self.assertEqual(code, 4400)
            self.assertIn("INVALID_REQUEST", [m.get("code") for m in msgs if m["type"] == "error"])
        run(go())

    def test_bad_frame_loses_nothing_already_accepted(self):
        async def go():
            r = uid()
            c = await Conn.open(self.ws + "/ws")
            a = await c.publish({"run": r, "type": "log", "data": {"message": "1"}}, single=True)
            await c.send("garbage")
            await c.answer("error")
            await c.send({"op": "publish", "id": 1, "event": {"run": r, "type": "log"}})
            await c.answer("ack", id=1)
            b = await c.publish({"run": r, "type": "log", "data": {"message": "2"}}, single=True)
            status, evs = self.get(f"/api/runs/{r}/events")
            self.assertEqual([e["seq"] for e in evs], a + b)
            self.assertEqual(self.summary(r)["event_count"], 2)
            await c.close()
        run(go())


class RunState(ServerCase):
    def test_every_event_type_and_its_effect_on_the_summary(self):
        r = uid()
        post = self.post_ok
        post({"run": r, "type": "run_started", "data": {"name": "Fine-tune", "kind": "evaluation", "config": {"lr": 0.1},
                                                        "total_steps": 100, "total_epochs": 3, "tags": ["a", "b"]}})
        s = self.summary(r)
        for f in SUMMARY_FIELDS + ["steps"]:
            with self.subTest("summary field present", field=f):
                self.assertIn(f, s)
        with self.subTest("run_started"):
            self.assertEqual((s["id"], s["name"], s["kind"], s["status"]), (r, "Fine-tune", "evaluation", "running"))
            self.assertEqual((s["config"], s["tags"], s["total_epochs"]), ({"lr": 0.1}, ["a", "b"], 3))
            self.assertRegex(s["started_at"], TS_RE)
            self.assertIsNone(s["ended_at"])
            self.assertIsNone(s["progress"])
            self.assertEqual((s["event_count"], s["error_count"]), (1, 0))
            self.assertEqual(s["steps"], [] if isinstance(s["steps"], list) else {})
        with self.subTest("fields not known yet are null", field="status_message"):
            self.assertIsNone(s.get("status_message"))

        for st in ("pending", "running", "paused", "completed", "failed", "cancelled", "running"):
            post({"run": r, "type": "run_status", "data": {"status": st, "message": f"now {st}"}})
            s = self.summary(r)
            with self.subTest("run_status", status=st):
                self.assertEqual((s["status"], s.get("status_message")), (st, f"now {st}"))

        post({"run": r, "type": "progress", "data": {"completed": 25, "total": 100, "epoch": 1, "total_epochs": 3,
                                                     "eta_s": 30, "tokens_per_s": 7}})
        s = self.summary(r)
        with self.subTest("progress"):
            self.assertAlmostEqual(s["progress"], 0.25)
            self.assertEqual((s.get("completed"), s.get("total"), s["current_epoch"], s.get("eta_s")), (25, 100, 1, 30))

        post([{"run": r, "type": "metric", "data": {"step": 30, "loss": 0.5, "acc": 0.9}},
              {"run": r, "type": "metric", "data": {"step": 31, "loss": 0.4}}])
        s = self.summary(r)
        with self.subTest("metric"):
            self.assertEqual(s["metrics"], {"loss": 0.4, "acc": 0.9})
            self.assertEqual(s["current_step"], 31)

        post([{"run": r, "type": "step_started", "step": "s1", "data": {"name": "Load"}},
              {"run": r, "type": "step_progress", "step": "s1", "data": {"progress": 0.5, "message": "half"}}])
        with self.subTest("step_started/step_progress"):
            steps = self._steps(r)
            self.assertEqual(steps["s1"]["status"], "running")
            self.assertEqual(steps["s1"]["name"], "Load")
            self.assertAlmostEqual(steps["s1"]["progress"], 0.5)
            self.assertEqual(steps["s1"]["message"], "half")
            self.assertRegex(steps["s1"]["started_at"], TS_RE)
        post([{"run": r, "type": "step_completed", "step": "s1", "data": {"result": {"rows": 10}}},
              {"run": r, "type": "step_started", "step": "s2", "data": {"name": "Train"}},
              {"run": r, "type": "step_failed", "step": "s2", "data": {"message": "boom"}}])
        with self.subTest("step_completed/step_failed"):
            steps = self._steps(r)
            self.assertEqual(steps["s1"]["status"], "completed")
            self.assertEqual(steps["s1"]["result"], {"rows": 10})
            self.assertRegex(steps["s1"]["ended_at"], TS_RE)
            self.assertEqual((steps["s2"]["status"], steps["s2"]["message"]), ("failed", "boom"))
            self.assertRegex(steps["s2"]["ended_at"], TS_RE)
            s = self.summary(r)
            self.assertEqual(s["step_counts"].get("completed"), 1)
            self.assertEqual(s["step_counts"].get("failed"), 1)

        before = self.summary(r)
        post({"run": r, "type": "log", "data": {"level": "info", "message": "hello"}})
        s = self.summary(r)
        with self.subTest("log info"):
            self.assertEqual((s["event_count"], s["error_count"]), (before["event_count"] + 1, before["error_count"]))
        post({"run": r, "type": "log", "data": {"level": "error", "message": "bad log"}})
        s = self.summary(r)
        with self.subTest("log error counts as an error (server doc)"):
            self.assertEqual(s["error_count"], before["error_count"] + 1)
        post({"run": r, "type": "token", "data": {"text": "Hello", "stream": "answer"}})
        with self.subTest("token"):
            self.assertEqual(self.summary(r)["event_count"], before["event_count"] + 3)

        before = self.summary(r)
        post([{"run": r, "type": "result", "data": {"item": 1, "success": True}},
              {"run": r, "type": "result", "data": {"item": 2, "success": False}}])
        s = self.summary(r)
        with self.subTest("result count"):
            self.assertEqual(s["result_count"], before["result_count"] + 2)
        with self.subTest("result success_rate (server doc)"):
            self.assertAlmostEqual(s.get("success_rate"), 0.5)
        with self.subTest("contract: result -> counters: results, errors"):
            self.assertEqual(s["error_count"], before["error_count"] + 1)

        before = s
        post({"run": r, "type": "error", "data": {"message": "CUDA out of memory", "code": "OOM"}})
        s = self.summary(r)
        with self.subTest("error"):
            self.assertEqual(s["error_count"], before["error_count"] + 1)
            self.assertIn("CUDA out of memory", json.dumps(s["last_error"]))

        post({"run": r, "type": "quality_check", "data": {"score": 1}})
        with self.subTest("custom type"):
            self.assertEqual(self.summary(r)["event_count"], before["event_count"] + 2)

        post({"run": r, "type": "run_completed", "data": {"summary": {"acc": 0.9}}})
        s = self.summary(r)
        with self.subTest("run_completed"):
            self.assertEqual(s["status"], "completed")
            self.assertRegex(s["ended_at"], TS_RE)
            self.assertGreaterEqual(parse_ts(s["ended_at"]), parse_ts(s["started_at"]))
            self.assertRegex(s["updated_at"], TS_RE)
            self.assertEqual(s["last_seq"], self.get(f"/api/runs/{r}/events")[1][-1]["seq"])

        # the list carries the same summary
        status, runs = self.get("/api/runs")
        self.assertEqual(status, 200)
        self.assertIsInstance(runs, list)
        mine = [x for x in runs if x["id"] == r]
        self.assertEqual(len(mine), 1)
        for f in SUMMARY_FIELDS:
            with self.subTest("GET /api/runs carries the summary", field=f):
                self.assertIn(f, mine[0])
                self.assertEqual(mine[0][f], s.get(f))

    def _steps(self, r):
        steps = self.summary(r)["steps"]
        if isinstance(steps, dict):
            return steps
        return {x["id"]: x for x in steps}

    def test_run_failed(self):
        r = uid()
        self.post_ok([{"run": r, "type": "run_started", "data": {"kind": "training"}},
                      {"run": r, "type": "run_failed", "data": {"message": "loss diverged"}}])
        s = self.summary(r)
        self.assertEqual(s["status"], "failed")
        self.assertRegex(s["ended_at"], TS_RE)
        self.assertIn("loss diverged", json.dumps(s["last_error"]))

    def test_run_created_by_first_event_of_any_type(self):
        r = uid()
        self.post_ok({"run": r, "type": "metric", "data": {"step": 1, "loss": 2.0}})
        s = self.summary(r)
        self.assertEqual(s["id"], r)
        self.assertEqual(s["metrics"], {"loss": 2.0})

    def test_non_finite_metric_values_are_kept_and_shown(self):
        async def go():
            r = uid()
            v = await Conn.open(f"{self.ws}/ws/runs/{r}")
            c = await Conn.open(self.ws + "/ws")
            nan, inf = float("nan"), float("inf")
            # Python's json.dumps writes bare NaN / Infinity / -Infinity tokens
            frame = json.dumps({"op": "publish", "id": "nf", "events": [
                {"run": r, "type": "metric", "data": {"step": 1, "loss": nan, "grad": inf, "low": -inf}},
                {"run": r, "type": "metric", "data": {"step": 2, "loss": "NaN", "grad": "Infinity", "low": "-Infinity"}},
            ]})
            self.assertIn("NaN", frame)
            await c.send(frame)
            ack = await c.answer("ack", id="nf")
            self.assertEqual(ack["type"], "ack", ack)
            got = await v.events(2)
            for env in got:
                self.assertEqual(env["data"]["loss"], "NaN")
                self.assertEqual(env["data"]["grad"], "Infinity")
                self.assertEqual(env["data"]["low"], "-Infinity")
            # the same over HTTP, bare tokens in the body
            status, body = http_json(self.port, "POST", "/api/events", json.dumps(
                [{"run": r, "type": "metric", "data": {"step": 3, "loss": nan, "grad": -inf, "low": inf}}]))
            self.assertEqual(status, 200, body)
            s = self.summary(r)
            self.assertEqual(s["metrics"], {"loss": "NaN", "grad": "-Infinity", "low": "Infinity"})
            status, series = self.get(f"/api/runs/{r}/metrics/loss")
            self.assertEqual([p[1] for p in series["points"]], ["NaN", "NaN", "NaN"])
            status, series = self.get(f"/api/runs/{r}/metrics/grad")
            self.assertEqual([p[1] for p in series["points"]], ["Infinity", "Infinity", "-Infinity"])
            status, hdrs, data = http_raw(self.port, "GET", f"/api/runs/{r}/metrics/low?format=csv")
            rows = data.decode().strip().splitlines()
            self.assertEqual([row.split(",")[1] for row in rows[1:]], ["-Infinity", "-Infinity", "Infinity"])
            status, evs = self.get(f"/api/runs/{r}/events")
            self.assertEqual([e["data"]["loss"] for e in evs], ["NaN"] * 3)
            await v.close()
            await c.close()
        run(go())


class HttpApi(ServerCase):
    def test_dashboard_and_healthz(self):
        status, hdrs, data = http_raw(self.port, "GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(hdrs.get("content-type", "").startswith("text/html"), hdrs)
        self.assertIn(b"<html", data.lower())
        status, h = self.get("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(h["status"], "ok")
        self.assertIsInstance(h["version"], str)
        self.assertIsInstance(h["uptime_s"], (int, float))
        self.assertGreaterEqual(h["uptime_s"], 0)
        self.assertIsInstance(h["last_seq"], int)
        self.assertIsInstance(h.get("runs"), int)
        self.assertIsInstance(h.get("clients"), int)
        seqs = self.post_ok({"run": uid(), "type": "log", "data": {"message": "x"}})
        self.assertEqual(self.get("/healthz")[1]["last_seq"], seqs[0])

    def test_post_events_single_and_array(self):
        r = uid()
        status, body = self.post({"run": r, "type": "log", "data": {"message": "one"}})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["accepted"], 1)
        self.assertEqual(len(body["seq"]), 1)
        status, body2 = self.post([{"run": r, "type": "log", "data": {"message": str(i)}} for i in range(3)])
        self.assertEqual(status, 200, body2)
        self.assertEqual(body2["accepted"], 3)
        self.assertEqual(len(body2["seq"]), 3)
        self.assertEqual(body2["seq"], sorted(body2["seq"]))
        self.assertGreater(body2["seq"][0], body["seq"][0])

    def test_post_errors(self):
        r = uid()
        self.assertHttpError(http_json(self.port, "POST", "/api/events", "not json"), 400, "INVALID_JSON")
        self.assertHttpError(http_json(self.port, "POST", "/api/events", "42"), 400, "INVALID_JSON")
        self.assertHttpError(self.post({"run": r, "type": "log"}), 400, "INVALID_EVENT")
        self.assertHttpError(self.post([{"run": r, "type": "log", "data": {"message": "ok"}},
                                        {"run": "bad id", "type": "log", "data": {"message": "no"}}]), 400, "INVALID_EVENT")
        self.assertHttpError(self.get(f"/api/runs/{r}"), 404, "UNKNOWN_RUN")  # all or nothing

    def test_events_endpoint_since_limit_and_paging(self):
        r = uid()
        seqs = self.post_ok([{"run": r, "type": "log", "data": {"message": str(i)}} for i in range(5)])
        self.post_ok({"run": uid(), "type": "log", "data": {"message": "other run"}})
        status, evs = self.get(f"/api/runs/{r}/events")
        self.assertEqual([e["seq"] for e in evs], seqs)
        status, evs = self.get(f"/api/runs/{r}/events?since={seqs[1]}")
        self.assertEqual([e["seq"] for e in evs], seqs[2:])
        status, hdrs, data = http_raw(self.port, "GET", f"/api/runs/{r}/events?limit=2")
        self.assertEqual([e["seq"] for e in json.loads(data)], seqs[:2])
        self.assertEqual(hdrs.get("x-runwatch-next-since"), str(seqs[1]))
        status, hdrs, data = http_raw(self.port, "GET", f"/api/runs/{r}/events?since={seqs[1]}&limit=2")
        self.assertEqual([e["seq"] for e in json.loads(data)], seqs[2:4])
        status, hdrs, data = http_raw(self.port, "GET", f"/api/runs/{r}/events?since={seqs[3]}&limit=2")
        self.assertEqual([e["seq"] for e in json.loads(data)], seqs[4:])
        self.assertNotIn("x-runwatch-next-since", hdrs)
        status, evs = self.get(f"/api/runs/{r}/events?since={seqs[-1]}")
        self.assertEqual((status, evs), (200, []))
        self.assertHttpError(self.get(f"/api/runs/{r}/events?since=abc"), 400, "INVALID_REQUEST")
        self.assertHttpError(self.get(f"/api/runs/{r}/events?limit=-1"), 400, "INVALID_REQUEST")
        self.assertHttpError(self.get(f"/api/runs/{uid()}/events"), 404, "UNKNOWN_RUN")

    def test_metric_names_and_series(self):
        r = uid()
        self.post_ok([{"run": r, "type": "metric", "data": {"step": 1, "zeta": 1, "loss": 2, "eval_loss": 3}},
                      {"run": r, "type": "metric", "data": {"step": 2, "loss": 1.5}}])
        status, names = self.get(f"/api/runs/{r}/metrics")
        self.assertEqual((status, names), (200, ["eval_loss", "loss", "zeta"]))
        status, series = self.get(f"/api/runs/{r}/metrics/loss")
        self.assertEqual(status, 200)
        self.assertEqual((series["run"], series["name"], series["total"]), (r, "loss", 2))
        self.assertEqual([p[:2] for p in series["points"]], [[1, 2], [2, 1.5]])
        evs = self.get(f"/api/runs/{r}/events")[1]
        self.assertEqual([p[2] for p in series["points"]], [int(parse_ts(e["ts"]).timestamp() * 1000) for e in evs])
        status, hdrs, data = http_raw(self.port, "GET", f"/api/runs/{r}/metrics/loss?format=csv")
        self.assertEqual(status, 200)
        lines = data.decode().strip().splitlines()
        self.assertEqual(lines[0], "step,value,ts")
        self.assertEqual([tuple(x.split(",")) for x in lines[1:]],
                         [(str(p[0]), str(p[1]) if p[1] != 2 else "2", str(p[2])) for p in series["points"]])
        status, series = self.get(f"/api/runs/{r}/metrics/loss?format=json")
        self.assertEqual(series["total"], 2)
        self.assertHttpError(self.get(f"/api/runs/{r}/metrics/nope"), 404, "UNKNOWN_METRIC")
        self.assertHttpError(self.get(f"/api/runs/{r}/metrics/loss?format=xml"), 400, "INVALID_REQUEST")
        self.assertHttpError(self.get(f"/api/runs/{r}/metrics/loss?max_points=abc"), 400, "INVALID_REQUEST")
        self.assertHttpError(self.get(f"/api/runs/{uid()}/metrics"), 404, "UNKNOWN_RUN")

    def test_step_ids_are_printable_text_and_whole_numbers(self):
        r = uid()
        self.post_ok([{"run": r, "type": "step_started", "step": "fetch data!", "data": {}},
                      {"run": r, "type": "step_started", "step": "a/b", "data": {}},
                      {"run": r, "type": "step_started", "step": 5, "data": {}}])
        steps = self.get(f"/api/runs/{r}")[1]["steps"]
        self.assertEqual([s["id"] for s in steps], ["fetch data!", "a/b", "5"])

    def test_metric_without_step_never_runs_backwards(self):
        r = uid()
        self.post_ok([{"run": r, "type": "metric", "data": {"step": 5, "loss": 1}},
                      {"run": r, "type": "metric", "data": {"loss": 0.9}},
                      {"run": r, "type": "metric", "data": {"loss": 0.8}}])
        pts = self.get(f"/api/runs/{r}/metrics/loss")[1]["points"]
        self.assertEqual([p[0] for p in pts], [5, 6, 7])

    def test_max_points_keeps_extremes(self):
        r = uid()
        values = [1.0 + 0.001 * math.sin(i) for i in range(1000)]
        values[123] = 100.0     # spike
        values[777] = -50.0     # dip
        values[500] = "NaN"
        self.post_ok([{"run": r, "type": "metric", "data": {"step": i, "loss": v}} for i, v in enumerate(values)])
        status, full = self.get(f"/api/runs/{r}/metrics/loss")
        self.assertEqual((full["total"], len(full["points"])), (1000, 1000))
        status, full0 = self.get(f"/api/runs/{r}/metrics/loss?max_points=0")
        self.assertEqual(len(full0["points"]), 1000)
        for n in (2, 10, 20, 100):
            status, s = self.get(f"/api/runs/{r}/metrics/loss?max_points={n}")
            self.assertEqual(status, 200)
            self.assertEqual(s["total"], 1000)
            pts = s["points"]
            self.assertLessEqual(len(pts), n)
            vals = [p[1] for p in pts]
            self.assertIn("NaN", vals, n)
            self.assertIn(-50.0, vals, n)
            if n > 2:
                self.assertIn(100.0, vals, n)
            steps = [p[0] for p in pts]
            self.assertEqual(steps, sorted(steps))
            for p in pts:
                self.assertEqual(p[1], values[p[0]] if values[p[0]] != "NaN" else "NaN")
        status, s = self.get(f"/api/runs/{r}/metrics/loss?max_points=1")
        self.assertEqual([p[1] for p in s["points"]], ["NaN"])
        status, hdrs, data = http_raw(self.port, "GET", f"/api/runs/{r}/metrics/loss?max_points=10&format=csv")
        lines = data.decode().strip().splitlines()
        self.assertEqual(lines[0], "step,value,ts")
        self.assertLessEqual(len(lines) - 1, 10)
        self.assertIn("NaN", [x.split(",")[1] for x in lines[1:]])

    def test_clients_and_subscribers(self):
        async def go():
            r = uid()
            self.post_ok({"run": r, "type": "log", "data": {"message": "x"}})
            a = await Conn.open(f"{self.ws}/ws/runs/{r}")
            b = await Conn.open(self.ws + "/ws")
            await b.send({"op": "subscribe", "run": r})
            await b.answer("subscribed")
            status, subs = self.get(f"/api/runs/{r}/subscribers")
            self.assertEqual((status, subs), (200, {"run": r, "subscribers": 2}))
            status, clients = self.get("/api/clients")
            self.assertEqual(status, 200)
            self.assertIsInstance(clients, list)
            byid = {c["id"]: c for c in clients}
            self.assertIn(b.welcome["client_id"], byid)
            self.assertIn(a.welcome["client_id"], byid)
            me = byid[b.welcome["client_id"]]
            for f in ("id", "peer", "role", "subscriptions", "connected_at", "queued_bytes"):
                self.assertIn(f, me)
            self.assertIn("127.0.0.1", me["peer"])
            self.assertEqual(me["role"], "admin")
            self.assertIn(r, json.dumps(me["subscriptions"]))
            self.assertRegex(me["connected_at"], TS_RE)
            self.assertIsInstance(me["queued_bytes"], int)
            await a.close()
            await b.close()
            for _ in range(40):
                if self.get(f"/api/runs/{r}/subscribers")[1]["subscribers"] == 0:
                    break
                await asyncio.sleep(0.05)
            self.assertEqual(self.get(f"/api/runs/{r}/subscribers")[1], {"run": r, "subscribers": 0})
            ids = {c["id"] for c in self.get("/api/clients")[1]}
            self.assertNotIn(b.welcome["client_id"], ids)
        run(go())

    def test_delete_run(self):
        async def go():
            r = uid()
            seqs = self.post_ok([{"run": r, "type": "metric", "data": {"step": 1, "loss": 1}}])
            v = await Conn.open(f"{self.ws}/ws/runs/{r}")
            await v.events(1)
            status, body = http_json(self.port, "DELETE", f"/api/runs/{r}")
            self.assertEqual(status, 200, body)
            self.assertEqual(body, {"deleted": r})
            msg = await v.answer("run_deleted")
            self.assertEqual((msg["type"], msg["run"]), ("run_deleted", r))
            self.assertHttpError(self.get(f"/api/runs/{r}"), 404, "UNKNOWN_RUN")
            self.assertHttpError(self.get(f"/api/runs/{r}/events"), 404, "UNKNOWN_RUN")
            self.assertNotIn(r, [x["id"] for x in self.get("/api/runs")[1]])
            self.assertHttpError(http_json(self.port, "DELETE", f"/api/runs/{r}"), 404, "UNKNOWN_RUN")
            # the name can be used again; seqs are never reused
            again = self.post_ok({"run": r, "type": "log", "data": {"message": "new"}})
            self.assertGreater(again[0], seqs[0])
            self.assertEqual(self.summary(r)["event_count"], 1)
            await v.close()
        run(go())

    def test_unknown_paths_and_methods(self):
        self.assertHttpError(self.get("/api/nope"), 404, "NOT_FOUND")
        self.assertHttpError(self.get(f"/api/runs/{uid()}"), 404, "UNKNOWN_RUN")
        self.assertHttpError(http_json(self.port, "PUT", "/api/runs"), 405, "METHOD_NOT_ALLOWED")
        self.assertHttpError(http_json(self.port, "GET", "/api/events"), 405, "METHOD_NOT_ALLOWED")

    def test_prometheus_metrics(self):
        def scrape():
            status, hdrs, data = http_raw(self.port, "GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(hdrs.get("content-type", "").startswith("text/plain"), hdrs)
            samples = {}
            for line in data.decode().splitlines():
                if not line.strip():
                    continue
                if line.startswith("#"):
                    self.assertRegex(line, r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* ")
                    continue
                m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?\d+)?$", line)
                self.assertIsNotNone(m, line)
                samples.setdefault(m.group(1), 0.0)
                samples[m.group(1)] += float(m.group(3))
            return samples
        before = scrape()
        names = " ".join(before)
        for needle in (("connection",), ("event", "ingest"), ("frame", "sent"), ("drop",), ("queue", "bytes")):
            self.assertTrue(any(all(n in name for n in needle) for name in before), (needle, names))
        self.post_ok([{"run": uid(), "type": "log", "data": {"message": str(i)}} for i in range(7)])
        after = scrape()
        ingested = [n for n in after if "event" in n and "ingest" in n]
        self.assertTrue(any(after[n] - before.get(n, 0) == 7 for n in ingested), (ingested, before, after))


# ============================================================================================
# Tokens and roles
# ============================================================================================
class AuthAndRoles(ServerCase):
    server_args = ("--token", ADMIN, "--viewer-token", VIEWER)

    def test_http_auth(self):
        self.assertEqual(self.get("/healthz")[0], 200)
        self.assertEqual(http_raw(self.port, "GET", "/")[0], 200)
        self.assertHttpError(self.get("/api/runs"), 401, "AUTH_REQUIRED")
        self.assertHttpError(self.get("/api/runs", token="wrong"), 401, "AUTH_FAILED")
        self.assertHttpError(self.get("/api/runs?token=wrong"), 401, "AUTH_FAILED")
        self.assertHttpError(self.get("/metrics"), 401, "AUTH_REQUIRED")
        self.assertHttpError(self.post({"run": "x", "type": "log", "data": {"message": "m"}}), 401, "AUTH_REQUIRED")
        self.assertEqual(self.get("/api/runs", token=ADMIN)[0], 200)
        self.assertEqual(self.get(f"/api/runs?token={ADMIN}")[0], 200)
        self.assertEqual(self.get(f"/api/runs?token={VIEWER}")[0], 200)

    def test_http_roles(self):
        r = uid()
        # admin (the --token token) publishes, reads, lists clients, deletes
        self.assertEqual(self.post({"run": r, "type": "log", "data": {"message": "m"}}, token=ADMIN)[0], 200)
        self.assertEqual(self.get("/api/clients", token=ADMIN)[0], 200)
        # viewer reads only
        self.assertEqual(self.get(f"/api/runs/{r}", token=VIEWER)[0], 200)
        self.assertEqual(self.get(f"/api/runs/{r}/events", token=VIEWER)[0], 200)
        self.assertEqual(self.get(f"/api/runs/{r}/subscribers", token=VIEWER)[0], 200)
        self.assertHttpError(self.post({"run": r, "type": "log", "data": {"message": "m"}}, token=VIEWER), 403, "FORBIDDEN")
        self.assertHttpError(http_json(self.port, "DELETE", f"/api/runs/{r}", token=VIEWER), 403, "FORBIDDEN")
        self.assertHttpError(self.get("/api/clients", token=VIEWER), 403, "FORBIDDEN")
        self.assertEqual(self.summary_as(r, ADMIN)["event_count"], 1)
        self.assertEqual(http_json(self.port, "DELETE", f"/api/runs/{r}", token=ADMIN)[0], 200)

    def summary_as(self, r, token):
        status, body = self.get(f"/api/runs/{r}", token=token)
        self.assertEqual(status, 200, body)
        return body

    def test_websocket_paths_need_a_token_up_front(self):
        async def go():
            for path in ("/ws/runs", f"/ws/runs/{uid()}"):
                c = await Conn.open(self.ws + path, welcome=False)
                code, items = await c.until_closed()
                errs = [o for k, o in items if k == "msg" and o["type"] == "error"]
                self.assertEqual(code, 4401, path)
                self.assertEqual([e["code"] for e in errs], ["AUTH_REQUIRED"], path)
                for bad in (f"{path}?token=wrong",):
                    c = await Conn.open(self.ws + bad, welcome=False)
                    code, items = await c.until_closed()
                    errs = [o for k, o in items if k == "msg" and o["type"] == "error"]
                    self.assertEqual(code, 4401, bad)
                    self.assertEqual([e["code"] for e in errs], ["AUTH_FAILED"], bad)
            c = await Conn.open(self.ws + "/ws?token=wrong", welcome=False)
            code, items = await c.until_closed()
            self.assertEqual(code, 4401)
            self.assertIn("AUTH_FAILED", [o.get("code") for k, o in items if k == "msg"])
            c = await Conn.open(self.ws + "/ws", headers={"Authorization": "Bearer wrong"}, welcome=False)
            code, items = await c.until_closed()
            self.assertEqual(code, 4401)
        run(go())

    def test_websocket_tokens_by_header_query_and_op(self):
        async def go():
            r = uid()
            hdr = await Conn.open(self.ws + "/ws", headers={"Authorization": f"Bearer {ADMIN}"})
            self.assertEqual(hdr.welcome.get("role"), "admin")
            seqs = await hdr.publish({"run": r, "type": "log", "data": {"message": "m"}}, single=True)
            q = await Conn.open(f"{self.ws}/ws/runs/{r}?token={VIEWER}")
            self.assertEqual(q.welcome.get("role"), "viewer")
            self.assertEqual([e["seq"] for e in await q.events(1)], seqs)
            life = await Conn.open(f"{self.ws}/ws/runs?token={VIEWER}")
            self.assertEqual(life.welcome.get("role"), "viewer")

            anon = await Conn.open(self.ws + "/ws")
            self.assertEqual(anon.welcome.get("role"), "none")
            await anon.send({"op": "subscribe", "run": r, "id": "s0"})
            err = await anon.answer("subscribed", id="s0")
            self.assertEqual((err["type"], err.get("code")), ("error", "AUTH_REQUIRED"))
            await anon.send({"op": "publish", "id": "p0", "event": {"run": r, "type": "log", "data": {"message": "m"}}})
            err = await anon.answer("ack", id="p0")
            self.assertEqual((err["type"], err.get("code")), ("error", "AUTH_REQUIRED"))
            self.assertTrue(await anon.alive())
            await anon.send({"op": "auth", "token": "wrong", "id": "a0"})
            err = await anon.answer("auth_ok", id="a0")
            self.assertEqual((err["type"], err.get("code")), ("error", "AUTH_FAILED"))
            self.assertTrue(await anon.alive())
            await anon.send({"op": "auth", "token": VIEWER, "id": "a1"})
            ok = await anon.answer("auth_ok")
            self.assertEqual((ok["type"], ok.get("role")), ("auth_ok", "viewer"))
            with self.subTest("server doc: answers repeat the op's id"):
                self.assertEqual(ok.get("id"), "a1")
            await anon.send({"op": "subscribe", "run": r, "id": "s1"})
            items = await anon.through("subscribed")
            self.assertEqual(items[-1][1]["type"], "subscribed")
            self.assertEqual([o["seq"] for k, o in items if k == "ev"], seqs)
            await anon.send({"op": "publish", "id": "p1", "event": {"run": r, "type": "log", "data": {"message": "m"}}})
            err = await anon.answer("ack", id="p1")
            self.assertEqual((err["type"], err.get("code"), err.get("id")), ("error", "FORBIDDEN", "p1"))
            self.assertTrue(await anon.alive())
            await anon.send({"op": "auth", "token": ADMIN})
            self.assertEqual((await anon.answer("auth_ok"))["role"], "admin")
            more = await anon.publish({"run": r, "type": "log", "data": {"message": "now"}}, single=True)
            self.assertEqual([e["seq"] for e in await anon.events(1)], more)
            self.assertEqual([e["seq"] for e in await q.events(1)], more)
            status, clients = self.get("/api/clients", token=ADMIN)
            roles = {c["id"]: c["role"] for c in clients}
            self.assertEqual(roles.get(q.welcome["client_id"]), "viewer")
            self.assertEqual(roles.get(anon.welcome["client_id"]), "admin")
            for x in (hdr, q, life, anon):
                await x.close()
        run(go())

    def test_cross_site_origin_and_foreign_host_are_refused(self):
        """Server doc: a request carrying an Origin header from another site is refused; on loopback
        binds the Host header must name a loopback host."""
        async def go():
            with self.assertRaises((InvalidStatusCode, ConnectionClosed)):
                c = await Conn.open(f"{self.ws}/ws?token={ADMIN}", headers={"Origin": "http://evil.example"})
                await c.until_closed()
        with self.subTest("WebSocket with a foreign Origin"):
            run(go())
        with self.subTest("HTTP GET with a foreign Origin"):
            status, body = self.get("/api/runs", token=ADMIN, headers={"Origin": "http://evil.example"})
            self.assertGreaterEqual(status, 400, body)
        with self.subTest("HTTP POST with a foreign Origin"):
            status, body = http_json(self.port, "POST", "/api/events", {"run": uid(), "type": "log", "data": {"message": "x"}},
                                     token=ADMIN, headers={"Origin": "http://evil.example"})
            self.assertGreaterEqual(status, 400, body)
        with self.subTest("HTTP with a foreign Host"):
            status, body = self.get("/api/runs", token=ADMIN, headers={"Host": "evil.example"})
            self.assertGreaterEqual(status, 400, body)
        with self.subTest("the server's own origin is fine"):
            status, body = self.get("/api/runs", token=ADMIN, headers={"Origin": f"http://127.0.0.1:{self.port}"})
            self.assertEqual(status, 200, body)


# ============================================================================================
# Limits and keepalive (a server with small limits so the tests are fast)
# ============================================================================================
class LimitsAndKeepalive(ServerCase):
    server_args = ("--max-message-bytes", "4096", "--ping-interval", "1", "--keepalive-timeout", "3")

    def test_message_over_hard_limit_closes_1009(self):
        async def go():
            c = await Conn.open(self.ws + "/ws")
            await c.send({"op": "publish", "id": 1, "event": {"run": "big", "type": "log", "data": {"message": "x" * 5000}}})
            code, _ = await c.until_closed()
            self.assertEqual(code, 1009)
        run(go())

    def test_http_body_over_limit_is_413(self):
        body = {"run": "big", "type": "log", "data": {"message": "x" * 5000}}
        self.assertHttpError(self.post(body), 413, "TOO_LARGE")

    def test_idle_peer_is_pinged_and_silent_peer_dropped(self):
        port = self.port

        def silent_client():
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    raise AssertionError("handshake failed")
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 101"), head
            start, opcodes = time.monotonic(), []
            closed_after = None
            while time.monotonic() - start < 9:
                while len(buf) < 2:
                    chunk = s.recv(4096)
                    if not chunk:
                        closed_after = time.monotonic() - start
                        break
                    buf += chunk
                if closed_after is not None:
                    break
                op, ln = buf[0] & 0x0F, buf[1] & 0x7F
                hdr = 2
                if ln == 126:
                    hdr, ln = 4, None
                elif ln == 127:
                    hdr, ln = 10, None
                while len(buf) < hdr:
                    buf += s.recv(4096)
                if ln is None:
                    ln = int.from_bytes(buf[2:hdr], "big")
                while len(buf) < hdr + ln:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                opcodes.append((op, time.monotonic() - start))
                buf = buf[hdr + ln:]
                if op == 8:
                    closed_after = time.monotonic() - start
                    break
            s.close()
            return opcodes, closed_after

        async def go():
            good = await Conn.open(self.ws + "/ws")   # the library answers pings
            opcodes, closed_after = await asyncio.to_thread(silent_client)
            self.assertIn(9, [op for op, _ in opcodes], "the server never pinged an idle client")
            self.assertIsNotNone(closed_after, "a silent peer was not dropped")
            self.assertLess(closed_after, 8)
            self.assertTrue(await good.alive(), "a peer that answers pings must stay connected")
            await good.close()
        run(go())


# ============================================================================================
# Restarts: seq keeps rising, acked events are stored
# ============================================================================================
class Restart(unittest.TestCase):
    """seq never reused, also after a restart (graceful or a crash)."""

    def test_seq_keeps_rising_after_restart_and_crash(self):
        with tempfile.TemporaryDirectory() as d:
            r = uid()
            srv = RunwatchProcess(data_dir=d)
            try:
                async def first():
                    c = await Conn.open(srv.ws_url + "/ws")
                    return await c.publish([{"run": r, "type": "log", "data": {"message": str(i)}} for i in range(3)])
                s1 = run(first())
            finally:
                srv.stop()
            srv = RunwatchProcess(data_dir=d)
            try:
                async def second():
                    c = await Conn.open(srv.ws_url + "/ws")
                    self.assertGreaterEqual(c.welcome["last_seq"], s1[-1])
                    self.assertGreaterEqual(http_json(srv.port, "GET", "/healthz")[1]["last_seq"], s1[-1])
                    s2 = await c.publish({"run": r, "type": "log", "data": {"message": "after"}}, single=True)
                    self.assertGreater(s2[0], s1[-1])
                    # crash while a subscriber watches fire-and-forget publishing
                    v = await Conn.open(f"{srv.ws_url}/ws/runs/{r}?since={s1[-1]}")
                    seen = await v.events(1)
                    for i in range(200):
                        await c.send({"op": "publish", "event": {"run": r, "type": "log", "data": {"message": f"f{i}"}}})
                    s3 = await c.publish({"run": r, "type": "log", "data": {"message": "acked"}}, single=True)
                    seen += await v.events(1)
                    srv.proc.send_signal(signal.SIGKILL)
                    try:
                        while True:
                            seen += await v.events(1, timeout=2)
                    except (ConnectionClosed, asyncio.TimeoutError):
                        pass
                    return s3, max([e["seq"] for e in seen] + s3)
                s3, top = run(second())
            finally:
                srv.stop()
            srv = RunwatchProcess(data_dir=d)
            try:
                async def third():
                    c = await Conn.open(srv.ws_url + "/ws")
                    self.assertGreaterEqual(c.welcome["last_seq"], s3[0])
                    s4 = await c.publish({"run": r, "type": "log", "data": {"message": "post-crash"}}, single=True)
                    self.assertGreater(s4[0], top, "a seq handed out before the crash was reused")
                run(third())
            finally:
                srv.stop()

    def test_acked_events_are_stored_across_restart(self):
        """An ack is sent "once accepted (and stored)"; --data-dir is "where history is kept"."""
        with tempfile.TemporaryDirectory() as d:
            r = uid()
            srv = RunwatchProcess(data_dir=d)
            try:
                async def first():
                    c = await Conn.open(srv.ws_url + "/ws")
                    a = await c.publish([{"run": r, "type": "run_started", "data": {"name": "persist"}},
                                         {"run": r, "type": "metric", "data": {"step": 1, "loss": 0.5}}])
                    return a
                s1 = run(first())
            finally:
                srv.stop()
            srv = RunwatchProcess(data_dir=d)
            try:
                status, evs = http_json(srv.port, "GET", f"/api/runs/{r}/events")
                self.assertEqual(status, 200, evs)
                self.assertEqual([e["seq"] for e in evs], s1)

                async def second():
                    v = await Conn.open(f"{srv.ws_url}/ws/runs/{r}")
                    self.assertEqual([e["seq"] for e in await v.events(2, timeout=3)], s1)
                run(second())
            finally:
                srv.stop()


if __name__ == "__main__":
    os.environ.setdefault("RUNWATCH_BINARY", "/tmp/blind/runwatch")
    unittest.main(verbosity=2)
