"""Delivers events left in the spool by processes that ended while the server was unreachable."""
import logging
import os
import uuid

from ._sender import Endpoint, Sender
from ._spool import default_root

logger = logging.getLogger("runwatch")


def sync(url=None, token=None, spool_dir=None, timeout=60.0):
    """Sends the leftovers of every run in the spool. Returns {run_id: delivered (bool)}."""
    from ._run import DEFAULT_URL
    root = spool_dir or default_root()
    url = url or os.environ.get("RUNWATCH_URL") or DEFAULT_URL
    token = token if token is not None else os.environ.get("RUNWATCH_TOKEN") or None
    endpoint = Endpoint(url, token)
    results = {}
    if not os.path.isdir(root):
        return results
    for run_id in sorted(os.listdir(root)):
        if not os.path.isdir(os.path.join(root, run_id)):
            continue
        sender = Sender(run_id, uuid.uuid4().hex, endpoint, root, 1 << 40)
        if sender.spool.empty():
            sender.spool.close()
            continue
        sender.start()
        results[run_id] = sender.stop(timeout)
    return results
