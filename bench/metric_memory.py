#!/usr/bin/env python3
"""Memory of the server with a large metric history, and its start time on it.

Starts each given runwatch binary headless on a fresh data dir, publishes POINTS metric points
(events of 10 metrics each, 5,000 events per POST) into a few runs, and reports the server's
resident memory (VmRSS) after the ingest, the time a clean restart takes until it listens, the
resident memory after that restart, and the time to read one whole series back over REST.

  bench/metric_memory.py [--points 14400000] BINARY [BINARY...]

Give the binary of the commit before a change and the one after it to compare them in one run.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def start(binary, data_dir):
    began = time.monotonic()
    proc = subprocess.Popen([binary, "--headless", "--port", "0", "--data-dir", data_dir,
                             "--max-events-per-second", "0", "--max-bytes-per-second", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    m = re.search(r"http://[^\s]+", line)
    if not m:
        raise SystemExit(f"{binary} did not start: {line!r}")
    return proc, m.group(0), time.monotonic() - began


def post(url, body):
    req = urllib.request.Request(url + "/api/events", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()


def measure(binary, points):
    data_dir = tempfile.mkdtemp(prefix="runwatch-mem-")
    proc, url, _ = start(binary, data_dir)
    metrics = [f"m{i}" for i in range(10)]
    events = points // len(metrics)
    runs = 4
    per_run = events // runs
    began = time.monotonic()
    for r in range(runs):
        for first in range(0, per_run, 5000):
            batch = [{"run": f"run{r}", "type": "metric",
                      "data": dict({"step": s}, **{m: (s % 1000) * 0.001 + k for k, m in enumerate(metrics)})}
                     for s in range(first, min(first + 5000, per_run))]
            post(url, json.dumps(batch).encode())
    ingest_s = time.monotonic() - began
    time.sleep(1.0)
    rss_after_ingest = rss_mb(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    proc, url, start_s = start(binary, data_dir)
    time.sleep(0.5)
    rss_after_start = rss_mb(proc.pid)
    began = time.monotonic()
    with urllib.request.urlopen(url + "/api/runs/run0/metrics/m0", timeout=120) as r:
        total = json.loads(r.read())["total"]
    read_s = time.monotonic() - began
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    subprocess.run(["rm", "-rf", data_dir])
    return {"binary": binary, "points": runs * per_run * len(metrics), "ingest_s": ingest_s,
            "rss_after_ingest_mb": rss_after_ingest, "restart_s": start_s,
            "rss_after_restart_mb": rss_after_start, "series_points": total, "read_series_s": read_s}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=14_400_000)
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    print("| binary | points | RSS after ingest | clean restart until listening | RSS after restart | one series (points) read back |")
    print("|---|---|---|---|---|---|")
    for binary in args.binaries:
        r = measure(os.path.abspath(binary), args.points)
        print(f"| {binary} | {r['points']:,} | {r['rss_after_ingest_mb']:.0f} MB | {r['restart_s']:.2f} s | "
              f"{r['rss_after_restart_mb']:.0f} MB | {r['read_series_s']:.2f} s ({r['series_points']:,}) |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
