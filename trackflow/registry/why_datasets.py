"""The datasets a model version trained on, and what changed since its predecessor's.

The training datasets of a version are the input datasets of its run (the task run that
fitted it); when that run recorded none, the inputs of every run of its pipeline (the
top-level run and the runs nested in it). Two versions' datasets are matched by the name
the runs gave them (a lone unmatched pair is matched too), then compared by fingerprint,
row and column counts and the column profiles recorded at logging time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from trackflow.registry.why_report import ColumnDrift, DatasetChange
from trackflow.tracking.entities import Dataset

__all__ = ["pipeline_run_ids", "training_datasets", "dataset_changes", "column_drift", "SHIFT_THRESHOLD"]

SHIFT_THRESHOLD = 0.1
"""A numeric column's mean moving by at least this many standard deviations is reported as ``shift``."""


def pipeline_run_ids(client: Any, top_id: str) -> list[str]:
    """The top-level run ``top_id`` and every run nested in it (task runs, subflows), parents first."""
    found, frontier = [top_id], [top_id]
    while frontier and len(found) < 10_000:
        children = [c.id for parent in frontier for c in client.get_child_runs(parent) if c.id not in found]
        found += children
        frontier = children
    return found


def training_datasets(client: Any, run_id: str | None, top_id: str | None) -> list[tuple[str, Dataset]]:
    """``(name, dataset)`` the version's run used as input, else those of its whole pipeline (by fingerprint, once)."""
    if run_id is None:
        return []
    found = [(d.name, d.dataset) for d in client.get_datasets(run_id, role="input")]
    if not found and top_id is not None:
        for rid in pipeline_run_ids(client, top_id):
            found += [(d.name, d.dataset) for d in client.get_datasets(rid, role="input")]
    seen: set[str] = set()
    unique = []
    for name, dataset in found:
        if dataset.fingerprint not in seen:
            seen.add(dataset.fingerprint)
            unique.append((name or dataset.name, dataset))
    return unique


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _columns(dataset: Dataset) -> dict[str, Mapping[str, Any]]:
    profile = dataset.profile.get("columns") if isinstance(dataset.profile, Mapping) else None
    if isinstance(profile, Mapping) and profile:
        return {str(k): v if isinstance(v, Mapping) else {} for k, v in profile.items()}
    return {c["name"]: {"dtype": c.get("dtype")} for c in dataset.schema if isinstance(c, Mapping) and "name" in c}


def _number(stats: Mapping[str, Any], key: str) -> float | None:
    value = stats.get(key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(float(value)) else None


def _column_change(column: str, before: Mapping[str, Any], now: Mapping[str, Any]) -> ColumnDrift | None:
    if before.get("dtype") != now.get("dtype"):
        return ColumnDrift(column, "dtype", _text(before.get("dtype")), _text(now.get("dtype")))
    mean_before, mean_now, std = _number(before, "mean"), _number(now, "mean"), _number(before, "std")
    if mean_before is not None and mean_now is not None and mean_before != mean_now:
        score = (mean_now - mean_before) / std if std else None
        if score is None or abs(score) >= SHIFT_THRESHOLD:
            return ColumnDrift(column, "shift", _text(mean_before), _text(mean_now), score)
    if before.get("null_count") != now.get("null_count") and "null_count" in before and "null_count" in now:
        return ColumnDrift(column, "nulls", _text(before.get("null_count")), _text(now.get("null_count")))
    if "distinct" in before and before.get("distinct") != now.get("distinct"):
        return ColumnDrift(column, "categories", _text(before.get("distinct")), _text(now.get("distinct")))
    return None


def column_drift(before: Dataset, now: Dataset) -> tuple[ColumnDrift, ...]:
    """The columns added, removed or changed (dtype, mean shift, nulls, categories) from ``before`` to ``now``."""
    old, new = _columns(before), _columns(now)
    drift = [ColumnDrift(c, "added", None, _text(new[c].get("dtype"))) for c in new if c not in old]
    drift += [ColumnDrift(c, "removed", _text(old[c].get("dtype")), None) for c in old if c not in new]
    for column in (c for c in new if c in old):
        change = _column_change(column, old[column], new[column])
        if change is not None:
            drift.append(change)
    return tuple(drift)


def _pairs(
    current: Sequence[tuple[str, Dataset]], previous: Sequence[tuple[str, Dataset]]
) -> list[tuple[str, Dataset, Dataset | None]]:
    by_name = {name: ds for name, ds in previous}
    matched = [(name, ds, by_name.get(name)) for name, ds in current]
    unmatched_now = [i for i, (_, _, old) in enumerate(matched) if old is None]
    used = {name for name, _, old in matched if old is not None}
    unmatched_before = [ds for name, ds in previous if name not in used]
    if len(unmatched_now) == 1 and len(unmatched_before) == 1:
        name, ds, _ = matched[unmatched_now[0]]
        matched[unmatched_now[0]] = (name, ds, unmatched_before[0])
    return matched


def dataset_changes(
    current: Sequence[tuple[str, Dataset]], previous: Sequence[tuple[str, Dataset]] | None
) -> tuple[DatasetChange, ...]:
    """Each of ``current`` against its counterpart in ``previous`` (None: there is no predecessor)."""
    if previous is None:
        return tuple(
            DatasetChange(name, ds.fingerprint, ds.num_rows, ds.num_columns, "first") for name, ds in current
        )
    changes = []
    for name, ds, old in _pairs(current, previous):
        if old is None:
            changes.append(DatasetChange(name, ds.fingerprint, ds.num_rows, ds.num_columns, "new"))
            continue
        same = old.fingerprint == ds.fingerprint
        changes.append(
            DatasetChange(
                name, ds.fingerprint, ds.num_rows, ds.num_columns, "unchanged" if same else "changed",
                previous_fingerprint=old.fingerprint, previous_rows=old.num_rows, previous_columns=old.num_columns,
                drift=() if same else column_drift(old, ds),
            )
        )
    return tuple(changes)
