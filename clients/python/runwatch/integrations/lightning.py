"""Lightning: a Logger that streams a Trainer to Runwatch.

    from runwatch.integrations.lightning import RunwatchLogger
    trainer = Trainer(logger=RunwatchLogger("my-model"))

Logger API (lightning.pytorch.loggers.Logger):
  log_hyperparams(params) -> run_started with config (the run is created on first use)
  log_metrics(metrics, step) -> metric at step (numbers only; "epoch" goes to progress)
  finalize(status): "success"/"finished" -> run_status completed and a flush (run_completed follows
                    at exit or on run.finish(), so trainer.test() after fit() still logs);
                    "failed" -> run_failed; anything else (e.g. "aborted") -> run_status cancelled
  name, version (the run id), save() (a flush), experiment (the runwatch.Run)
Derives from lightning.pytorch's Logger (or pytorch_lightning's), created on first use; without
Lightning from a stand-in.
"""
from . import import_first, numeric, plain


class _StandInLogger:
    """Duck-typed lightning.pytorch.loggers.Logger."""

    def __init__(self, *args, **kwargs):
        pass

    def log_graph(self, model, input_array=None):
        pass

    def after_save_checkpoint(self, checkpoint_callback):
        pass

    def save(self):
        pass

    def finalize(self, status):
        self.save()

    @property
    def save_dir(self):
        return None

    @property
    def log_dir(self):
        return None

    @property
    def group_separator(self):
        return "/"


def _base():
    return import_first("lightning.pytorch.loggers:Logger", "pytorch_lightning.loggers:Logger",
                        "pytorch_lightning.loggers:LightningLoggerBase") or _StandInLogger


class _RunwatchLoggerMixin:
    def __init__(self, name="lightning", run=None, run_id=None, url=None, token=None, kind="training",
                 **init_options):
        self._base_init()
        self._run = run
        self._run_name = name
        self._run_id = run_id
        self._url, self._token, self._kind = url, token, kind
        self._init_options = init_options
        self._config = {}

    def _base_init(self):
        for cls in type(self).__mro__[1:]:
            if cls is not _RunwatchLoggerMixin and "__init__" in cls.__dict__:
                try:
                    cls.__init__(self)
                except TypeError:
                    pass
                return

    def _ensure_run(self):
        if self._run is None:
            import runwatch
            self._run = runwatch.init(self._run_name, kind=self._kind, config=self._config or None,
                                      run_id=self._run_id, url=self._url, token=self._token,
                                      **self._init_options)
        return self._run

    @property
    def experiment(self):
        return self._ensure_run()

    @property
    def name(self):
        return self._run_name

    @property
    def version(self):
        return self._run.id if self._run is not None else self._run_id

    def log_hyperparams(self, params, *args, **kwargs):
        config = plain(vars(params) if hasattr(params, "__dict__") and not isinstance(params, dict) else dict(params or {}))
        self._config.update(config)
        if self._run is None:
            self._ensure_run()
        else:  # more hyperparameters after the start: run_started again updates the config
            self._run.event("run_started", {"config": dict(self._config)})

    def log_metrics(self, metrics, step=None):
        run = self._ensure_run()
        values = numeric(metrics, skip=("epoch",))
        if "epoch" in (metrics or {}) and step is not None:
            run.progress(completed=step, epoch=numeric({"e": metrics["epoch"]}).get("e"))
        if values:
            run.log(values, step=step)

    def save(self):
        if self._run is not None and not self._run.finished:
            self._run.flush(timeout=5)

    def finalize(self, status):
        if self._run is None or self._run.finished:
            return
        if status in ("success", "finished"):
            self._run.status("completed")
            self._run.flush(timeout=10)
        elif status == "failed":
            self._run.fail("training failed (Lightning finalize status %r)" % status)
        else:
            self._run.status("cancelled", "Lightning finalize status %r" % status)
            self._run.flush(timeout=10)


_class = None


def _make_class():
    global _class
    if _class is None:
        _class = type("RunwatchLogger", (_RunwatchLoggerMixin, _base()), {
            "__doc__": __doc__, "__module__": __name__,
            "__init__": _RunwatchLoggerMixin.__init__,
            # Lightning's Logger declares these abstract; the mixin's win in the MRO.
            "name": _RunwatchLoggerMixin.name, "version": _RunwatchLoggerMixin.version,
            "experiment": _RunwatchLoggerMixin.experiment,
            "log_hyperparams": _RunwatchLoggerMixin.log_hyperparams,
            "log_metrics": _RunwatchLoggerMixin.log_metrics,
            "save": _RunwatchLoggerMixin.save, "finalize": _RunwatchLoggerMixin.finalize})
    return _class


def __getattr__(name):
    if name == "RunwatchLogger":
        return _make_class()
    raise AttributeError(name)
