"""Hugging Face transformers: a TrainerCallback that streams a Trainer to Runwatch.

    from runwatch.integrations.huggingface import RunwatchCallback
    trainer = Trainer(..., callbacks=[RunwatchCallback()])            # or RunwatchCallback(run=run)

Hooks (transformers' documented signatures, hook(args, state, control, **kwargs)):
  on_train_begin -> run_started (if the callback makes the run: name from args.run_name,
                    config = args.to_dict()), progress 0/max_steps
  on_log(logs)   -> metric at state.global_step (numbers only; "epoch" goes to progress)
  on_evaluate(metrics) -> metric at state.global_step
  on_step_end    -> progress (completed=global_step, total=max_steps, epoch, total_epochs), <= 5/s
  on_epoch_end   -> progress
  on_train_end   -> run_completed (only for a run the callback made); the final log as summary
The class derives from transformers.TrainerCallback, created on first use; without transformers it
derives from a stand-in with the same hooks.
"""
from . import Throttle, import_first, numeric, plain

_HOOKS = ("on_init_end", "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
          "on_step_begin", "on_substep_end", "on_step_end", "on_evaluate", "on_predict", "on_save",
          "on_log", "on_prediction_step", "on_optimizer_step", "on_pre_optimizer_step")


class _StandInTrainerCallback:
    """Duck-typed transformers.TrainerCallback: every hook exists and does nothing."""


for _name in _HOOKS:
    setattr(_StandInTrainerCallback, _name, lambda self, args, state, control, **kwargs: None)


def _base():
    return import_first("transformers:TrainerCallback", "transformers.trainer_callback:TrainerCallback") \
        or _StandInTrainerCallback


class _RunwatchCallbackMixin:
    def __init__(self, run=None, name=None, run_id=None, url=None, token=None, finish=None,
                 progress_interval=0.2, **init_options):
        self.run = run
        self._own_run = run is None
        self._finish = self._own_run if finish is None else finish
        self._name, self._run_id, self._url, self._token = name, run_id, url, token
        self._init_options = init_options
        self._throttle = Throttle(progress_interval)
        self._last_logs = {}

    @staticmethod
    def _is_main(state):
        return getattr(state, "is_world_process_zero", True) in (True, None)

    def _progress(self, state, force=False):
        if self.run is None or not self._throttle(force):
            return
        total = getattr(state, "max_steps", None) or None
        epoch = getattr(state, "epoch", None)
        total_epochs = getattr(state, "num_train_epochs", None) or None
        self.run.progress(completed=getattr(state, "global_step", 0) or 0, total=total,
                          epoch=epoch, total_epochs=total_epochs)

    def on_train_begin(self, args, state, control, **kwargs):
        if not self._is_main(state):
            return
        if self.run is None:
            import runwatch
            config = {}
            if hasattr(args, "to_dict"):
                config = plain(args.to_dict())
            model = kwargs.get("model")
            model_config = getattr(model, "config", None)
            if model_config is not None and hasattr(model_config, "to_dict"):
                config["model"] = plain(model_config.to_dict())
            name = self._name or getattr(args, "run_name", None) or "transformers-trainer"
            self.run = runwatch.init(name, kind="training", config=config, run_id=self._run_id,
                                     total_steps=getattr(state, "max_steps", None) or None,
                                     url=self._url, token=self._token,
                                     total_epochs=getattr(args, "num_train_epochs", None), **self._init_options)
        self._progress(state, force=True)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.run is None or not self._is_main(state):
            return
        values = numeric(logs, skip=("epoch",))
        if values:
            self._last_logs.update(values)
            self.run.log(values, step=getattr(state, "global_step", None))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.run is None or not self._is_main(state):
            return
        values = numeric(metrics, skip=("epoch",))
        if values:
            self.run.log(values, step=getattr(state, "global_step", None))

    def on_step_end(self, args, state, control, **kwargs):
        if self._is_main(state):
            self._progress(state)

    def on_epoch_end(self, args, state, control, **kwargs):
        if self._is_main(state):
            self._progress(state, force=True)

    def on_train_end(self, args, state, control, **kwargs):
        if self.run is None or not self._is_main(state):
            return
        self._progress(state, force=True)
        if self._finish:
            self.run.finish(summary=dict(self._last_logs) or None)
        else:
            self.run.flush(timeout=5)


_class = None


def _make_class():
    global _class
    if _class is None:
        base = _base()
        _class = type("RunwatchCallback", (_RunwatchCallbackMixin, base), {
            "__doc__": __doc__, "__module__": __name__,
            "__init__": _RunwatchCallbackMixin.__init__})
    return _class


def __getattr__(name):  # PEP 562: the class (and transformers) only when asked for
    if name == "RunwatchCallback":
        return _make_class()
    raise AttributeError(name)
