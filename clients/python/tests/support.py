import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)  # clients/python
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import runwatch  # noqa: E402

if not os.environ.get("RUNWATCH_TEST_VERBOSE"):
    # The SDK's warnings (server unreachable, events spooled) are expected here; assertLogs still sees them.
    import logging
    logging.getLogger("runwatch").addHandler(logging.NullHandler())


class SpoolDirMixin(unittest.TestCase):
    """Every test gets its own spool directory, so nothing leaks into ~/.cache."""

    def setUp(self):
        super().setUp()
        self.spool_dir = tempfile.mkdtemp(prefix="runwatch-spool-")
        os.environ["RUNWATCH_SPOOL_DIR"] = self.spool_dir
        self.addCleanup(shutil.rmtree, self.spool_dir, True)
        self.addCleanup(os.environ.pop, "RUNWATCH_SPOOL_DIR", None)

    def spool_files(self):
        out = []
        for dirpath, _, files in os.walk(self.spool_dir):
            out += [os.path.join(dirpath, f) for f in files if f.endswith(".jsonl")]
        return sorted(out)


def closed_port_url():
    from server import free_port
    return "http://127.0.0.1:%d" % free_port()


class ServerMixin(SpoolDirMixin):
    """One real server for the tests of a class (self.server), started once and stopped after."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from server import Server
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        super().tearDownClass()
