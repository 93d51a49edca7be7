"""History in and out of a data dir with the real binary: `runwatch export` (JSON Lines and CSV,
also while a server owns the data dir), `runwatch import`, and `--follow FILE` tailing a file
through appends, partial lines, bad lines, truncation, rotation and a restart."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from runwatch_process import RunwatchProcess

BINARY = os.environ.get("RUNWATCH_BINARY")


def run_cli(*args):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=60)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


class ExportImport(unittest.TestCase):
    def test_export_while_running_then_import_elsewhere(self):
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "src"), os.path.join(tmp, "dst")
            server = RunwatchProcess(data_dir=src)
            try:
                events = [{"run": "r1", "type": "run_started", "data": {"name": "one", "kind": "training"}}]
                events += [{"run": "r1", "type": "metric", "data": {"step": i, "loss": 1.0 / (i + 1), "lr": 0.1}}
                           for i in range(50)]
                events.append({"run": "r1", "type": "metric", "data": {"step": 50, "loss": "NaN"}})
                events.append({"run": "r1", "type": "run_completed", "data": {}})
                events.append({"run": "other", "type": "log", "data": {"message": "not exported"}})
                status, answer = server.request("POST", "/api/events", events)
                self.assertEqual(status, 200, answer)

                # Export reads the database while the server owns it.
                out = run_cli("export", "r1", "--data-dir", src)
                self.assertEqual(out.returncode, 0, out.stderr)
                lines = [json.loads(line) for line in out.stdout.splitlines()]
                self.assertEqual(len(lines), len(events) - 1)
                self.assertEqual([e["seq"] for e in lines], answer["seq"][:-1])
                self.assertEqual({e["run"] for e in lines}, {"r1"})
                self.assertEqual(lines[-2]["data"]["loss"], "NaN")

                csv_path = os.path.join(tmp, "r1.csv")
                out = run_cli("export", "r1", "--format", "csv", "-o", csv_path, "--data-dir", src)
                self.assertEqual(out.returncode, 0, out.stderr)
                with open(csv_path) as f:
                    rows = f.read().splitlines()
                header = rows[0].split(",")
                self.assertEqual(header[:2], ["step", "time"])
                self.assertEqual(sorted(header[2:]), ["loss", "lr"])
                self.assertEqual(len(rows), 1 + 51)
                last = dict(zip(header, rows[-1].split(",")))
                self.assertEqual((last["step"], last["loss"], last["lr"]), ("50", "NaN", ""))

                out = run_cli("export", "nope", "--data-dir", src)
                self.assertNotEqual(out.returncode, 0)
                self.assertTrue(out.stderr.startswith("runwatch: ") and "nope" in out.stderr, out.stderr)
                out = run_cli("export", "r1", "--format", "xml", "--data-dir", src)
                self.assertNotEqual(out.returncode, 0)
                self.assertIn("--format", out.stderr)

                # Import needs the data dir to itself.
                jsonl = os.path.join(tmp, "r1.jsonl")
                self.assertEqual(run_cli("export", "r1", "-o", jsonl, "--data-dir", src).returncode, 0)
                out = run_cli("import", jsonl, "--data-dir", src)
                self.assertNotEqual(out.returncode, 0)
                self.assertIn("in use", out.stderr)
            finally:
                server.stop()

            with open(jsonl, "a") as f:
                f.write("this is not json\n")
            out = run_cli("import", jsonl, "--data-dir", dst)
            self.assertEqual(out.returncode, 1, out.stderr)  # one line skipped, said so
            self.assertIn(":%d:" % (len(events),), out.stderr)
            self.assertIn("imported %d events" % (len(events) - 1), out.stdout)

            server = RunwatchProcess(data_dir=dst)
            try:
                status, run = server.request("GET", "/api/runs/r1")
                self.assertEqual(status, 200)
                self.assertEqual((run["name"], run["status"], run["event_count"]), ("one", "completed", len(events) - 1))
                status, series = server.request("GET", "/api/runs/r1/metrics/loss")
                self.assertEqual(series["total"], 51)
                self.assertEqual(series["points"][-1][1], "NaN")
                status, page = server.request("GET", "/api/runs/r1/events")
                self.assertEqual([e["ts"] for e in page], [e["ts"] for e in lines])  # times kept
            finally:
                server.stop()


class Send(unittest.TestCase):
    def test_send_from_the_shell(self):
        server = RunwatchProcess()
        try:
            url = server.url
            out = run_cli("send", "--url", url, "--run", "sh", "--type", "metric", "--data", '{"step": 1, "loss": 0.5}')
            self.assertEqual(out.returncode, 0, out.stderr)
            seq = int(out.stdout.strip())
            status, events = server.request("GET", "/api/runs/sh/events")
            self.assertEqual([e["seq"] for e in events], [seq])
            self.assertEqual(events[0]["data"], {"step": 1, "loss": 0.5})
            # The same --eid twice: stored once, the same seq printed.
            first = run_cli("send", "--url", url, "--run", "sh", "--type", "log", "--data", '{"message": "m"}', "--eid", "job-7")
            again = run_cli("send", "--url", url, "--run", "sh", "--type", "log", "--data", '{"message": "m"}', "--eid", "job-7")
            self.assertEqual((first.returncode, again.returncode), (0, 0))
            self.assertEqual(first.stdout, again.stdout)
            self.assertEqual(len(server.request("GET", "/api/runs/sh/events")[1]), 2)
            # RUNWATCH_URL stands in for --url.
            env = dict(os.environ, RUNWATCH_URL=url)
            out = subprocess.run([BINARY, "send", "--run", "sh", "--type", "log", "--data", '{"message": "env"}'],
                                 capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual(out.returncode, 0, out.stderr)
            # Mistakes get one clear line and a non-zero exit; nothing is stored.
            for args, words in [((["--run", "sh", "--type", "metric", "--data", '{"loss": "x"}']), "loss"),
                                ((["--run", "sh", "--type", "log", "--data", "not json"]), "--data"),
                                ((["--type", "log"]), "--run"),
                                ((["--run", "bad id!", "--type", "log", "--data", '{"message": "m"}']), "run")]:
                out = run_cli("send", "--url", url, *args)
                self.assertNotEqual(out.returncode, 0, args)
                self.assertTrue(out.stderr.startswith("runwatch: ") and words in out.stderr, out.stderr)
                self.assertEqual(out.stderr.count("\n"), 1, out.stderr)
            self.assertEqual(len(server.request("GET", "/api/runs/sh/events")[1]), 3)
        finally:
            server.stop()
        out = run_cli("send", "--url", url, "--run", "sh", "--type", "log", "--data", '{"message": "m"}', "--timeout", "3")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("cannot reach", out.stderr)


class Follow(unittest.TestCase):
    def events(self, server, run):
        status, page = server.request("GET", f"/api/runs/{run}/events")
        return page if status == 200 else []

    def test_follow_appends_truncation_rotation_and_restart(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "data")
            path = os.path.join(tmp, "job.jsonl")
            open(path, "w").close()

            def append(text):
                with open(path, "a") as f:
                    f.write(text)

            def metric(step):
                return json.dumps({"run": "job", "type": "metric", "data": {"step": step, "loss": 1.0 / (step + 1)}})

            server = RunwatchProcess("--follow", path, data_dir=data)
            try:
                append(metric(1) + "\n" + metric(2) + "\n")
                self.assertEqual(len(wait_for(lambda: len(self.events(server, "job")) == 2 and self.events(server, "job"))), 2)
                # A partial line waits for its end; a bad line is skipped, the rest goes on.
                append("{not json}\n" + metric(3)[:10])
                time.sleep(0.6)
                self.assertEqual(len(self.events(server, "job")), 2)
                append(metric(3)[10:] + "\n")
                wait_for(lambda: len(self.events(server, "job")) == 3)
                self.assertEqual([e["data"]["step"] for e in self.events(server, "job")], [1, 2, 3])
                # Truncated: read again from the start of what is there now.
                with open(path, "w") as f:
                    f.write(metric(4) + "\n")
                wait_for(lambda: len(self.events(server, "job")) == 4)
                # Rotated: a new file under the same name.
                os.rename(path, path + ".1")
                with open(path, "w") as f:
                    f.write(metric(5) + "\n")
                wait_for(lambda: len(self.events(server, "job")) == 5)
                self.assertEqual([e["data"]["step"] for e in self.events(server, "job")], [1, 2, 3, 4, 5])
            finally:
                server.stop()

            # A restart picks up where it left off: nothing repeated, nothing missed.
            append(metric(6) + "\n")
            server = RunwatchProcess("--follow", path, data_dir=data)
            try:
                wait_for(lambda: len(self.events(server, "job")) >= 6)
                time.sleep(0.5)
                self.assertEqual([e["data"]["step"] for e in self.events(server, "job")], [1, 2, 3, 4, 5, 6])
            finally:
                server.stop()

    def test_follow_takes_events_without_data_and_warns_about_mistyped_types(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "job.jsonl")
            with open(path, "w") as f:
                f.write(json.dumps({"run": "nd", "type": "run_started"}) + "\n")
                for step in range(3):
                    f.write(json.dumps({"run": "nd", "type": "metrics", "data": {"loss": step}}) + "\n")
                f.write(json.dumps({"run": "nd", "type": "run_completed"}) + "\n")
            server = RunwatchProcess("--follow", path)
            try:
                events = wait_for(lambda: len(self.events(server, "nd")) == 5 and self.events(server, "nd"))
                self.assertEqual([e["type"] for e in events], ["run_started"] + ["metrics"] * 3 + ["run_completed"])
                self.assertEqual(events[0]["data"], {})
                self.assertEqual(events[-1]["data"], {})
                status, run = server.request("GET", "/api/runs/nd")
                self.assertEqual(run["status"], "completed")
            finally:
                server.stop()
            stderr = server.proc_stderr
            # One warning, for the first line that has the type, naming the line and the likely type.
            warnings = [line for line in stderr.splitlines() if "UNKNOWN_TYPE" in line or "did you mean" in line]
            self.assertEqual(len(warnings), 1, stderr)
            self.assertIn("job.jsonl:2:", warnings[0])
            self.assertIn('did you mean "metric"', warnings[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
