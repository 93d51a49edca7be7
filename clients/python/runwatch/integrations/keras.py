"""Keras: a Callback that streams model.fit() to Runwatch.

    from runwatch.integrations.keras import RunwatchKerasCallback
    model.fit(x, y, epochs=3, callbacks=[RunwatchKerasCallback("my-model")])

Hooks (keras.callbacks.Callback):
  set_params(params) / on_train_begin -> run_started (epochs, steps per epoch as total_steps)
  on_train_batch_end(batch, logs) -> progress (<= 5/s); with log_batches=True also metrics
  on_epoch_end(epoch, logs) -> metric at the global batch count (loss, val_loss, accuracy, ...) and
                               progress with the epoch
  on_train_end(logs) -> run_completed (only for a run the callback made)
Derives from keras.callbacks.Callback (Keras 3, else tf.keras), created on first use; without Keras
from a stand-in.
"""
from . import Throttle, import_first, numeric

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin",
          "on_test_batch_end", "on_predict_begin", "on_predict_end", "on_predict_batch_begin",
          "on_predict_batch_end", "on_batch_begin", "on_batch_end")


class _StandInCallback:
    """Duck-typed keras.callbacks.Callback."""

    def __init__(self):
        self.params = None
        self.model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model


def _noop(self, *args, **kwargs):
    return None


for _name in _HOOKS:
    setattr(_StandInCallback, _name, _noop)


def _base():
    return import_first("keras:callbacks.Callback", "tensorflow.keras.callbacks:Callback") or _StandInCallback


class _RunwatchKerasMixin:
    def __init__(self, name="keras", run=None, run_id=None, url=None, token=None, config=None,
                 log_batches=False, progress_interval=0.2, finish=None, **init_options):
        for cls in type(self).__mro__[1:]:
            if cls is not _RunwatchKerasMixin and "__init__" in cls.__dict__:
                cls.__init__(self)
                break
        self.run = run
        self._finish = (run is None) if finish is None else finish
        self._name, self._run_id, self._url, self._token = name, run_id, url, token
        self._config = config
        self._log_batches = log_batches
        self._throttle = Throttle(progress_interval)
        self._init_options = init_options
        self._epoch = 0
        self._epochs = None
        self._steps = None
        self._global_batch = 0

    def _params(self):
        params = getattr(self, "params", None) or {}
        self._epochs = params.get("epochs") or self._epochs
        self._steps = params.get("steps") or self._steps
        return params

    def _total(self):
        return self._epochs * self._steps if self._epochs and self._steps else None

    def on_train_begin(self, logs=None):
        params = self._params()
        if self.run is None:
            import runwatch
            config = dict(self._config or {})
            config.setdefault("epochs", params.get("epochs"))
            config.setdefault("steps_per_epoch", params.get("steps"))
            self.run = runwatch.init(self._name, kind="training", config=config, run_id=self._run_id,
                                     total_steps=self._total(), total_epochs=self._epochs,
                                     url=self._url, token=self._token, **self._init_options)
        self.run.progress(completed=0, total=self._total(), epoch=0, total_epochs=self._epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.run is None:
            return
        self._global_batch += 1
        if self._log_batches:
            values = numeric(logs, skip=("batch", "size"))
            if values:
                self.run.log({"batch_" + k: v for k, v in values.items()}, step=self._global_batch)
        if self._throttle():
            self.run.progress(completed=self._global_batch, total=self._total(),
                              epoch=self._epoch + (batch + 1) / self._steps if self._steps else self._epoch,
                              total_epochs=self._epochs)

    def on_epoch_end(self, epoch, logs=None):
        if self.run is None:
            return
        values = numeric(logs)
        step = self._global_batch or epoch + 1
        if values:
            self.run.log(values, step=step)
        self.run.progress(completed=step, total=self._total(), epoch=epoch + 1, total_epochs=self._epochs)

    def on_train_end(self, logs=None):
        if self.run is None:
            return
        if self._finish:
            self.run.finish(summary=numeric(logs) or None)
        else:
            self.run.flush(timeout=5)


_class = None


def _make_class():
    global _class
    if _class is None:
        _class = type("RunwatchKerasCallback", (_RunwatchKerasMixin, _base()), {
            "__doc__": __doc__, "__module__": __name__, "__init__": _RunwatchKerasMixin.__init__})
    return _class


def __getattr__(name):
    if name == "RunwatchKerasCallback":
        return _make_class()
    raise AttributeError(name)
