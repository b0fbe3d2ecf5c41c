"""Automatic logging of what a tracked flow or task received and returned.

Arguments (:func:`log_inputs`):

* ``str``, ``int``, ``float``, ``bool``, ``None`` (and enums): params with their value.
* Short lists, tuples and dicts of such scalars: params holding their JSON (<= 250 chars).
* DataFrame, Series, numpy array: input dataset named after the parameter.
* A ``str`` or ``os.PathLike`` naming an existing file: param *and* input dataset.
* Anything else: a param holding the type name. Values are never pickled.

Return values (:func:`log_outputs`), looked at one level deep (a tuple's items, a dict's
values):

* DataFrame, Series, numpy array: output dataset ``<name>.output`` (``.output.<i|key>``
  for items of a tuple or dict).
* A fitted scikit-learn estimator or Pipeline: its ``get_params()`` scalars as
  ``model.<param>`` params (parameter names cannot contain dots, so they never clash),
  training metrics (see :mod:`trackflow.tracked.sklearn_metrics`) and the model package,
  saved with ``trackflow.registry.model_format.save_model`` as artifact folder ``model``.
* A mapping of names to numbers: metrics (non-numeric entries are left out).

Fingerprints are cached per object (by ``id``, checked through a weak reference) so a
DataFrame returned by one task and passed to the next is hashed once per process.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from trackflow.exceptions import TrackflowError
from trackflow.tracked.lazy_types import loaded_types
from trackflow.tracked.options import TrackingOptions
from trackflow.tracking.fluent import get_client
from trackflow.tracking.objects import known_ref
from trackflow.tracking.resilience import tracked_write

__all__ = ["FingerprintCache", "is_data", "link", "loaded_types", "log_inputs", "log_outputs", "param_value", "record_dataset"]

logger = logging.getLogger("trackflow.flows")

_SCALARS = (str, int, float, bool, type(None))
_MAX_JSON_PARAM = 250
_SKIPPED_PARAMS = frozenset({"self", "cls"})


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float, *loaded_types("numpy", "integer", "floating")))


def is_data(value: Any) -> bool:
    """A DataFrame, Series or numpy array (what becomes a dataset in memory)."""
    return isinstance(value, (*loaded_types("pandas", "DataFrame", "Series"), *loaded_types("numpy", "ndarray")))


def _existing_file(value: Any) -> bool:
    if not isinstance(value, (str, os.PathLike)) or (isinstance(value, str) and (not value or len(value) > 4096)):
        return False
    try:
        return Path(value).is_file()
    except (OSError, ValueError):
        return False


def param_value(value: Any) -> str:
    """The text a param records for an argument (see the module docstring)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, _SCALARS):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if _is_number(value):
        return str(value.item())
    if isinstance(value, (list, tuple, dict)) and len(value) <= 50:
        items = value.values() if isinstance(value, dict) else value
        if all(isinstance(v, _SCALARS) for v in items) and all(isinstance(k, str) for k in value if isinstance(value, dict)):
            text = json.dumps(value if not isinstance(value, tuple) else list(value))
            if len(text) <= _MAX_JSON_PARAM:
                return text
    return type(value).__name__


class FingerprintCache:
    """Fingerprints of live objects (weakly referenced) and of files (by size and mtime)."""

    def __init__(self, max_files: int = 1024) -> None:
        self._objects: dict[int, tuple[weakref.ref[Any], Any]] = {}
        self._files: dict[tuple[str, int, int], Any] = {}
        self._max_files = max_files
        self._lock = threading.Lock()

    def fingerprint(self, value: Any, *, refresh: bool = False) -> Any:
        """The fingerprint of ``value``; ``refresh`` recomputes it (outputs may be mutated)."""
        from trackflow.tracking.fingerprint import fingerprint_dataset

        key = self._file_key(value) if not is_data(value) else None
        if not refresh:
            cached = self._get(value, key)
            if cached is not None:
                return cached
        fp = fingerprint_dataset(value)
        self._put(value, key, fp)
        return fp

    @staticmethod
    def _file_key(value: Any) -> tuple[str, int, int] | None:
        try:
            path = Path(value).resolve()
            stat = path.stat()
        except (OSError, TypeError, ValueError):
            return None
        return (str(path), stat.st_size, stat.st_mtime_ns)

    def _get(self, value: Any, key: tuple[str, int, int] | None) -> Any:
        with self._lock:
            if key is not None:
                return self._files.get(key)
            entry = self._objects.get(id(value))
        if entry is not None and entry[0]() is value:
            return entry[1]
        return None

    def _put(self, value: Any, key: tuple[str, int, int] | None, fp: Any) -> None:
        with self._lock:
            if key is not None:
                if len(self._files) >= self._max_files:
                    self._files.pop(next(iter(self._files)))
                self._files[key] = fp
                return
            ident = id(value)

            def forget(_ref: Any, ident: int = ident) -> None:
                self._objects.pop(ident, None)

            try:
                ref = weakref.ref(value, forget)
            except TypeError:  # not weak-referenceable: not cached
                return
            self._objects[ident] = (ref, fp)


fingerprints = FingerprintCache()


def record_dataset(run_id: str, value: Any, name: str, role: str) -> None:
    """Record ``value`` as an input or output dataset of ``run_id`` (fingerprint cached)."""
    import pandas  # noqa: F401 - finish importing pandas here, not half-way in another thread

    fp = fingerprints.fingerprint(value, refresh=role == "output")
    tracked_write("log_dataset", run_id, fp, _safe_name(name), role=role)  # a fingerprint: not hashed again


def link(edges: Iterable[tuple[str, str, str]], *, run_id: str | None = None) -> None:
    """Record lineage edges ``(source, target, relation)`` such as ``cached_from`` (spooled in an outage)."""
    tracked_write("link_edges", list(edges), run_id=run_id)


def _safe_name(name: str) -> str:
    return name.replace("/", "-").replace("\\", "-")[:250]


def _best_effort(what: str, run_id: str, action: Any, *args: Any) -> None:
    try:
        action(*args)
    except (TrackflowError, Exception) as exc:
        logger.warning("trackflow: could not log %s of run %s: %s", what, run_id, exc)


def log_inputs(run_id: str, parameters: Mapping[str, Any], options: TrackingOptions) -> None:
    """Log a call's arguments as params and input datasets (see the module docstring)."""
    if not options.autolog:
        return
    params: dict[str, str] = {}
    received: list[tuple[str, str, str]] = []
    for name, value in parameters.items():
        if name in _SKIPPED_PARAMS:
            continue
        known = known_ref(value)
        if known is not None:
            received.append((known, f"run:{run_id}", "input"))
        data = is_data(value)
        if options.params and not data:
            params[name] = param_value(value)
        if options.datasets and (data or _existing_file(value)):
            _best_effort(f"dataset {name!r}", run_id, record_dataset, run_id, value, name, "input")
    if params:
        _best_effort("params", run_id, get_client().log_params, run_id, params)
    if received:
        _best_effort("inputs", run_id, tracked_write, "link_edges", received, run_id)


def _items(result: Any) -> Iterator[tuple[str | None, Any]]:
    if isinstance(result, (tuple, list)) and not hasattr(result, "_fields") and len(result) <= 20:
        for index, item in enumerate(result):
            yield str(index), item
    elif isinstance(result, Mapping):
        for key, item in list(result.items())[:100]:
            yield str(key), item
    else:
        yield None, result


def log_outputs(run_id: str, label: str, result: Any, parameters: Mapping[str, Any], options: TrackingOptions) -> None:
    """Log a return value: datasets, models and metrics (see the module docstring)."""
    if not options.autolog or result is None:
        return
    from trackflow.tracked.sklearn_metrics import is_fitted_estimator

    for suffix, item in _items(result):
        if options.datasets and is_data(item):
            name = f"{label}.output" + (f".{suffix}" if suffix is not None else "")
            _best_effort(f"output {name!r}", run_id, record_dataset, run_id, item, name, "output")
        elif options.models and is_fitted_estimator(item):
            known = known_ref(item)
            if known is not None:  # passed through (e.g. a flow returning its task's model): no new package
                _best_effort("model", run_id, tracked_write, "link_edges", [(f"run:{run_id}", known, "output")], run_id)
            else:
                _best_effort("model", run_id, log_model, run_id, item, suffix, parameters)
    if isinstance(result, Mapping):
        metrics = {str(k): float(v) for k, v in result.items() if _is_number(v)}
        if metrics:
            _best_effort("metrics", run_id, get_client().log_metrics, run_id, metrics)


def log_model(run_id: str, model: Any, suffix: str | None, parameters: Mapping[str, Any]) -> None:
    """Log a fitted estimator: ``model.*`` params, ``training_*`` metrics, the package."""
    from trackflow.tracked.sklearn_metrics import find_training_data, training_metrics

    client = get_client()
    prefix = "model." if suffix is None else f"model.{suffix}."
    raw = model.get_params(deep=True)
    params = {f"{prefix}{k}": param_value(v) for k, v in raw.items() if isinstance(v, _SCALARS) or _is_number(v)}
    client.log_params(run_id, {**params, f"{prefix}class": type(model).__name__})
    data = find_training_data(model, parameters)
    if data is not None:
        metrics = training_metrics(model, *data)
        if metrics:
            client.log_metrics(run_id, metrics)
    _save_model(run_id, model, "model" if suffix is None else f"model-{_safe_name(suffix)}", data)


def _save_model(run_id: str, model: Any, artifact_path: str, data: tuple[Any, Any] | None) -> None:
    from trackflow.registry.loading import log_package

    example = None
    if data is not None and hasattr(data[0], "__getitem__"):
        example = data[0].head(5) if hasattr(data[0], "head") else data[0][:5]
    client = get_client()
    try:
        log_package(client, model, run_id, artifact_path, input_example=example)
    except TrackflowError:
        if example is None:
            raise
        log_package(client, model, run_id, artifact_path)  # the example did not fit: save without
