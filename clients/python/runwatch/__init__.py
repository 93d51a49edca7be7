"""Runwatch producer SDK: stream a training, evaluation or agent run to a Runwatch server.

    import runwatch
    run = runwatch.init("bert-finetune", config={"lr": 3e-5}, total_steps=1000)
    for step in range(1000):
        run.log({"loss": loss}, step=step)
        run.progress(completed=step + 1, total=1000)
    run.finish()

Calls only enqueue (a few microseconds); a daemon thread batches events to POST /api/events. While
the server is unreachable, or the in-memory queue is full, events wait in a bounded on-disk spool
and are delivered later, in order and exactly once (each event carries a producer-side id, "eid").
Events are dropped only when the spool is full, and then stderr says so. Standard library only.
"""
from ._run import DEFAULT_URL, KINDS, Run, Step, init, make_run_id
from ._sync import sync

__version__ = "0.1.0"
__all__ = ["init", "Run", "Step", "sync", "make_run_id", "DEFAULT_URL", "KINDS", "__version__"]
