"""Runs as a pandas DataFrame (MLflow's column layout: params.x, metrics.y, tags.z)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from trackflow.tracking.entities import Run

__all__ = ["runs_to_frame"]

_ATTRIBUTES = ("run_id", "experiment", "run_name", "status", "start_time", "end_time", "parent_run_id", "kind")


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: attributes, then ``metrics.*``, ``params.*`` and ``tags.*`` columns."""
    records = []
    for run in runs:
        record: dict[str, object] = {
            "run_id": run.id,
            "experiment": run.experiment_name,
            "run_name": run.name,
            "status": run.status.value,
            "start_time": pd.Timestamp(run.start_time),
            "end_time": pd.Timestamp(run.end_time) if run.end_time else pd.NaT,
            "parent_run_id": run.parent_run_id,
            "kind": run.kind,
        }
        record.update({f"metrics.{k}": v for k, v in run.metrics.items()})
        record.update({f"params.{k}": v for k, v in run.params.items()})
        record.update({f"tags.{k}": v for k, v in run.tags.items()})
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        empty: pd.DataFrame = pd.DataFrame(columns=list(_ATTRIBUTES))
        return empty
    data_columns = sorted(c for c in frame.columns if c not in _ATTRIBUTES)
    ordered: pd.DataFrame = frame[[*_ATTRIBUTES, *data_columns]]
    return ordered
