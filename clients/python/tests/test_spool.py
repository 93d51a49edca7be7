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

    def test_a_gap_keeps_older_events_ahead_of_newer_ones(self):
        # While the memory queue overflows, the producer appends newer events and the sender fills
        # the gap with the queue's older ones; they come out (and are adopted) gap first.
        s = Spool(self.tmp.name, "r", "sess", max_bytes=1 << 20, segment_bytes=60)
        s.append(['{"n":%d}' % i for i in range(5)])           # spooled before the overflow
        s.open_gap()
        moved = iter(range(5, 20))                                 # the queue's events
        for i in range(20, 30):
            s.append(['{"n":%d}' % i])                            # spilled by the producer
            if i % 3 == 0:
                s.append(['{"n":%d}' % next(moved)], gap=True)    # moved from the queue
        s.append(['{"n":%d}' % i for i in moved], gap=True)
        s.close_gap()
        expected = ['{"n":%d}' % i for i in range(30)]
        self.assertEqual(s.pending, 30)
        s.close()
        again = Spool(self.tmp.name, "r", "next", max_bytes=1 << 20)
        self.assertEqual(again.adopt_orphans(), 30)
        self.assertEqual(self.drain(again), expected)
        again.close()
        self.assertFalse(os.path.exists(again.dir))

    def test_an_unused_gap_leaves_nothing_behind(self):
        s = Spool(self.tmp.name, "r", "sess", max_bytes=1 << 20)
        s.open_gap()
        s.append(['{"n":1}'])
        s.close_gap()
        self.assertEqual(len([f for f in os.listdir(s.dir) if f.endswith(".jsonl")]), 1)
        self.assertEqual(self.drain(s), ['{"n":1}'])
        s.close()
        self.assertFalse(os.path.exists(s.dir))

    def test_bound_drops_the_gap_content_before_newer_events(self):
        s = Spool(self.tmp.name, "r", "sess", max_bytes=1200, segment_bytes=300)
        s.open_gap()
        s.append(['{"n":%05d}' % i for i in range(50)], gap=True)   # 600 bytes, oldest
        for i in range(50, 150):
            s.append(['{"n":%05d}' % i])
        s.close_gap()
        kept = self.drain(s)
        self.assertEqual(s.dropped + len(kept), 150)
        self.assertEqual(kept, ['{"n":%05d}' % i for i in range(150 - len(kept), 150)])
        s.close()

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
