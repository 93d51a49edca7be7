"""A bounded on-disk queue of serialized events (JSON Lines segments) for when the server is away.

Layout: <root>/<run_id>/<session>-<NNNNNNNN>.jsonl, one event per line, plus <session>.lock, which
the owning process holds (flock) while it lives. Segments of a session whose lock is free belong to
a process that ended before it could deliver them; a later producer of the same run adopts them and
sends them first. Every line carries its event id ("eid"), so a segment that is sent again after a
crash is stored once by the server.

Not thread-safe by itself: the sender serializes access with its lock.
"""
import os
import re

try:
    import fcntl
except ImportError:  # Windows: no adoption of other sessions' leftovers, the rest works
    fcntl = None

SEGMENT_RE = re.compile(r"^(?P<session>[0-9A-Za-z_.]+)-(?P<index>\d{8})\.jsonl$")


def default_root():
    base = os.environ.get("RUNWATCH_SPOOL_DIR")
    if base:
        return base
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "runwatch", "spool")


def _count_lines(path, start=0):
    try:
        with open(path, "rb") as f:
            f.seek(start)
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


class Spool:
    """Segments in order, the head one read from `_head_offset`, the tail one appended to."""

    def __init__(self, root, run_id, session, max_bytes, segment_bytes=None):
        self.dir = os.path.join(root, run_id)
        self.session = session
        self.max_bytes = max(int(max_bytes), 1024)
        self.segment_bytes = segment_bytes or max(4096, min(4 << 20, self.max_bytes // 8))
        self._segments = []          # [path, size_bytes, lines] oldest first
        self._head_offset = 0        # bytes of the head segment already delivered
        self._head_lines_done = 0
        self._tail = None            # open file of the last segment while we append to it
        self._next_index = 0
        self._lock_file = None
        self.pending = 0             # events on disk not yet delivered
        self.dropped = 0             # events dropped because the spool was full

    # --- ownership ---------------------------------------------------------------------------
    def _ensure_dir(self):
        if self._lock_file is None:
            os.makedirs(self.dir, exist_ok=True)
            self._lock_file = open(os.path.join(self.dir, self.session + ".lock"), "a+")
            if fcntl is not None:
                try:
                    fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    pass

    def adopt_orphans(self):
        """Puts the undelivered segments of ended sessions of this run at the head of the queue.
        Returns the number of events adopted."""
        if fcntl is None or not os.path.isdir(self.dir):
            return 0
        sessions = {}
        for name in os.listdir(self.dir):
            m = SEGMENT_RE.match(name)
            if m and m.group("session") != self.session:
                sessions.setdefault(m.group("session"), []).append(name)
        adopted = []
        for session, names in sessions.items():
            lock_path = os.path.join(self.dir, session + ".lock")
            try:
                lf = open(lock_path, "a+")
            except OSError:
                continue
            try:
                fcntl.flock(lf.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # its producer is still alive
                lf.close()
                continue
            # Keep holding the old lock so no third process adopts the same segments.
            self._adopted_locks = getattr(self, "_adopted_locks", []) + [(lf, lock_path)]
            for name in names:
                path = os.path.join(self.dir, name)
                try:
                    adopted.append((os.path.getmtime(path), name, path))
                except OSError:
                    pass
        adopted.sort()
        added = 0
        entries = []
        for _, _, path in adopted:
            lines = _count_lines(path)
            entries.append([path, os.path.getsize(path), lines])
            added += lines
        if entries:
            self._ensure_dir()
            # Adopted segments come before anything of ours; only valid while our head is unread.
            assert self._head_offset == 0 or not self._segments
            self._segments[:0] = entries
            self.pending += added
        return added

    # --- writing -----------------------------------------------------------------------------
    def total_bytes(self):
        return sum(s[1] for s in self._segments) - self._head_offset

    def append(self, lines):
        """Appends serialized events (str, no newline) in order. Drops the oldest segments when the
        bound would be passed; returns how many events were dropped by this call."""
        if not lines:
            return 0
        self._ensure_dir()
        data = "".join(line + "\n" for line in lines).encode("utf-8", "replace")
        dropped = 0
        # Make room: drop whole oldest segments (never the one we append to while others remain).
        while self._segments and self.total_bytes() + len(data) > self.max_bytes:
            if len(self._segments) == 1 and self._tail is not None:
                self._close_tail()
            dropped += self._drop_head()
        if self._tail is None or self._segments[-1][1] >= self.segment_bytes:
            self._open_new_tail()
        self._tail.write(data)
        self._tail.flush()
        self._segments[-1][1] += len(data)
        self._segments[-1][2] += len(lines)
        self.pending += len(lines)
        self.dropped += dropped
        return dropped

    def _open_new_tail(self):
        self._close_tail()
        while True:
            path = os.path.join(self.dir, "%s-%08d.jsonl" % (self.session, self._next_index))
            self._next_index += 1
            if not os.path.exists(path):
                break
        self._tail = open(path, "ab")
        self._segments.append([path, 0, 0])

    def _close_tail(self):
        if self._tail is not None:
            try:
                self._tail.close()
            except OSError:
                pass
            self._tail = None

    def _drop_head(self):
        return self._remove_head()

    def _remove_head(self):
        """Deletes the head segment; returns how many of its events had not been delivered."""
        path, _, lines = self._segments.pop(0)
        lost = max(0, lines - self._head_lines_done)
        self._head_offset = 0
        self._head_lines_done = 0
        if self._tail is not None and (not self._segments or self._tail.name == path):
            self._close_tail()
        try:
            os.remove(path)
        except OSError:
            pass
        self.pending -= lost
        return lost

    # --- reading -----------------------------------------------------------------------------
    def peek(self, max_events, max_bytes=8 << 20):
        """The next undelivered events of the head segment: (lines, byte_length). Lines that are
        not valid UTF-8 (a torn write) are skipped by the caller's JSON check."""
        while self._segments:
            path = self._segments[0][0]
            lines, used = [], 0
            try:
                with open(path, "rb") as f:
                    f.seek(self._head_offset)
                    while len(lines) < max_events and used < max_bytes:
                        raw = f.readline()
                        if not raw:
                            break
                        if not raw.endswith(b"\n"):
                            break  # a partial last line: not written completely (yet)
                        used += len(raw)
                        lines.append(raw[:-1].decode("utf-8", "replace"))
            except OSError:
                lines, used = [], 0
            if lines:
                return lines, used
            if self._tail is not None and len(self._segments) == 1:
                return [], 0  # the only segment is fully read; keep it for appending
            self._finish_head()
        return [], 0

    def advance(self, count, nbytes):
        """Marks `count` events (`nbytes` bytes) of the head segment as delivered."""
        self._head_offset += nbytes
        self._head_lines_done += count
        self.pending -= count
        seg = self._segments[0]
        if self._head_offset >= seg[1] and not (self._tail is not None and len(self._segments) == 1):
            self._finish_head()
        elif self._head_offset >= seg[1] and self.pending == 0:
            # Everything delivered: start over with an empty spool.
            self._close_tail()
            self._finish_head()

    def _finish_head(self):
        self._remove_head()  # a torn last line (a crash mid-write) is not counted as dropped

    def empty(self):
        return self.pending <= 0 and not self._segments

    def close(self):
        """Closes files; removes the lock (and the run's directory) when nothing is left."""
        self._close_tail()
        for lf, path in getattr(self, "_adopted_locks", []):
            try:
                os.remove(path)
            except OSError:
                pass
            lf.close()
        self._adopted_locks = []
        if self._lock_file is not None:
            if not self._segments:
                try:
                    os.remove(os.path.join(self.dir, self.session + ".lock"))
                except OSError:
                    pass
            self._lock_file.close()
            self._lock_file = None
            try:
                os.rmdir(self.dir)  # only succeeds when empty
            except OSError:
                pass
