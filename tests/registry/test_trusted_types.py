"""The skops allowlist cache: built once per set of versions, read back identical by later
processes (skops' own import-time lists too), and ignored when it could widen trust."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trackflow.registry import trusted_types

# Prints the allowlist, skops' default trusted lists and whether they came from the cache.
PROBE = """
import json, sys
from trackflow.registry import trusted_types
allow = trusted_types.trusted_skops_types()
from skops.io import _general, _numpy
lists = {n: sorted(getattr(_general, n)) for n in dir(_general) if n.endswith("_TYPE_NAMES")}
lists.update({n: sorted(getattr(_numpy, n)) for n in dir(_numpy) if n.endswith("_TYPE_NAMES")})
cached = getattr(sys.modules["skops.io._trusted_types"], "__file__", None) is None
sklearn_walked = "sklearn.cluster.tests" in sys.modules  # all_estimators() imports every package
print("PROBE " + json.dumps({"allow": sorted(allow), "lists": lists, "cached": cached, "walked": sklearn_walked}))
"""


def _probe(cache: Path, **extra: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKFLOW_")}
    env.update(TRACKFLOW_CACHE_DIR=str(cache), TRACKFLOW_HOME=str(cache.parent / "home"), **extra)
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    found: dict[str, object] = json.loads(lines[-1][len("PROBE "):])
    return found


def _cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("skops-trusted-*.json"))


def test_built_once_then_read_back_identical(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _probe(cache)
    assert first["cached"] is False and first["walked"] is True
    assert len(_cache_files(cache)) == 1
    second = _probe(cache)
    assert second["cached"] is True and second["walked"] is False  # no walk over scikit-learn's modules
    assert second["allow"] == first["allow"] and second["lists"] == first["lists"]
    assert "sklearn.ensemble._forest.RandomForestClassifier" in second["allow"]  # type: ignore[operator]


def test_a_widening_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    built = _probe(cache)
    (path,) = _cache_files(cache)
    data = json.loads(path.read_text())
    data["trackflow"].append("builtins.eval")
    data["skops"]["SKLEARN_ESTIMATOR_TYPE_NAMES"].append("os.system")
    path.write_text(json.dumps(data))
    again = _probe(cache)
    assert again["cached"] is False and "builtins.eval" not in again["allow"]  # type: ignore[operator]
    assert again["allow"] == built["allow"]
    assert "os.system" not in json.loads(path.read_text())["skops"]["SKLEARN_ESTIMATOR_TYPE_NAMES"]


@pytest.mark.parametrize(
    "change",
    [lambda d: d.update(versions={**d["versions"], "scikit-learn": "0.0"}), lambda d: d.update(format=99),
     lambda d: d["skops"].update(OTHER_NAMES=["sklearn.x.Y"]), lambda d: d.update(trackflow=[]),
     lambda d: d["skops"].update(NUMPY_UFUNC_TYPE_NAMES=["scipy.special.x"])],
)  # fmt: skip
def test_invalid_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TRACKFLOW_CACHE_DIR", str(tmp_path))
    versions = trusted_types._versions_key()[0]
    good = {"format": trusted_types.CACHE_FORMAT, "versions": versions, "trackflow": ["sklearn.svm._classes.SVC"],
            "skops": {"NUMPY_UFUNC_TYPE_NAMES": ["numpy.add"], "PRIMITIVE_TYPE_NAMES": ["builtins.int"]}}
    assert trusted_types._valid(good, versions)
    bad = json.loads(json.dumps(good))
    change(bad)
    assert not trusted_types._valid(bad, versions)
    path = trusted_types.cache_file()
    assert path is not None and path.parent == tmp_path
    path.write_text(json.dumps(bad))
    assert trusted_types._read_cache() is None
    path.write_text("{not json")
    assert trusted_types._read_cache() is None


def test_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKFLOW_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TRACKFLOW_SKOPS_CACHE", "0")
    assert trusted_types.cache_file() is None
    found = _probe(tmp_path / "off", TRACKFLOW_SKOPS_CACHE="0")
    assert found["cached"] is False and not _cache_files(tmp_path / "off")
