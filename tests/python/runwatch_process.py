"""Starts a real `runwatch --headless` process for tests and finds its port."""
import os
import re
import signal
import subprocess
import tempfile
import time
import json
import urllib.request
import urllib.error

LISTENING = re.compile(r"^runwatch listening on (http://([^:]+|\[[^\]]+\]):(\d+))$")


class RunwatchProcess:
    def __init__(self, *args, data_dir=None):
        binary = os.environ.get("RUNWATCH_BINARY")
        if not binary:
            raise RuntimeError("RUNWATCH_BINARY is not set (CTest sets it)")
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory()
            data_dir = self._tmp.name
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [binary, "--headless", "--port", "0", "--data-dir", data_dir, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().strip()
            if line or self.proc.poll() is not None:
                break
        match = LISTENING.match(line)
        if not match:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"runwatch did not start: {line!r} {err!r}")
        self.proc_stderr = ""
        self.url = match.group(1)
        self.port = int(match.group(3))
        self.ws_url = f"ws://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, token=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stop(self, sig=signal.SIGTERM):
        """Stops the process; what it wrote on standard error is then in proc_stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr and not self.proc.stderr.closed:
            self.proc_stderr = self.proc.stderr.read()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None
