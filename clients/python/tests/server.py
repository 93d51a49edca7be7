"""Starts a real `runwatch --headless` (RUNWATCH_BINARY) for the SDK tests."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

LISTENING = re.compile(r"^runwatch listening on (http://\S+):(\d+)$")


def binary():
    path = os.environ.get("RUNWATCH_BINARY")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        guess = os.path.normpath(os.path.join(here, "..", "..", "..", "build", "ci", "app", "runwatch"))
        if os.path.exists(guess):
            return guess
        raise RuntimeError("RUNWATCH_BINARY is not set")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, port=0, data_dir=None, args=()):
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="runwatch-sdk-test-")
            data_dir = self._tmp
        self.data_dir = data_dir
        self.proc = subprocess.Popen([binary(), "--headless", "--port", str(port), "--data-dir", data_dir, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().strip()
            if line or self.proc.poll() is not None:
                break
        m = LISTENING.match(line)
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError("runwatch did not start: %r %r" % (line, err))
        self.port = int(m.group(2))
        self.url = "http://127.0.0.1:%d" % self.port

    def get(self, path, token=None):
        req = urllib.request.Request(self.url + path)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def events(self, run_id):
        out, since = [], 0
        while True:
            status, page = self.get("/api/runs/%s/events?since=%d&limit=100000" % (urllib.parse.quote(run_id), since))
            if status != 200:
                return out if out else None
            out.extend(page)
            if len(page) < 100000:
                return out
            since = page[-1]["seq"]

    def run(self, run_id):
        status, body = self.get("/api/runs/" + urllib.parse.quote(run_id))
        return body if status == 200 else None

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, keep_data=False):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        if self._tmp and not keep_data:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
