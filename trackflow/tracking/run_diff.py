"""What differs between two runs: params, metrics, datasets, source and packages.

The code, data and package lines are the ones ``trackflow rerun`` and the web ui's compare
page print (:mod:`trackflow.tracking.differences`); params and metrics (latest values) are
added in front. Datasets are the inputs of each run and of the runs nested in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trackflow.tracking.differences import Difference, differences_between, mapping_differences
from trackflow.tracking.entities import Run, RunDataset

if TYPE_CHECKING:
    from trackflow.tracking.client import Client

__all__ = ["DIFF_KINDS", "RunDiff", "diff_runs", "input_datasets"]

DIFF_KINDS = ("params", "metrics", "code", "data", "packages")
"""The kinds of :class:`~trackflow.tracking.differences.Difference` a run diff reports, in order."""


@dataclass(frozen=True)
class RunDiff:
    """The differences from run ``a`` to run ``b`` (empty when they match on everything compared)."""

    a: Run
    b: Run
    differences: list[Difference] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Difference]:
        """The differences of one kind (``params``, ``metrics``, ``code``, ``data``, ``packages``)."""
        return [d for d in self.differences if d.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: both run ids and names, and every difference."""
        return {
            "a": {"run_id": self.a.id, "name": self.a.name},
            "b": {"run_id": self.b.id, "name": self.b.name},
            "differences": [d.to_dict() for d in self.differences],
        }


def input_datasets(client: Client, run: Run) -> list[RunDataset]:
    """The input datasets of ``run`` and of the runs nested in it (a flow run's task runs)."""
    found = list(client.get_datasets(run.id, role="input"))
    for child in client.get_child_runs(run.id):
        found.extend(client.get_datasets(child.id, role="input"))
    return found


def diff_runs(client: Client, a: Run, b: Run) -> RunDiff:
    """Params, latest metrics, code (commit, uncommitted changes, flow source), input data
    (fingerprints) and packages that differ from ``a`` to ``b``."""
    params = mapping_differences("params", _texts(a.params), _texts(b.params))
    metrics = mapping_differences("metrics", _texts(a.metrics), _texts(b.metrics))
    rest = differences_between(a, b, before_data=input_datasets(client, a), now_data=input_datasets(client, b))
    return RunDiff(a=a, b=b, differences=[*params, *metrics, *rest])


def _texts(values: Any) -> dict[str, str | None]:
    return {str(k): _text(v) for k, v in values.items()}


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)
