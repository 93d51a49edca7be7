"""Framework adapters. Each module imports its framework only when its class is first used, and
falls back to a duck-typed base class when the framework is not installed (so the adapters can be
tested, and used with look-alike trainers, without it).

    from runwatch.integrations.huggingface import RunwatchCallback   # transformers.Trainer
    from runwatch.integrations.lightning import RunwatchLogger       # lightning Trainer(logger=...)
    from runwatch.integrations.keras import RunwatchKerasCallback    # model.fit(callbacks=[...])
"""
import importlib
import numbers
import time


def import_first(*candidates):
    """The first attribute "module:attr" that imports, or None."""
    for spec in candidates:
        module, _, attr = spec.partition(":")
        try:
            obj = importlib.import_module(module)
        except Exception:  # ImportError, and frameworks that fail to initialise
            continue
        for part in attr.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    return None


def numeric(values, skip=()):
    """The entries of a dict that are numbers (tensors/numpy scalars through .item())."""
    out = {}
    for key, value in (values or {}).items():
        if key in skip or isinstance(value, bool):
            continue
        if not isinstance(value, numbers.Number):
            item = getattr(value, "item", None)
            if not callable(item):
                continue
            try:
                value = item()
            except Exception:
                continue
            if not isinstance(value, numbers.Number) or isinstance(value, bool):
                continue
        out[str(key)] = value
    return out


def plain(value, depth=0):
    """A JSON-friendly copy of a config value (hyperparameters, TrainingArguments)."""
    if depth > 8:
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v, depth + 1) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except Exception:
            pass
    if hasattr(value, "__dict__") and type(value).__name__ == "Namespace":
        return plain(vars(value), depth + 1)
    return str(value)


class Throttle:
    """True at most every `interval` seconds (always true for the first call and when forced)."""

    def __init__(self, interval):
        self.interval = interval
        self.last = 0.0

    def __call__(self, force=False):
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            self.last = now
            return True
        return False
