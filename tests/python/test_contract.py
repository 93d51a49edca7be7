"""The wire contract, exercised by an independent client: Python's `websockets` library (Debian's
python3-websockets) and urllib, against a real `runwatch --headless` process."""
import asyncio
import json
import math
import sys
import unittest

import websockets

from runwatch_process import RunwatchProcess


def events_of(message):
    """Unpacks one frame into envelopes (a batch frame or a single envelope)."""
    obj = json.loads(message)
    if obj.get("type") == "batch":
        return obj["events"], None
    if "seq" in obj and not isinstance(obj["seq"], list):
        return [obj], None
    return [], obj


async def collect(ws, count, timeout=10):
    """Reads until `count` envelopes arrived; returns (envelopes, other messages)."""
    got, other = [], []
    async def loop():
        while len(got) < count:
            evs, msg = events_of(await ws.recv())
            got.extend(evs)
            if msg is not None:
                other.append(msg)
    await asyncio.wait_for(loop(), timeout)
    return got, other


async def expect(ws, type_, timeout=10):
    async def loop():
        while True:
            _, msg = events_of(await ws.recv())
            if msg is not None and msg.get("type") == type_:
                return msg
    return await asyncio.wait_for(loop(), timeout)


class ContractTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RunwatchProcess()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 60))

    def test_publish_ack_replay_then_live_and_resume(self):
        async def go():
            url = self.server.ws_url
            async with websockets.connect(url + "/ws") as producer:
                welcome = json.loads(await producer.recv())
                self.assertEqual(welcome["type"], "welcome")
                self.assertEqual(welcome["protocol"], 1)
                self.assertIn("client_id", welcome)
                await producer.send(json.dumps({"op": "publish", "id": "a", "events": [
                    {"run": "py1", "type": "run_started", "data": {"name": "Python", "kind": "training"}},
                    {"run": "py1", "type": "metric", "data": {"step": 1, "loss": 1.5}},
                    {"run": "py1", "type": "metric", "data": {"step": 2, "loss": float("nan")}},
                ]}, allow_nan=True))
                ack = await expect(producer, "ack")
                self.assertEqual(ack["id"], "a")
                self.assertEqual(len(ack["seq"]), 3)
                self.assertEqual(ack["seq"], sorted(ack["seq"]))

                async with websockets.connect(url + "/ws/runs/py1") as viewer:
                    self.assertEqual(json.loads(await viewer.recv())["type"], "welcome")
                    history, _ = await collect(viewer, 3)
                    self.assertEqual([e["seq"] for e in history], ack["seq"])
                    self.assertEqual(history[2]["data"]["loss"], "NaN")
                    await producer.send(json.dumps({"op": "publish", "id": "b", "event":
                        {"run": "py1", "type": "log", "data": {"level": "info", "message": "live"}}}))
                    ack_b = await expect(producer, "ack")
                    live, _ = await collect(viewer, 1)
                    self.assertEqual([live[0]["seq"]], ack_b["seq"])
                    self.assertEqual(live[0]["data"]["message"], "live")
                    last = live[0]["seq"]
                # Resume: only what came after the last seq seen, nothing twice.
                await producer.send(json.dumps({"op": "publish", "id": "c", "event":
                    {"run": "py1", "type": "metric", "data": {"step": 3, "loss": 0.5}}}))
                ack_c = await expect(producer, "ack")
                async with websockets.connect(f"{url}/ws/runs/py1?since={last}") as again:
                    await again.recv()
                    resumed, _ = await collect(again, 1)
                    self.assertEqual([e["seq"] for e in resumed], ack_c["seq"])
                    await producer.send(json.dumps({"op": "ping", "id": 9}))
                    self.assertEqual((await expect(producer, "pong"))["id"], 9)
        self.run_async(go())

    def test_subscribe_op_errors_and_lifecycle(self):
        async def go():
            url = self.server.ws_url
            async with websockets.connect(url + "/ws") as ws, websockets.connect(url + "/ws/runs?replay=0") as life:
                await ws.recv()
                await life.recv()
                await ws.send("not json")
                self.assertEqual((await expect(ws, "error"))["code"], "INVALID_JSON")
                await ws.send(json.dumps({"op": "frobnicate", "id": 1}))
                err = await expect(ws, "error")
                self.assertEqual((err["code"], err["id"]), ("UNKNOWN_OP", 1))
                await ws.send(json.dumps({"op": "publish", "id": 2, "event": {"run": "bad id!", "type": "log", "data": {}}}))
                self.assertEqual((await expect(ws, "error"))["code"], "INVALID_EVENT")
                await ws.send(json.dumps({"op": "subscribe", "run": "py2"}))
                sub = await expect(ws, "subscribed")
                self.assertEqual(sub["run"], "py2")
                await ws.send(json.dumps({"op": "publish", "id": 3, "events": [
                    {"run": "py2", "type": "run_started", "data": {"kind": "evaluation"}},
                    {"run": "py2", "type": "result", "data": {"success": False}},
                    {"run": "py2", "type": "run_completed", "data": {}}]}))
                got, _ = await collect(ws, 3)
                self.assertEqual([e["type"] for e in got], ["run_started", "result", "run_completed"])
                lifecycle, _ = await collect(life, 2)
                self.assertEqual([e["type"] for e in lifecycle], ["run_started", "run_completed"])
                await ws.send(json.dumps({"op": "unsubscribe", "run": "py2"}))
                self.assertEqual((await expect(ws, "unsubscribed"))["run"], "py2")
        self.run_async(go())
        status, run = self.server.request("GET", "/api/runs/py2")
        self.assertEqual(status, 200)
        self.assertEqual(run["status"], "completed")
        self.assertEqual(run["error_count"], 1)

    def test_rest(self):
        status, body = self.server.request("POST", "/api/events", [
            {"run": "py3", "type": "metric", "data": {"step": i, "loss": 1.0 / (i + 1)}} for i in range(1000)])
        self.assertEqual(status, 200)
        self.assertEqual(body["accepted"], 1000)
        status, series = self.server.request("GET", "/api/runs/py3/metrics/loss?max_points=100")
        self.assertEqual(status, 200)
        self.assertEqual(series["total"], 1000)
        self.assertLessEqual(len(series["points"]), 100)
        values = [p[1] for p in series["points"]]
        self.assertIn(1.0, values)  # the maximum survives downsampling
        self.assertTrue(math.isclose(min(values), 1.0 / 1000))
        status, err = self.server.request("POST", "/api/events", {"run": "py3", "type": "metric"})
        self.assertEqual(status, 400)
        self.assertEqual(err["error"]["code"], "INVALID_EVENT")
        status, err = self.server.request("GET", "/api/runs/nope")
        self.assertEqual((status, err["error"]["code"]), (404, "UNKNOWN_RUN"))
        status, health = self.server.request("GET", "/healthz")
        self.assertEqual(health["status"], "ok")
        self.assertGreaterEqual(health["last_seq"], 1000)


class AuthTest(unittest.TestCase):
    def test_tokens_and_roles(self):
        server = RunwatchProcess("--token", "prod-secret", "--viewer-token", "view-secret")
        try:
            async def go():
                url = server.ws_url
                async with websockets.connect(url + "/ws/runs/x") as ws:
                    await ws.recv()
                    with self.assertRaises(websockets.ConnectionClosed) as closed:
                        while True:
                            await ws.recv()
                    self.assertEqual(closed.exception.code, 4401)
                async with websockets.connect(url + "/ws?token=view-secret") as ws:
                    await ws.recv()
                    await ws.send(json.dumps({"op": "publish", "id": 1, "event": {"run": "x", "type": "log", "data": {"message": "m"}}}))
                    self.assertEqual((await expect(ws, "error"))["code"], "FORBIDDEN")
                    await ws.send(json.dumps({"op": "auth", "token": "prod-secret"}))
                    self.assertEqual((await expect(ws, "auth_ok"))["role"], "admin")
                    await ws.send(json.dumps({"op": "publish", "id": 2, "event": {"run": "x", "type": "log", "data": {"message": "m"}}}))
                    self.assertEqual(len((await expect(ws, "ack"))["seq"]), 1)
            asyncio.run(asyncio.wait_for(go(), 60))
            self.assertEqual(server.request("GET", "/api/runs")[0], 401)
            self.assertEqual(server.request("GET", "/api/runs", token="view-secret")[0], 200)
            status, err = server.request("DELETE", "/api/runs/x", token="view-secret")
            self.assertEqual((status, err["error"]["code"]), (403, "FORBIDDEN"))
            self.assertEqual(server.request("DELETE", "/api/runs/x", token="prod-secret")[0], 200)
        finally:
            server.stop()

    def test_shutdown_closes_with_1001(self):
        server = RunwatchProcess()
        try:
            async def go():
                async with websockets.connect(server.ws_url + "/ws") as ws:
                    await ws.recv()
                    server.proc.send_signal(2)  # SIGINT
                    with self.assertRaises(websockets.ConnectionClosed) as closed:
                        while True:
                            await ws.recv()
                    self.assertEqual(closed.exception.code, 1001)
            asyncio.run(asyncio.wait_for(go(), 30))
            self.assertEqual(server.proc.wait(10), 0)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
