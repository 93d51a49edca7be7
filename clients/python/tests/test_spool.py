"""The on-disk spool on its own: order, the size bound, torn writes, adoption."""
import os
import tempfile
import unittest

from support import runwatch  # noqa: F401 (puts the package on sys.path)
from runwatch._spool import Spool


class SpoolTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def drain(self, spool):
        out = []
        while True:
            lines, nbytes = spool.peek(7)
            if not lines:
                return out
            out += lines
            spool.advance(len(lines), nbytes)

    def test_order_and_cleanup(self):
        s = Spool(self.tmp.name, "r", "sess", max_bytes=1 << 20, segment_bytes=100)
        lines = ['{"n":%d}' % i for i in range(50)]
        for i in range(0, 50, 5):
            s.append(lines[i:i + 5])
        self.assertGreater(len(os.listdir(s.dir)), 3)
        self.assertEqual(s.pending, 50)
        self.assertEqual(self.drain(s), lines)
        self.assertTrue(s.empty())
        s.close()
        self.assertFalse(os.path.exists(s.dir))

    def test_bound_drops_oldest_and_counts(self):
        s = Spool(self.tmp.name, "r", "sess", max_bytes=2000, segment_bytes=500)
        lines = ['{"n":%05d}' % i for i in range(1000)]  # 12 bytes a line with the newline
        for i in range(0, 1000, 10):
            s.append(lines[i:i + 10])
        on_disk = sum(os.path.getsize(os.path.join(s.dir, f)) for f in os.listdir(s.dir) if f.endswith(".jsonl"))
        self.assertLessEqual(on_disk, 2000)
        kept = self.drain(s)
        self.assertEqual(s.dropped + len(kept), 1000)
        self.assertEqual(kept, lines[-len(kept):])  # the newest survive, in order
        self.assertGreater(len(kept), 100)
        s.close()

    def test_torn_last_line_is_skipped(self):
        s = Spool(self.tmp.name, "r", "old", max_bytes=1 << 20)
        s.append(['{"n":1}', '{"n":2}'])
        path = s._segments[0][0]
        s.close()
        with open(path, "ab") as f:
            f.write(b'{"n":3')  # the process died in the middle of a write
        s2 = Spool(self.tmp.name, "r", "new", max_bytes=1 << 20)
        self.assertEqual(s2.adopt_orphans(), 3)
        self.assertEqual(self.drain(s2), ['{"n":1}', '{"n":2}'])
        self.assertTrue(s2.empty())
        s2.close()
        self.assertFalse(os.path.exists(s2.dir))

    def test_a_live_session_is_not_adopted(self):
        live = Spool(self.tmp.name, "r", "live", max_bytes=1 << 20)
        live.append(['{"n":1}'])
        other = Spool(self.tmp.name, "r", "other", max_bytes=1 << 20)
        self.assertEqual(other.adopt_orphans(), 0)
        live.close()
        self.assertEqual(other.adopt_orphans(), 1)
        other.close()


if __name__ == "__main__":
    unittest.main()
