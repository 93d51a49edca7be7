"""The SDK against a real `runwatch --headless` (RUNWATCH_BINARY)."""
import json
import math
import os
import socket
import statistics
import threading
import time
import unittest

from support import ServerMixin, SpoolDirMixin, closed_port_url, runwatch
from server import Server, free_port


def types_of(events):
    return [e["type"] for e in events]


class WithServer(ServerMixin):

    def test_events_arrive_in_order(self):
        run = runwatch.init("order test", kind="training", config={"lr": 0.1, "layers": [1, 2]},
                            total_steps=3000, url=self.server.url)
        expected = ["run_started"]
        for i in range(3000):
            run.log({"loss": 1.0 / (i + 1), "eval_loss": 2.0 / (i + 1)}, step=i)
            expected.append("metric")
            if i % 100 == 0:
                run.progress(completed=i, total=3000, epoch=i // 1000, total_epochs=3)
                expected.append("progress")
        with run.step("retrieve", name="Retrieve documents") as s:
            s.progress(0.5, "halfway")
        expected += ["step_started", "step_progress", "step_completed"]
        for piece in ("Hel", "lo", "!"):
            run.token(piece)
        run.info("text")
        run.warning("careful")
        run.error("bad")
        run.event("quality_check", {"quality_score": 0.93})
        expected += ["token"] * 3 + ["log"] * 3 + ["quality_check", "run_completed"]
        self.assertTrue(run.finish(timeout=20))

        events = self.server.events(run.id)
        self.assertEqual(types_of(events), expected)
        seqs = [e["seq"] for e in events]
        self.assertEqual(seqs, sorted(seqs))
        steps = [e["data"]["step"] for e in events if e["type"] == "metric"]
        self.assertEqual(steps, list(range(3000)))
        started = events[0]["data"]
        self.assertEqual(started["name"], "order test")
        self.assertEqual(started["config"], {"lr": 0.1, "layers": [1, 2]})
        self.assertEqual(started["total_steps"], 3000)
        step_events = [e for e in events if e["type"].startswith("step_")]
        self.assertEqual({e["step"] for e in step_events}, {"retrieve"})
        self.assertEqual(step_events[0]["data"]["name"], "Retrieve documents")
        self.assertEqual(step_events[1]["data"], {"progress": 0.5, "message": "halfway"})
        summary = self.server.run(run.id)
        self.assertEqual(summary["status"], "completed")
        self.assertEqual(summary["steps"][0]["status"], "completed")
        self.assertEqual(summary["error_count"], 1)
        self.assertEqual(summary["output_chars"], 6)
        self.assertAlmostEqual(summary["metrics"]["loss"], 1.0 / 3000)
        self.assertEqual(run.stats()["sent"], len(expected))
        self.assertEqual(self.spool_files(), [])

    def test_exception_in_with_marks_run_failed(self):
        class Boom(RuntimeError):
            pass
        with self.assertRaises(Boom):
            with runwatch.init("failing", url=self.server.url) as run:
                run.log({"loss": 1.0}, step=1)
                with run.step("s1", name="inner"):
                    raise Boom("exploded at step 1")
        summary = self.server.wait_for(lambda: (self.server.run(run.id) or {}).get("status") == "failed"
                                       and self.server.run(run.id))
        self.assertTrue(summary, "the run was not marked failed")
        self.assertEqual(summary["steps"][0]["status"], "failed")
        last = self.server.events(run.id)[-1]
        self.assertEqual(last["type"], "run_failed")
        self.assertIn("Traceback (most recent call last)", last["data"]["message"])
        self.assertIn("Boom: exploded at step 1", last["data"]["message"])

    def test_non_finite_values_and_numpy_like_scalars(self):
        class Scalar:  # what torch.Tensor / numpy.float32 look like to the SDK
            def __init__(self, v):
                self.v = v

            def item(self):
                return self.v
        run = runwatch.init("nonfinite", url=self.server.url)
        run.log({"loss": float("nan"), "grad": float("inf"), "neg": float("-inf"), "t": Scalar(0.25),
                 "flag": True}, step=Scalar(3))
        self.assertTrue(run.finish(timeout=10))
        metric = [e for e in self.server.events(run.id) if e["type"] == "metric"][0]
        self.assertEqual(metric["data"], {"loss": "NaN", "grad": "Infinity", "neg": "-Infinity",
                                          "t": 0.25, "flag": 1, "step": 3})

    def test_nested_metrics_are_flattened_by_the_sdk(self):
        deep = 1.0
        for _ in range(12):
            deep = {"d": deep}
        run = runwatch.init("nested", url=self.server.url)
        with self.assertLogs("runwatch", "WARNING") as logs:
            run.log({"train": {"loss": 1.0, "acc": {"top1": 0.5, "top5": 0.75}}, "lr": 0.1}, step=1)
            run.log({"eval": {"loss": 2.0, "note": "n/a"}, "deep": deep, "x" * 300: 1.0}, step=2)
            run.log({"eval": {}}, step=3)  # nothing to send
            self.assertTrue(run.finish(timeout=10))
        self.assertTrue(any("nested more than 8 levels" in line for line in logs.output), logs.output)
        self.assertTrue(any("'eval/note' is not a number" in line for line in logs.output), logs.output)
        self.assertTrue(any("1 to 256 characters" in line for line in logs.output), logs.output)
        events = self.server.events(run.id)
        self.assertEqual(types_of(events), ["run_started", "metric", "metric", "run_completed"])
        self.assertEqual(events[1]["data"], {"train/loss": 1.0, "train/acc/top1": 0.5, "train/acc/top5": 0.75,
                                             "lr": 0.1, "step": 1})
        self.assertEqual(events[2]["data"], {"eval/loss": 2.0, "step": 2})
        self.assertEqual(run.stats()["rejected"], 0)  # the server refused nothing
        status, names = self.server.get("/api/runs/%s/metrics" % run.id)
        self.assertEqual(sorted(names), ["eval/loss", "lr", "train/acc/top1", "train/acc/top5", "train/loss"])

    def test_refused_events_are_dropped_alone(self):
        run = runwatch.init("refusals", url=self.server.url)
        run.log({"loss": 1.0}, step=1)
        with self.assertLogs("runwatch", "WARNING") as logs:
            run.log({"loss": "abc", "acc": 0.5}, step=2)   # the bad key is dropped client-side
            run.log({"loss": "abc"}, step=3)                # nothing left: the event is dropped
            run.progress(completed=-5)                      # refused by the server: dropped alone
            run.log({"loss": 0.5}, step=4)
            self.assertTrue(run.finish(timeout=10))
        self.assertTrue(any("not a number" in line for line in logs.output))
        self.assertTrue(any("refused an event" in line for line in logs.output))
        events = self.server.events(run.id)
        self.assertEqual(types_of(events), ["run_started", "metric", "metric", "metric", "run_completed"])
        self.assertEqual([e["data"] for e in events[1:4]],
                         [{"loss": 1.0, "step": 1}, {"acc": 0.5, "step": 2}, {"loss": 0.5, "step": 4}])
        self.assertEqual(run.stats()["rejected"], 1)

    def test_a_full_queue_spills_to_disk_and_loses_nothing(self):
        # 100,000 calls in a tight loop against a queue of 1,000: the producer is far faster than
        # the sender, so most events overflow to the disk spool; every one arrives, in order.
        run = runwatch.init("overflow", url=self.server.url, max_queue=1000)
        for i in range(100000):
            run.log({"loss": 1.0 / (i + 1)}, step=i)
        self.assertTrue(run.finish(timeout=120))
        stats = run.stats()
        self.assertEqual(stats["dropped"], 0)
        self.assertGreater(stats["spilled"], 0)
        status, series = self.server.get("/api/runs/%s/metrics/loss?max_points=10" % run.id)
        self.assertEqual((status, series["total"]), (200, 100000))
        events = self.server.events(run.id)
        self.assertEqual(types_of(events), ["run_started"] + ["metric"] * 100000 + ["run_completed"])
        self.assertEqual([e["data"]["step"] for e in events[1:-1]], list(range(100000)))
        self.assertEqual(self.spool_files(), [])

    def test_keep_alive_survives_a_server_side_close(self):
        run = runwatch.init("keepalive", url=self.server.url)
        run.log({"x": 1}, step=1)
        self.assertTrue(run.flush(10))
        run._sender._conn.sock.shutdown(socket.SHUT_RDWR)  # as if the server had closed the idle connection
        run.log({"x": 2}, step=2)
        self.assertTrue(run.finish(timeout=10))
        self.assertEqual(len(self.server.events(run.id)), 4)

    def test_calls_after_finish_are_ignored(self):
        run = runwatch.init("after", url=self.server.url)
        self.assertTrue(run.finish(timeout=10))
        with self.assertLogs("runwatch", "WARNING"):
            run.log({"x": 1})
        self.assertTrue(run.finish(timeout=1))
        self.assertEqual(types_of(self.server.events(run.id)), ["run_started", "run_completed"])


class ProcessExit(ServerMixin):
    """Runs a script that never calls finish(): the exit hook ends the run."""

    def script(self, body, run_id):
        import subprocess
        import sys
        from support import ROOT
        code = ("import sys; sys.path.insert(0, %r); import runwatch\n"
                "run = runwatch.init('exit', run_id=%r, url=%r)\nrun.log({'loss': 1.0}, step=1)\n%s\n"
                % (ROOT, run_id, self.server.url, body))
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    def test_normal_exit_completes_the_run(self):
        proc = self.script("print('bye')", "exit-ok")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(types_of(self.server.events("exit-ok")), ["run_started", "metric", "run_completed"])

    def test_uncaught_exception_fails_the_run(self):
        proc = self.script("raise KeyError('missing shard')", "exit-failed")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("KeyError", proc.stderr)  # the original excepthook still prints the traceback
        events = self.server.events("exit-failed")
        self.assertEqual(types_of(events), ["run_started", "metric", "run_failed"])
        self.assertIn("KeyError: 'missing shard'", events[-1]["data"]["message"])


class WithoutServer(SpoolDirMixin):
    def test_log_never_blocks_without_a_server(self):
        # Every connection attempt must come from the sender thread, never from the thread that
        # calls run.log(): that is what "never blocks the training loop" means, whatever the
        # machine's load. The durations are printed for the record, not asserted.
        callers = []
        real_connect = socket.socket.connect

        def recording_connect(sock, address):
            callers.append(threading.current_thread() is threading.main_thread())
            return real_connect(sock, address)

        socket.socket.connect = recording_connect
        try:
            run = runwatch.init("no server", url=closed_port_url())
            durations = []
            clock = time.perf_counter
            for i in range(10000):
                t0 = clock()
                run.log({"loss": 0.5, "eval_loss": 0.6}, step=i)
                durations.append(clock() - t0)
            durations.sort()
            print("\n  run.log without a server: median %.2f us, p99 %.2f us, max %.2f ms"
                  % (durations[5000] * 1e6, durations[9899] * 1e6, durations[-1] * 1e3))
            self.assertFalse(run.finish(timeout=1.0))
        finally:
            socket.socket.connect = real_connect
        self.assertTrue(callers, "the sender never tried to connect")
        self.assertNotIn(True, callers, "run.log() or finish() connected from the caller's thread")
        self.assertEqual(run.stats()["spooled"], 10002)

    def test_finish_returns_within_timeout_when_server_is_down(self):
        run = runwatch.init("down", url=closed_port_url())
        for i in range(100):
            run.log({"loss": i}, step=i)
        for timeout in (0.0, 0.5):
            t0 = time.monotonic()
            delivered = run.finish(timeout=timeout) if timeout == 0.5 else run.flush(timeout)
            self.assertFalse(delivered)
            # Generous slack for a loaded machine; waiting for the server would take seconds more.
            self.assertLess(time.monotonic() - t0, timeout + 1.5)
        self.assertEqual(len(self.spool_files()), 1)

    def test_finish_returns_within_timeout_when_server_hangs(self):
        # A peer that accepts connections and never answers: the request itself would hang.
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            url = "http://127.0.0.1:%d" % listener.getsockname()[1]
            run = runwatch.init("hanging", url=url)
            run.log({"loss": 1.0}, step=1)
            time.sleep(0.2)  # the sender is now stuck in its request
            t0 = time.monotonic()
            self.assertFalse(run.finish(timeout=1.0))
            # The stuck request would hold it for its 30 s timeout; allow slack for a loaded machine.
            self.assertLess(time.monotonic() - t0, 3.0)
        # Everything, including the batch that was in flight, is in the spool in order.
        lines = []
        for path in self.spool_files():
            with open(path) as f:
                lines += [json.loads(line) for line in f]
        self.assertEqual([e["type"] for e in lines], ["run_started", "metric", "run_completed"])


class ServerComesLater(SpoolDirMixin):
    def test_events_logged_while_down_arrive_exactly_once(self):
        port = free_port()
        url = "http://127.0.0.1:%d" % port
        run = runwatch.init("late server", url=url, total_steps=5000)
        for i in range(5000):
            run.log({"loss": 1.0 / (i + 1)}, step=i)
            if i == 2500:
                time.sleep(0.3)  # some events reach the spool before the rest are logged
        time.sleep(0.5)
        self.assertEqual(run.stats()["sent"], 0)
        self.assertGreater(run.stats()["spooled"], 0)
        server = Server(port=port)
        try:
            for i in range(5000, 5100):  # logged while the spool drains: still behind the older ones
                run.log({"loss": 1.0 / (i + 1)}, step=i)
            self.assertTrue(run.finish(timeout=30))
            events = server.events(run.id)
            self.assertEqual(types_of(events), ["run_started"] + ["metric"] * 5100 + ["run_completed"])
            self.assertEqual([e["data"]["step"] for e in events[1:-1]], list(range(5100)))
            self.assertEqual(server.run(run.id)["status"], "completed")
            self.assertEqual(self.spool_files(), [])
        finally:
            server.stop()

    def test_overflow_while_the_server_is_down_keeps_the_order(self):
        port = free_port()
        url = "http://127.0.0.1:%d" % port
        run = runwatch.init("overflow late", url=url, max_queue=200)
        for i in range(20000):
            run.log({"loss": 1.0}, step=i)
        server = Server(port=port)
        try:
            for i in range(20000, 20500):  # logged while the spool drains
                run.log({"loss": 1.0}, step=i)
            self.assertTrue(run.finish(timeout=60))
            self.assertEqual(run.stats()["dropped"], 0)
            events = server.events(run.id)
            self.assertEqual(types_of(events), ["run_started"] + ["metric"] * 20500 + ["run_completed"])
            self.assertEqual([e["data"]["step"] for e in events[1:-1]], list(range(20500)))
            self.assertEqual(self.spool_files(), [])
        finally:
            server.stop()

    def test_a_process_that_ends_while_its_queue_overflows_leaves_its_events_in_order(self):
        port = free_port()
        url = "http://127.0.0.1:%d" % port
        first = runwatch.init("overflow resume", run_id="overflow-resume", url=url, max_queue=300)
        for i in range(5000):
            first.log({"loss": 1.0}, step=i)
        self.assertFalse(first.fail("preempted", timeout=0.3))
        self.assertEqual(first.stats()["spooled"], 5002)
        server = Server(port=port)
        try:
            self.assertEqual(runwatch.sync(url=url, spool_dir=self.spool_dir, timeout=30), {"overflow-resume": True})
            events = server.events("overflow-resume")
            self.assertEqual(types_of(events), ["run_started"] + ["metric"] * 5000 + ["run_failed"])
            self.assertEqual([e["data"]["step"] for e in events[1:-1]], list(range(5000)))
            self.assertEqual(self.spool_files(), [])
        finally:
            server.stop()

    def test_leftovers_of_an_ended_process_are_sent_by_the_next_one_exactly_once(self):
        port = free_port()
        url = "http://127.0.0.1:%d" % port
        first = runwatch.init("resume", run_id="resume-run", url=url)
        for i in range(300):
            first.log({"loss": 1.0}, step=i)
        self.assertFalse(first.fail("preempted", timeout=0.3))  # the job ends with the server down
        files = self.spool_files()
        self.assertEqual(len(files), 1)
        with open(files[0], "rb") as f:
            saved = f.read()
        server = Server(port=port)
        try:
            second = runwatch.init("resume", run_id="resume-run", url=url)
            second.log({"loss": 0.5}, step=300)
            self.assertTrue(second.finish(timeout=20))
            events = server.events("resume-run")
            self.assertEqual(types_of(events), ["run_started"] + ["metric"] * 300 +
                             ["run_failed", "run_started", "metric", "run_completed"])
            self.assertEqual(self.spool_files(), [])

            # A crash after the server stored a segment but before it was deleted: the segment is
            # sent again and the server, seeing the same event ids, stores nothing twice.
            os.makedirs(os.path.dirname(files[0]), exist_ok=True)
            with open(files[0], "wb") as f:
                f.write(saved)
            results = runwatch.sync(url=url, spool_dir=self.spool_dir, timeout=20)
            self.assertEqual(results, {"resume-run": True})
            self.assertEqual(len(server.events("resume-run")), len(events))
            self.assertEqual(self.spool_files(), [])
        finally:
            server.stop()

    def test_wrong_token_keeps_events_until_the_right_one(self):
        server = Server(args=["--token", "s3cret"])
        try:
            with self.assertLogs("runwatch", "WARNING") as logs:
                run = runwatch.init("auth", url=server.url, token="wrong")
                run.log({"x": 1}, step=1)
                self.assertFalse(run.finish(timeout=0.5))
            self.assertTrue(any("refused the token" in line for line in logs.output))
            self.assertEqual(server.get("/api/runs/" + run.id, token="s3cret")[0], 404)
            results = runwatch.sync(url=server.url, token="s3cret", spool_dir=self.spool_dir, timeout=10)
            self.assertEqual(results, {run.id: True})
            status, body = server.get("/api/runs/" + run.id, token="s3cret")
            self.assertEqual((status, body["status"]), (200, "completed"))
        finally:
            server.stop()

    def test_rate_limited_producer_gets_every_event_in_exactly_once(self):
        # A burst of 10,000 events (one publish's worth), then 2,000 a second: 16,000 events are
        # partly refused with 429 and must all arrive, once each, in order, when the SDK waits as told.
        server = Server(args=["--max-events-per-second", "2000"])
        try:
            with self.assertLogs("runwatch", "WARNING") as logs:
                run = runwatch.init("limited", url=server.url)
                for i in range(16000):
                    run.log({"loss": 1.0 / (i + 1)}, step=i)
                self.assertTrue(run.finish(timeout=60))
            self.assertTrue(any("limits this producer's rate" in line for line in logs.output), logs.output)
            events = server.events(run.id)
            steps = [e["data"]["step"] for e in events if e["type"] == "metric"]
            self.assertEqual(steps, list(range(16000)))
            import urllib.request
            with urllib.request.urlopen(server.url + "/metrics", timeout=10) as resp:
                text = resp.read().decode()
            limited = [line for line in text.splitlines() if line.startswith('runwatch_publish_limited_total{limit="rate"}')]
            self.assertTrue(limited and int(limited[0].split()[-1]) > 0, limited)
            self.assertEqual(self.spool_files(), [])
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
