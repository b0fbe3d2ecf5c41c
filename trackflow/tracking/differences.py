"""What differs between two records of how a run ran: code, data and packages.

``trackflow rerun`` compares a past run with today's environment; ``trackflow ui``'s compare
page compares runs with each other. Both report the same :class:`Difference` lines, built by
the comparisons here:

* **code**: git commit, uncommitted changes, the flow's source hash (Prefect's flow version);
* **data**: datasets by where they came from (file path, or the name the run gave them) and
  their content fingerprint;
* **packages**: package versions and the Python version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Difference",
    "FLOW_VERSION_TAG",
    "mapping_differences",
    "run_code",
    "run_packages",
    "run_data",
    "differences_between",
]

FLOW_VERSION_TAG = "trackflow.flow_version"
"""The tag holding Prefect's flow version (a hash of its source file); written by the tracked flow."""


@dataclass(frozen=True)
class Difference:
    """One thing that is not as it was when the run ran."""

    kind: str
    what: str
    before: str | None
    now: str | None

    def describe(self) -> str:
        """One line, e.g. ``data: /data/churn.csv sha256:1f2e... -> sha256:9a8b...``."""
        return f"{self.kind}: {self.what}: {self.before or 'unknown'} -> {self.now or 'unknown'}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: kind, what, before, now, description."""
        return {"kind": self.kind, "what": self.what, "before": self.before, "now": self.now,
                "description": self.describe()}  # fmt: skip


def mapping_differences(
    kind: str, before: Mapping[str, str | None], now: Mapping[str, str | None], *, keys: Iterable[str] | None = None
) -> list[Difference]:
    """One :class:`Difference` per key (sorted) whose value differs; ``keys`` limits which (default: all of both)."""
    wanted = sorted(set(keys) if keys is not None else {*before, *now})
    return [Difference(kind, key, before.get(key), now.get(key)) for key in wanted if before.get(key) != now.get(key)]


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def run_code(run: Any) -> dict[str, str | None]:
    """What a run records about its code: ``git commit``, ``uncommitted changes``, ``flow source``."""
    return {
        "git commit": run.source_commit,
        "uncommitted changes": _flag(run.source_dirty),
        "flow source": run.tags.get(FLOW_VERSION_TAG),
    }


def run_packages(run: Any) -> dict[str, str | None]:
    """A run's recorded package versions plus ``python``."""
    found: dict[str, str | None] = dict(run.package_versions)
    if run.python_version:
        found["python"] = run.python_version
    return found


def run_data(datasets: Sequence[Any]) -> dict[str, str | None]:
    """The input datasets of a run (``RunDataset`` list) as where-from -> fingerprint.

    A file's key is its source (``file:///...``); any other dataset is keyed by the name the
    run logged it under.
    """
    found: dict[str, str | None] = {}
    for used in datasets:
        key = used.dataset.source if used.dataset.kind == "file" and used.dataset.source else used.name
        found.setdefault(key or used.dataset.name, used.dataset.fingerprint)
    return found


def differences_between(
    before: Any, now: Any, *, before_data: Sequence[Any] = (), now_data: Sequence[Any] = ()
) -> list[Difference]:
    """Code, data and package differences from run ``before`` to run ``now`` (datasets given as ``RunDataset`` lists)."""
    return [
        *mapping_differences("code", run_code(before), run_code(now)),
        *mapping_differences("data", run_data(before_data), run_data(now_data)),
        *mapping_differences("packages", run_packages(before), run_packages(now)),
    ]
