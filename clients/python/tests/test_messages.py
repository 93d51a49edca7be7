"""What the SDK tells the user on stderr, seen from outside: a script run in its own Python
process against a real server (or none), its stderr read as a user reads it."""
import json
import os
import subprocess
import sys
import unittest

from support import ROOT, ServerMixin, SpoolDirMixin, closed_port_url

PREFIX = "runwatch: warning: "


def run_script(body, url, timeout=120, env=None):
    """Runs `body` with `run` already made (runwatch.init("messages", url=url, **OPTIONS) in the
    body itself); returns (stdout's last line parsed as JSON, stderr)."""
    code = "import json, sys; sys.path.insert(0, %r); import runwatch\nURL = %r\n%s\n" % (ROOT, url, body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env or {})))
    if proc.returncode != 0:
        raise AssertionError("script failed (%d):\n%s" % (proc.returncode, proc.stderr))
    lines = proc.stdout.strip().splitlines()
    return (json.loads(lines[-1]) if lines else None), proc.stderr


def warnings_in(stderr, needle):
    return [line for line in stderr.splitlines() if line.startswith(PREFIX) and needle in line]


class Drops(SpoolDirMixin):
    def test_a_full_spool_is_reported_at_once_and_at_finish(self):
        # The server is away and the spool holds only 8 KiB: most of 20,000 events must be
        # dropped, and the user hears of it while logging, not only from run.stats().
        stats, stderr = run_script(
            "run = runwatch.init('drops', url=URL, spool_max_bytes=8192, max_queue=10)\n"
            "for i in range(20000):\n"
            "    run.log({'loss': 0.5}, step=i)\n"
            "sys.stderr.write('--- finish ---\\n'); sys.stderr.flush()\n"
            "run.finish(timeout=0.3)\n"
            "print(json.dumps(run.stats()))", closed_port_url())
        self.assertGreater(stats["dropped"], 10000)
        during = warnings_in(stderr.split("--- finish ---")[0], "events dropped")
        self.assertTrue(during, "no warning while the events were dropped:\n" + stderr)
        # Rate-limited: a handful of lines at most, not one per dropped event.
        self.assertLess(len(warnings_in(stderr, "events dropped")), 10, stderr)
        self.assertIn("run drops", during[0])
        self.assertIn("spool", during[0])
        summary = warnings_in(stderr.split("--- finish ---")[1], "events were dropped in all")
        self.assertEqual(len(summary), 1, stderr)
        self.assertIn("%d events were dropped in all" % stats["dropped"], summary[0])

    def test_nothing_is_said_when_nothing_is_dropped(self):
        stats, stderr = run_script(
            "run = runwatch.init('quiet', url=URL, spool_max_bytes=1 << 20)\n"
            "for i in range(1000):\n"
            "    run.log({'loss': 0.5}, step=i)\n"
            "run.finish(timeout=0.3)\n"
            "print(json.dumps(run.stats()))", closed_port_url())
        self.assertEqual(stats["dropped"], 0)
        self.assertEqual(warnings_in(stderr, "dropped"), [], stderr)


class WithServer(ServerMixin):

    def test_unknown_types_are_named_once_per_type(self):
        stats, stderr = run_script(
            "run = runwatch.init('typos', run_id='typos', url=URL)\n"
            "for i in range(50):\n"
            "    run.event('metrics', {'loss': 0.5})\n"
            "run.event('progres', {'completed': 1})\n"
            "run.flush(10)\n"
            "for i in range(50):\n"
            "    run.event('metrics', {'loss': 0.5})\n"
            "    run.event('progres', {'completed': 2})\n"
            "run.event('quality_check', {'quality_score': 0.9})\n"
            "run.finish(timeout=10)\n"
            "print(json.dumps(run.stats()))", self.server.url)
        self.assertEqual(stats["sent"], 1 + 51 + 100 + 2)
        metrics = warnings_in(stderr, 'unknown type "metrics"')
        self.assertEqual(len(metrics), 1, stderr)
        self.assertIn('did you mean "metric"?', metrics[0])
        progres = warnings_in(stderr, 'unknown type "progres"')
        self.assertEqual(len(progres), 1, stderr)
        self.assertIn('did you mean "progress"?', progres[0])
        self.assertEqual(warnings_in(stderr, "quality_check"), [], stderr)
        # Stored all the same, as custom events.
        self.assertEqual(len([e for e in self.server.events("typos") if e["type"] == "metrics"]), 100)

    def test_over_long_strings_are_cut_with_a_marker(self):
        stats, stderr = run_script(
            "run = runwatch.init('long', run_id='long-strings', url=URL)\n"
            "run.info('x' * 2000000)\n"
            "run.token('\u00e9' * 300000 + 'end')\n"               # 2 bytes a character
            "run.event('blob', {'parts': ['y' * 1000000, 'short']})\n"
            "run.info('fine')\n"
            "run.finish(timeout=20)\n"
            "print(json.dumps(run.stats()))", self.server.url)
        self.assertEqual((stats["cut"], stats["rejected"]), (3, 0))
        events = self.server.events("long-strings")
        self.assertEqual([e["type"] for e in events], ["run_started", "log", "token", "blob", "log", "run_completed"])
        limit = 256 << 10

        def check(text, original):
            head, sep, tail = text.rpartition("\u2026 [cut ")
            self.assertTrue(sep and tail.endswith(" bytes]"), text[-60:])
            self.assertLessEqual(len(text.encode("utf-8")), limit)
            self.assertGreater(len(text.encode("utf-8")), limit - 64)  # cut no shorter than it must be
            self.assertTrue(original.startswith(head))
            self.assertEqual(int(tail[:-len(" bytes]")]), len(original.encode("utf-8")) - len(head.encode("utf-8")))
        check(events[1]["data"]["message"], "x" * 2000000)
        check(events[2]["data"]["text"], "\u00e9" * 300000 + "end")
        check(events[3]["data"]["parts"][0], "y" * 1000000)
        self.assertEqual(events[3]["data"]["parts"][1], "short")
        self.assertEqual(events[4]["data"]["message"], "fine")
        self.assertEqual(len(warnings_in(stderr, "was cut to 262144 bytes")), 1, stderr)

    def test_the_string_limit_is_configurable(self):
        stats, stderr = run_script(
            "a = runwatch.init('env', run_id='limit-env', url=URL)\n"
            "a.info('\u20ac' * 5000)\n"                            # 3 bytes a character
            "a.finish(timeout=10)\n"
            "b = runwatch.init('arg', run_id='limit-arg', url=URL, max_string_bytes=500)\n"
            "b.info('z' * 5000)\n"
            "b.finish(timeout=10)\n"
            "print(json.dumps([a.stats(), b.stats()]))", self.server.url,
            env={"RUNWATCH_MAX_STRING_BYTES": "1000"})
        self.assertEqual([s["cut"] for s in stats], [1, 1])
        env_text = self.server.events("limit-env")[1]["data"]["message"]
        self.assertLessEqual(len(env_text.encode("utf-8")), 1000)
        self.assertTrue(env_text.startswith("\u20ac" * 300))
        self.assertRegex(env_text, "^\u20ac+\u2026 \\[cut \\d+ bytes\\]$")  # whole characters only
        arg_text = self.server.events("limit-arg")[1]["data"]["message"]
        self.assertLessEqual(len(arg_text.encode("utf-8")), 500)
        self.assertRegex(arg_text, "^z{450,}\u2026 \\[cut \\d+ bytes\\]$")


if __name__ == "__main__":
    unittest.main()
