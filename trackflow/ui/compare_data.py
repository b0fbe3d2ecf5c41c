"""The data of the compare page: 2-20 runs side by side (the page and ``/api/compare`` share it).

* params: one row per key with each run's value and whether they differ;
* metrics: one row per key with each run's last / min / max and the value at a chosen step
  (the last value logged at or before it);
* histories: every logged value of every metric per run, as ``[step, value, seconds since
  the run started]`` points (for the overlaid charts: x = step or relative time), thinned
  evenly past :data:`MAX_POINTS` per series (``total`` says how many were logged);
* datasets: what each run (and its task runs) read and wrote (name, role, fingerprint, shape);
* differences: code, data and package differences of each run from the first (the same
  comparison ``trackflow rerun`` reports, see :mod:`trackflow.tracking.differences`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.client import Client
from trackflow.tracking.differences import differences_between
from trackflow.tracking.entities import Run, RunDataset
from trackflow.tracking.histories import MetricPoint, metric_histories

__all__ = ["MIN_RUNS", "MAX_RUNS", "MAX_POINTS", "parse_run_ids", "compare_runs", "run_summary"]

MIN_RUNS = 2
MAX_RUNS = 20
MAX_POINTS = 2000
"""Points per charted series at most: a longer history is thinned evenly (first and last kept);
last / min / max / at step are always computed from the whole history."""


def parse_run_ids(text: str | None) -> list[str]:
    """The run ids of ``?runs=a,b,...`` (duplicates dropped); 2-20 of them, else InvalidInputError."""
    ids = list(dict.fromkeys(part.strip() for part in (text or "").split(",") if part.strip()))
    if not MIN_RUNS <= len(ids) <= MAX_RUNS:
        raise InvalidInputError(
            f"Compare needs between {MIN_RUNS} and {MAX_RUNS} runs, got {len(ids)}.",
            hint="Pass run ids separated by commas: /compare?runs=<id>,<id>",
        )
    return ids


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _at_step(history: Sequence[MetricPoint], step: int) -> float | None:
    """The value of the last point logged at or before ``step`` (None if the metric starts later)."""
    found: float | None = None
    for point_step, value, _timestamp in history:
        if point_step <= step:
            found = value
    return _finite(found) if found is not None else None


def _summary(history: Sequence[MetricPoint], step: int | None) -> dict[str, Any]:
    values = [p[1] for p in history if math.isfinite(p[1])]
    return {
        "last": _finite(history[-1][1]) if history else None,
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "at_step": _at_step(history, step) if step is not None and history else None,
        "steps": len(history),
    }


def _thin(history: Sequence[MetricPoint]) -> Sequence[MetricPoint]:
    """At most MAX_POINTS points, evenly spaced, the first and the last kept."""
    if len(history) <= MAX_POINTS:
        return history
    kept = list(history[:: math.ceil(len(history) / (MAX_POINTS - 1))])
    if kept[-1] is not history[-1]:
        kept.append(history[-1])
    return kept


def run_summary(run: Run) -> dict[str, Any]:
    """What the compare page shows of a run itself."""
    return {
        "id": run.id, "name": run.name, "status": run.status.value, "experiment": run.experiment_name,
        "kind": run.kind, "start_time": run.start_time.isoformat(),
        "duration_s": run.duration_seconds, "source_commit": run.source_commit,
    }  # fmt: skip


def _dataset(used: RunDataset, by: Run) -> dict[str, Any]:
    ds = used.dataset
    return {"name": used.name or ds.name, "role": used.role, "fingerprint": ds.fingerprint, "rows": ds.num_rows,
            "columns": ds.num_columns, "source": ds.source, "ref": ds.ref, "run_name": by.name}  # fmt: skip


def _used_data(client: Client, run: Run) -> list[tuple[Run, RunDataset]]:
    """What the run and its nested runs (a flow run's task runs) read and wrote, as ``trackflow rerun`` sees it."""
    return [(item, used) for item in [run, *client.get_child_runs(run.id)] for used in client.get_datasets(item.id)]


def _histories(client: Client, runs: Sequence[Run]) -> dict[str, dict[str, list[MetricPoint]]]:
    """metric key -> run id -> history (each run's own keys only), read in one go."""
    by_run = metric_histories(client, [r.id for r in runs])
    found: dict[str, dict[str, list[MetricPoint]]] = {}
    for run in runs:
        for key, points in sorted(by_run.get(run.id, {}).items()):
            found.setdefault(key, {})[run.id] = points
    return found


def compare_runs(client: Client, run_ids: Sequence[str], *, step: int | None = None) -> dict[str, Any]:
    """Everything the compare page shows for ``run_ids`` (2-20), in their order."""
    if not MIN_RUNS <= len(run_ids) <= MAX_RUNS:
        raise InvalidInputError(f"Compare needs between {MIN_RUNS} and {MAX_RUNS} runs, got {len(run_ids)}.")
    if step is not None and step < 0:
        raise InvalidInputError(f"step must be 0 or more, got {step}.")
    runs = client.get_runs(run_ids)
    known = {r.id for r in runs}
    missing = [r for r in run_ids if r not in known]
    if missing:
        raise NotFoundError(f"Run {missing[0]} does not exist.", hint="Pick runs from an experiment's runs page.")
    param_keys = sorted({k for r in runs for k in r.params})
    params = []
    for key in param_keys:
        values = [r.params.get(key) for r in runs]
        params.append({"key": key, "values": values, "differs": len(set(values)) > 1})
    histories = _histories(client, runs)
    metrics = []
    for key, by_run in sorted(histories.items()):
        cells = [_summary(by_run.get(r.id, []), step) if r.id in by_run else None for r in runs]
        lasts = {c["last"] for c in cells if c is not None}
        metrics.append({"key": key, "runs": cells, "differs": len(lasts) > 1 or None in cells})
    starts = {r.id: int(r.start_time.timestamp() * 1000) for r in runs}
    series = {
        key: [
            {"run_id": run_id, "total": len(history),
             "points": [[step_, _finite(value), (timestamp - starts[run_id]) / 1000]
                        for step_, value, timestamp in _thin(history)]}
            for run_id, history in by_run.items()
        ]
        for key, by_run in histories.items()
    }  # fmt: skip
    datasets = {r.id: _used_data(client, r) for r in runs}
    inputs = {run_id: [d for _by, d in used if d.role == "input"] for run_id, used in datasets.items()}
    base = runs[0]
    differences = [
        {"run_id": r.id, "differences": [d.to_dict() for d in differences_between(
            base, r, before_data=inputs[base.id], now_data=inputs[r.id])]}
        for r in runs[1:]
    ]  # fmt: skip
    return {
        "runs": [run_summary(r) for r in runs],
        "step": step,
        "max_step": max((p[0] for by_run in histories.values() for h in by_run.values() for p in h), default=0),
        "params": params,
        "metrics": metrics,
        "histories": series,
        "datasets": {run_id: [_dataset(d, by) for by, d in used] for run_id, used in datasets.items()},
        "differences": differences,
    }
