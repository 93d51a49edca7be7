"""The examples, run end to end as a user runs them, against a real server."""
import os
import subprocess
import sys
import unittest

from support import ROOT, ServerMixin

EXAMPLES = os.path.join(ROOT, "examples")


def have_torch():
    try:
        import torch  # noqa: F401
        return True
    except Exception:
        return False


class Examples(ServerMixin):

    def run_example(self, name, run_id, *args, timeout=120):
        env = dict(os.environ, RUNWATCH_URL=self.server.url, PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), "--run-id", run_id, *args],
                              capture_output=True, text=True, timeout=timeout, env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return proc.stdout

    @unittest.skipUnless(have_torch(), "torch is not installed for %s (Debian: apt-get install python3-torch)"
                         % sys.executable)
    def test_train_torch(self):
        out = self.run_example("train_torch.py", "torch-example")
        self.assertIn("delivered", out)
        summary = self.server.run("torch-example")
        self.assertEqual(summary["status"], "completed")
        self.assertEqual(summary["progress"], 1.0)
        self.assertEqual(summary["current_epoch"], 4)
        self.assertEqual(sorted(summary["metrics"]),
                         ["eval_accuracy", "eval_loss", "loss", "lr", "samples_per_second"])
        status, series = self.server.get("/api/runs/torch-example/metrics/loss")
        self.assertEqual(status, 200)
        losses = [p[1] for p in series["points"]]
        self.assertEqual(series["total"], summary["total"])
        first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
        self.assertLess(last, first * 0.6, "the loss did not fall: %.3f -> %.3f" % (first, last))
        status, evals = self.server.get("/api/runs/torch-example/metrics/eval_loss")
        eval_losses = [p[1] for p in evals["points"]]
        self.assertEqual(len(eval_losses), 4)
        self.assertLess(eval_losses[-1], eval_losses[0])

    def test_eval_loop(self):
        self.run_example("eval_loop.py", "eval-example", "--delay", "0")
        summary = self.server.run("eval-example")
        self.assertEqual(summary["status"], "completed")
        self.assertEqual(summary["result_count"], 200)
        self.assertAlmostEqual(summary["success_rate"], summary["summary"]["accuracy"])
        self.assertEqual(summary["progress"], 1.0)

    def test_agent_workflow(self):
        self.run_example("agent_workflow.py", "agent-example", "--speed", "20")
        summary = self.server.run("agent-example")
        self.assertEqual(summary["status"], "completed")
        steps = {s["id"]: s["status"] for s in summary["steps"]}
        self.assertEqual(steps, {"retrieve": "completed", "plan": "completed", "tool-search-1": "failed",
                                 "tool-search-2": "completed", "calculate": "completed", "answer": "completed"})
        tokens = [e for e in self.server.events("agent-example") if e["type"] == "token"]
        text = "".join(e["data"]["text"] for e in tokens)
        self.assertTrue(text.startswith("Runwatch streams events"))
        self.assertEqual(summary["output_chars"], len(text))


if __name__ == "__main__":
    unittest.main()
