#!/usr/bin/env python3
"""Per-call cost of run.log(), with the server up and down.

    /usr/bin/python3 bench_log.py [--calls 100000] [--url URL | --binary PATH]

Server up: --url, else a headless server started from --binary / RUNWATCH_BINARY / the build tree.
Server down: a closed local port (events go to the spool in a temporary directory).
Queue full: server up, but an in-memory queue of only 1,000 events, so that nearly every call
overflows it (the path a burst faster than the sender takes).
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import runwatch  # noqa: E402


def measure(url, calls, spool_dir, max_queue=None):
    # By default a queue bound above the call count: this measures the enqueue path alone.
    run = runwatch.init("bench", url=url, spool_dir=spool_dir, finish_on_exit=False,
                        max_queue=max_queue or calls + 10)
    clock = time.perf_counter_ns
    durations = [0] * calls
    metrics = {"loss": 0.5, "eval_loss": 0.6, "lr": 1e-4}
    start = clock()
    for i in range(calls):
        t0 = clock()
        run.log(metrics, step=i)
        durations[i] = clock() - t0
    wall = clock() - start
    t0 = time.monotonic()
    delivered = run.finish(timeout=60)
    finish_s = time.monotonic() - t0
    durations.sort()
    pick = lambda q: durations[min(calls - 1, int(q * calls))] / 1000  # noqa: E731
    return {"median_us": pick(0.5), "p99_us": pick(0.99), "p999_us": pick(0.999),
            "max_us": durations[-1] / 1000, "mean_us": wall / calls / 1000,
            "finish_s": finish_s, "delivered": delivered, "stats": run.stats()}


def start_server(binary, data_dir):
    proc = subprocess.Popen([binary, "--headless", "--port", "0", "--data-dir", data_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("runwatch listening on "):
        proc.kill()
        raise SystemExit("runwatch did not start: %r" % line)
    return proc, line.rsplit(" ", 1)[1]


def report(label, r):
    print("%-12s median %6.2f us   p99 %6.2f us   p99.9 %7.2f us   max %8.1f us   mean %5.2f us   "
          "finish %.2f s (%s)" % (label, r["median_us"], r["p99_us"], r["p999_us"], r["max_us"], r["mean_us"],
                                 r["finish_s"], "delivered" if r["delivered"] else
                                 "%d spooled" % r["stats"]["spooled"]))
    if r["stats"]["dropped"]:
        print("             %d events dropped" % r["stats"]["dropped"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100000)
    parser.add_argument("--url")
    parser.add_argument("--binary", default=os.environ.get("RUNWATCH_BINARY") or
                        os.path.join(HERE, "..", "..", "build", "ci", "app", "runwatch"))
    args = parser.parse_args()
    import logging
    logging.getLogger("runwatch").addHandler(logging.NullHandler())
    tmp = tempfile.mkdtemp(prefix="runwatch-bench-")
    proc = None
    try:
        url = args.url
        if not url:
            proc, url = start_server(args.binary, os.path.join(tmp, "data"))
        print("python %s, %d calls of run.log({loss, eval_loss, lr}, step=i)" % (sys.version.split()[0], args.calls))
        report("server up", measure(url, args.calls, os.path.join(tmp, "spool-up")))
        report("queue full", measure(url, args.calls, os.path.join(tmp, "spool-full"), max_queue=1000))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = "http://127.0.0.1:%d" % s.getsockname()[1]
        r = measure(closed, args.calls, os.path.join(tmp, "spool-down"))
        r["finish_s"] = 0.0
        report("server down", r)
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
