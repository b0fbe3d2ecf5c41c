"""The skops allowlist, built once per set of library versions and cached on disk.

Two things make the first model save or load of a process slow (~1 s on a small machine):
trackflow's allowlist (every estimator of ``sklearn.utils.all_estimators()``, which
imports every scikit-learn module) and skops' own import, which computes its default
trusted types at import time (the same walk, plus a search of every loaded module for
each numpy and scipy ufunc). Both results depend only on the installed versions, so the
first process builds them and writes them to ``skops-trusted-<key>.json`` in trackflow's cache
folder (``TRACKFLOW_CACHE_DIR``, default ``~/.cache/trackflow``), ``<key>`` a hash of the Python, scikit-learn, skops, numpy, scipy and trackflow versions.
Later processes read the file: :func:`trusted_skops_types` returns the allowlist from it
and :func:`import_skops_io` hands skops its import-time lists through a prepared
``skops.io._trusted_types`` module.

The cache can only narrow what is trusted to names of the libraries it was computed for:
on reading, every name must be a dotted name inside ``sklearn`` (trackflow's allowlist and
skops' scikit-learn lists), ``numpy`` / ``scipy`` (skops' ufunc and dtype lists) or
``builtins`` (primitives and containers), and the versions must match; anything else,
an unreadable file or a skops whose import needs other names, is ignored and everything is
built as without a cache (and the file rewritten). ``TRACKFLOW_SKOPS_CACHE=0`` turns the
cache off.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import platform
import re
import sys
import threading
import types
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["CACHE_FORMAT", "cache_file", "import_skops_io", "trusted_skops_types", "type_name"]

CACHE_FORMAT = 1
_SKOPS_TYPES_MODULE = "skops.io._trusted_types"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_LIST_PREFIXES = {"SKLEARN": ("sklearn.",), "NUMPY": ("numpy.",), "SCIPY": ("scipy.", "numpy."),
                  "PRIMITIVE": ("builtins.",), "CONTAINER": ("builtins.",)}  # fmt: skip

_EXPLICIT_TRUSTED = (
    "builtins.slice", "collections.OrderedDict", "numpy.dtype", "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration",
    "sklearn.compose._column_transformer._RemainderColsList",
    "sklearn.metrics._scorer._PassthroughScorer",
)
# Modules whose own classes are plain fitted-state holders (trees, distance metrics,
# optimizers, losses, CV splitters): every class defined in them is trusted.
_TRUSTED_MODULES = (
    "sklearn._loss.link", "sklearn._loss.loss", "sklearn.metrics._dist_metrics",
    "sklearn.model_selection._split", "sklearn.neighbors._ball_tree",
    "sklearn.neighbors._kd_tree", "sklearn.neural_network._stochastic_optimizers",
)

_lock = threading.RLock()
_allowlist: frozenset[str] | None = None


def type_name(cls: type) -> str:
    """The fully-qualified name of a class, as skops reports it."""
    return f"{cls.__module__}.{cls.__qualname__}"


def trusted_skops_types() -> frozenset[str]:
    """Fully-qualified type names a skops payload may contain: every estimator class of
    ``sklearn.utils.all_estimators()``, every class defined in a few scikit-learn modules
    of plain fitted state, and explicit helper types. Never extended from a package.

    Built (or read from the cache) once per process; the first caller does it while every
    other thread waits, so the warm-up thread and a first load never import scikit-learn's
    modules concurrently.
    """
    global _allowlist
    found = _allowlist
    if found is not None:
        return found
    with _lock:
        if _allowlist is None:
            cached = _read_cache()
            if cached is not None:
                import_skops_io()  # a caller goes on to use skops
                _allowlist = frozenset(cached["trackflow"])
            else:
                _allowlist = _build()
        return _allowlist


def import_skops_io() -> types.ModuleType:
    """``skops.io``, imported with its import-time type lists from the cache when there is one."""
    if "skops.io" in sys.modules:  # import_module waits for an import under way in another thread
        return importlib.import_module("skops.io")
    with _lock:
        if "skops.io" in sys.modules:
            return importlib.import_module("skops.io")
        cached = _read_cache()
        if cached is not None and _SKOPS_TYPES_MODULE not in sys.modules:
            module = types.ModuleType(_SKOPS_TYPES_MODULE, "skops' default trusted types, read from trackflow's cache")
            for name, values in cached["skops"].items():
                setattr(module, name, list(values))
            sys.modules[_SKOPS_TYPES_MODULE] = module
            try:
                sio = importlib.import_module("skops.io")
            except Exception:  # noqa: BLE001 - another skops needs other names: import it as usual
                for name in [m for m in sys.modules if m == "skops.io" or m.startswith("skops.io.")]:
                    del sys.modules[name]
            else:
                sio._trusted_types = module  # type: ignore[attr-defined]  # as an import would set it
                return sio
        return importlib.import_module("skops.io")


def _build() -> frozenset[str]:
    import_skops_io()  # imported under the lock too: it imports sklearn modules
    from sklearn.utils import all_estimators

    names = set(_EXPLICIT_TRUSTED)
    names.update(type_name(cls) for _, cls in all_estimators())
    for module_name in _TRUSTED_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # moved in another sklearn version: those types stay untrusted
            continue
        names.update(
            type_name(cls)
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == module_name and "PyFunc" not in cls.__name__  # wraps callables
        )
    allowlist = frozenset(names)
    _write_cache(allowlist)
    return allowlist


# ------------------------------------------------------------------------------- cache


def _versions() -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "none"

    found = {dist: version(dist) for dist in ("scikit-learn", "skops", "numpy", "scipy", "trackflow")}
    return {"python": platform.python_version(), "implementation": sys.implementation.cache_tag or "", **found}


@lru_cache(maxsize=1)
def _versions_key() -> tuple[dict[str, str], str]:
    versions = _versions()
    return versions, hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:16]


def cache_file() -> Path | None:
    """Where the cache for the installed versions lives (None when ``TRACKFLOW_SKOPS_CACHE=0``)."""
    if os.environ.get("TRACKFLOW_SKOPS_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    from trackflow.settings import get_settings

    folder = get_settings().cache_dir
    return None if folder is None else folder / f"skops-trusted-{_versions_key()[1]}.json"


def _read_cache() -> dict[str, Any] | None:
    path = cache_file()
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if _valid(data, _versions_key()[0]) else None


def _valid(data: Any, versions: dict[str, str]) -> bool:
    """True for a cache of this format and these versions whose every name stays inside the
    library it must come from (see the module's docstring)."""
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("versions") != versions:
        return False
    names = data.get("trackflow")
    lists = data.get("skops")
    if not isinstance(names, list) or not isinstance(lists, dict) or not names:
        return False
    if not all(isinstance(n, str) and _NAME.match(n) and (n.startswith("sklearn.") or n in _EXPLICIT_TRUSTED)
               for n in names):
        return False
    for list_name, values in lists.items():
        prefixes = next((p for word, p in _LIST_PREFIXES.items() if word in str(list_name)), None)
        if prefixes is None or not str(list_name).isupper() or not isinstance(values, list):
            return False
        if not all(isinstance(v, str) and _NAME.match(v) and v.startswith(prefixes) for v in values):
            return False
    return True


def _skops_lists() -> dict[str, list[str]] | None:
    """skops' import-time lists of type names (None when they are not the ones skops computed)."""
    module = sys.modules.get(_SKOPS_TYPES_MODULE)
    if module is None or getattr(module, "__file__", None) is None:
        return None
    return {
        name: list(value)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, list) and all(isinstance(v, str) for v in value)
    }


def _write_cache(allowlist: frozenset[str]) -> None:
    path = cache_file()
    lists = _skops_lists()
    if path is None or lists is None:
        return
    versions = _versions_key()[0]
    data = {"format": CACHE_FORMAT, "versions": versions, "trackflow": sorted(allowlist), "skops": lists}
    if not _valid(data, versions):  # names this cache could not hold: rebuild every time instead
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        staging.write_text(json.dumps(data), encoding="utf-8")
        os.replace(staging, path)
    except OSError:  # a read-only home: no cache, nothing else changes
        pass
