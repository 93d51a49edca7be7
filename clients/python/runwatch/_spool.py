"""A bounded on-disk queue of serialized events (JSON Lines segments) for when the server is away.

Layout: <root>/<run_id>/<session>-<NNNNNNNN>.jsonl, one event per line, plus <session>.lock, which
the owning process holds (flock) while it lives. Segments of a session whose lock is free belong to
a process that ended before it could deliver them; a later producer of the same run adopts them and
sends them first. Every line carries its event id ("eid"), so a segment that is sent again after a
crash is stored once by the server.

While the in-memory queue overflows, the spool can hold a "gap": a segment reserved in order
behind what is already spooled, into which the sender writes the queue's older events while the
producer appends newer ones behind it. Segment names carry their order (the index), so a later
process adopts them in the same order.

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
        self._bytes = 0              # sum of the segments' sizes
        self._head_offset = 0        # bytes of the head segment already delivered
        self._head_lines_done = 0
        self._tail = None            # open file of the last segment while we append to it
        self._gap = None             # the reserved segment's entry while a gap is open
        self._gap_file = None
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
            # Sessions in the order they wrote (the oldest last write of each), each session's
            # segments in index order: a segment filled later may belong before a newer one.
            segments = []
            for name in names:
                path = os.path.join(self.dir, name)
                try:
                    segments.append((int(SEGMENT_RE.match(name).group("index")), os.path.getmtime(path), path))
                except OSError:
                    pass
            if segments:
                segments.sort()
                adopted.append((min(m for _, m, _ in segments), session, [p for _, _, p in segments]))
        adopted.sort()
        added = 0
        entries = []
        for _, _, paths in adopted:
            for path in paths:
                try:
                    size = os.path.getsize(path)
                except OSError:
                    continue
                lines = _count_lines(path)
                entries.append([path, size, lines])
                added += lines
        if entries:
            self._ensure_dir()
            # Adopted segments come before anything of ours; only valid while our head is unread.
            assert self._head_offset == 0 or not self._segments
            self._segments[:0] = entries
            self._bytes += sum(e[1] for e in entries)
            self.pending += added
        return added

    # --- writing -----------------------------------------------------------------------------
    def total_bytes(self):
        return self._bytes - self._head_offset

    def append(self, lines, gap=False):
        """Appends serialized events (str, no newline) in order, at the tail or (gap=True) into the
        open gap. Drops the oldest events when the bound would be passed; returns how many were
        dropped by this call. Writes are buffered; flush() (or peek/close) puts them on disk."""
        if not lines:
            return 0
        self._ensure_dir()
        data = "".join(line + "\n" for line in lines).encode("utf-8", "replace")
        dropped = self._make_room(len(data))
        if gap and self._gap is not None:
            f, entry = self._gap_file, self._gap
        else:
            if self._tail is None or self._segments[-1][1] >= self.segment_bytes:
                self._open_new_tail()
            f, entry = self._tail, self._segments[-1]
        f.write(data)
        entry[1] += len(data)
        entry[2] += len(lines)
        self._bytes += len(data)
        self.pending += len(lines)
        self.dropped += dropped
        return dropped

    def flush(self):
        for f in (self._tail, self._gap_file):
            if f is not None:
                try:
                    f.flush()
                except OSError:
                    pass

    def _make_room(self, nbytes):
        """Drops the oldest events (whole segments; an open gap's content) until `nbytes` more fit."""
        dropped = 0
        while self._segments and self.total_bytes() + nbytes > self.max_bytes:
            i = 0
            while i < len(self._segments) and self._segments[i] is self._gap and self._gap[1] == 0:
                i += 1  # an empty gap holds nothing to drop
            if i == len(self._segments):
                break
            entry = self._segments[i]
            if entry is self._gap:
                # The gap is never read while open, so nothing of it was delivered yet.
                self._gap_file.seek(0)
                self._gap_file.truncate()
                dropped += entry[2]
                self.pending -= entry[2]
                self._bytes -= entry[1]
                entry[1] = entry[2] = 0
                continue
            if self._tail is not None and entry is self._segments[-1]:
                self._close_tail()
            dropped += self._remove_at(i)
        return dropped

    def open_gap(self):
        """Reserves the next place in order: what append(gap=True) writes comes after everything
        spooled so far and before everything append() writes from now on."""
        if self._gap is not None:
            return
        self._ensure_dir()
        self._close_tail()
        self._gap_file, self._gap = self._new_segment()

    def close_gap(self):
        """Ends the gap: it becomes an ordinary segment (or disappears when nothing went into it)."""
        if self._gap is None:
            return
        entry, f = self._gap, self._gap_file
        self._gap = self._gap_file = None
        try:
            f.close()
        except OSError:
            pass
        if entry[2] == 0 and entry[1] == 0:
            i = next(i for i, e in enumerate(self._segments) if e is entry)
            self._remove_at(i)

    def _new_segment(self):
        while True:
            path = os.path.join(self.dir, "%s-%08d.jsonl" % (self.session, self._next_index))
            self._next_index += 1
            if not os.path.exists(path):
                break
        entry = [path, 0, 0]
        self._segments.append(entry)
        return open(path, "ab"), entry

    def _open_new_tail(self):
        self._close_tail()
        self._tail, _ = self._new_segment()

    def _close_tail(self):
        if self._tail is not None:
            try:
                self._tail.close()
            except OSError:
                pass
            self._tail = None

    def _remove_head(self):
        return self._remove_at(0)

    def _remove_at(self, i):
        """Deletes segment i; returns how many of its events had not been delivered."""
        path, size, lines = self._segments.pop(i)
        self._bytes -= size
        if i == 0:
            lost = max(0, lines - self._head_lines_done)
            self._head_offset = 0
            self._head_lines_done = 0
        else:
            lost = lines
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
        not valid UTF-8 (a torn write) are skipped by the caller's JSON check. Not while a gap is
        open: the caller sends the memory queue first."""
        self.flush()
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
        self.close_gap()
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
